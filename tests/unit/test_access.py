"""The access and endpoints-type annotations: external-dns's service_test.go cases as data.

The rule turns Node and Pod addresses into a Service's targets (NodePort, headless); the
addresses are compared as addresses, since external-dns keeps IPv6 as written.
"""

from __future__ import annotations

import ipaddress

import pytest

from dnssync.sources.access import (
    NodeAddresses,
    access_value,
    endpoints_type_value,
    node_addresses,
    node_port_targets,
    pod_targets,
)
from tests.unit.extdns_cases import access


def ips(values: tuple[str, ...]) -> list[tuple[int, int]]:
    """Addresses as (version, number), sorted: IPv6 compares however it is written."""
    return sorted((a.version, int(a)) for a in map(ipaddress.ip_address, values))


def split(values: tuple[str, ...]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    got = ips(values)
    return [a for a in got if a[0] == 4], [a for a in got if a[0] == 6]


@pytest.mark.parametrize("case", access.NODE_PORT, ids=[c.upstream for c in access.NODE_PORT])
def test_node_port_targets(case: access.NodePortCase) -> None:
    """extractNodePortTargets: access picks the nodes' external or internal addresses."""
    nodes = [NodeAddresses(n, addrs, unsched) for n, addrs, unsched in case.nodes]
    got = node_port_targets(
        nodes,
        case.access,
        expose_internal_ipv6=case.expose_internal_ipv6,
        exclude_unschedulable=case.exclude_unschedulable,
    )
    assert split(got) == (ips(case.a), ips(case.aaaa))


@pytest.mark.parametrize("case", access.HEADLESS, ids=[c.upstream for c in access.HEADLESS])
def test_headless_pod_targets(case: access.HeadlessCase) -> None:
    """getTargetsForDomain: endpoints-type picks node external IPs, the host IP or the pod IP."""
    node = None if case.node is None else NodeAddresses("node", case.node)
    got = pod_targets(
        case.endpoints_type,
        addresses=case.addresses,
        host_ip=case.host_ip,
        node=node,
        expose_internal_ipv6=case.expose_internal_ipv6,
    )
    assert ips(got) == ips(case.targets)


def test_a_pod_target_annotation_wins() -> None:
    """A Pod's own target annotation beats every endpoints-type."""
    for kind in (None, "HostIP", "NodeExternalIP"):
        got = pod_targets(
            kind, addresses=("10.0.0.1",), host_ip="10.1.1.1", pod_target=("9.9.9.9",)
        )
        assert got == ("9.9.9.9",)


def test_node_object_is_read_leniently() -> None:
    """A Node's addresses and unschedulable flag are read; odd entries are skipped, not fatal."""
    obj = {
        "metadata": {"name": "n1"},
        "spec": {"unschedulable": True},
        "status": {"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}, {"type": 5}, "x"]},
    }
    assert node_addresses(obj) == NodeAddresses("n1", (("ExternalIP", "1.2.3.4"),), True)
    assert node_addresses({"status": "nonsense"}) == NodeAddresses("", ())


def test_unknown_values_use_the_default_and_say_so() -> None:
    """external-dns ignores an unknown value silently; dnssync uses the default with one line."""
    assert access_value("public") == ("public", "")
    assert access_value(None) == (None, "")
    assert access_value("internal") == (
        None,
        "'internal' is not 'public' or 'private'; the default is used",
    )
    assert endpoints_type_value("HostIP") == ("HostIP", "")
    value, warning = endpoints_type_value("hostip")
    assert value is None and "'hostip' is not 'NodeExternalIP' or 'HostIP'" in warning
