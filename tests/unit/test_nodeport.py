"""NodePort Services: targets from the Nodes (by the access annotation) and external-dns's SRV.

The cases are external-dns's TestServiceSourceNodePortServices (tests/unit/extdns_cases/
access.py) run through the Service converter with a lookup over Node objects, and through the
object index, where a Node's change converts exactly the NodePort Services again.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from dnssync.model import ObjectRef
from dnssync.sources.annotations import DEFAULT_PREFIX as P
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import ObjectIndex
from dnssync.sources.lookup import Recorder
from dnssync.sources.services import service_endpoints
from tests.unit.extdns_cases import access


def node(
    name: str, addresses: tuple[tuple[str, str], ...], unschedulable: bool = False
) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": unschedulable},
        "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]},
    }


def node_port(name: str = "foo", **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "testing",
            "annotations": {
                P + "hostname": "foo.example.org.",
                **{P + k: v for k, v in annotations.items()},
            },
        },
        "spec": {
            "type": "NodePort",
            "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "nodePort": 30192, "protocol": "TCP"}],
        },
    }


def norm(values: tuple[str, ...]) -> list[str]:
    return sorted(str(ipaddress.ip_address(v)) for v in values)


def run(svc: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, ...]]:
    objects = {ObjectRef("node", "", n["metadata"]["name"]): n for n in nodes}
    result = service_endpoints(svc, SourceOptions(), Recorder(objects))
    assert result.errors == (), result.errors
    return {(e.name, e.type): e.targets for e in result.endpoints}


#: external-dns's unschedulable case runs with --exclude-unschedulable (its default, and dnssync's).
CASES = [c for c in access.NODE_PORT if not c.expose_internal_ipv6]


@pytest.mark.parametrize("case", CASES, ids=[c.upstream for c in CASES])
def test_node_port_service_cases(case: access.NodePortCase) -> None:
    """TestServiceSourceNodePortServices: A/AAAA from the nodes by access, and the SRV record."""
    annotations = {} if case.access is None else {"access": case.access}
    got = run(node_port(**annotations), [node(*n) for n in case.nodes])
    assert norm(got[("foo.example.org", "A")]) == norm(case.a)
    assert norm(got[("foo.example.org", "AAAA")]) == norm(case.aaaa)
    assert got[("_foo._tcp.foo.example.org", "SRV")] == ("0 50 30192 foo.example.org",)


def test_local_traffic_policy_is_reported() -> None:
    """externalTrafficPolicy Local wants the nodes of its pods: one line, no records."""
    svc = node_port()
    svc["spec"]["externalTrafficPolicy"] = "Local"
    objects = {ObjectRef("node", "", "n1"): node("n1", (("ExternalIP", "192.0.2.1"),))}
    result = service_endpoints(svc, SourceOptions(), Recorder(objects))
    assert result.endpoints == ()
    assert "externalTrafficPolicy Local" in str(result.errors[0])


def test_unknown_access_uses_the_default_and_says_so() -> None:
    """access: internal is no value external-dns knows: the default addresses, one line."""
    objects = {
        ObjectRef("node", "", "n1"): node(
            "n1", (("ExternalIP", "192.0.2.1"), ("InternalIP", "10.0.0.1"))
        )
    }
    result = service_endpoints(node_port(access="internal"), SourceOptions(), Recorder(objects))
    assert {(e.name, e.targets) for e in result.endpoints if e.type == "A"} == {
        ("foo.example.org", ("192.0.2.1",))
    }
    assert "'internal' is not 'public' or 'private'" in str(result.errors[0])


def test_a_node_change_converts_the_node_port_services_again() -> None:
    """A Node's new address reaches the NodePort Service; a LoadBalancer Service is not redone."""
    index = ObjectIndex()
    view = index.view(SourceOptions(), {"service"})
    lb = {
        "metadata": {
            "name": "lb",
            "namespace": "testing",
            "annotations": {P + "hostname": "lb.example.org"},
        },
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}},
    }
    index.upsert("service", lb)
    index.upsert("service", node_port())
    index.upsert("node", node("n1", (("ExternalIP", "192.0.2.1"),)))
    view.take_changes()
    index.upsert("node", node("n1", (("ExternalIP", "192.0.2.2"),)))
    assert view.take_changes() == {ObjectRef("service", "testing", "foo")}
    a = {e.name: e.targets for e in view.endpoints() if e.type == "A"}
    assert a == {"foo.example.org": ("192.0.2.2",), "lb.example.org": ("192.0.2.9",)}
    index.delete("node", node("n1", ()))
    assert {e.name for e in view.endpoints() if e.type == "A"} == {"lb.example.org"}


def test_a_node_heartbeat_converts_nothing_again() -> None:
    """A Node whose resourceVersion alone moved (a heartbeat) re-converts no Service."""
    index = ObjectIndex()
    view = index.view(SourceOptions(), {"service"})
    index.upsert("service", node_port())
    beat = node("n1", (("ExternalIP", "192.0.2.1"),))
    index.upsert("node", {**beat, "metadata": {**beat["metadata"], "resourceVersion": "1"}})
    converted: list[ObjectRef] = []
    upsert = view.upsert

    def counting(ref: ObjectRef, obj: Any) -> None:
        converted.append(ref)
        upsert(ref, obj)

    view.upsert = counting  # type: ignore[method-assign]
    index.upsert("node", {**beat, "metadata": {**beat["metadata"], "resourceVersion": "2"}})
    assert [r for r in converted if r.kind == "service"] == []
    assert index.objects[ObjectRef("node", "", "n1")]["metadata"]["resourceVersion"] == "2"


def test_an_unknown_access_value_holds_no_delete() -> None:
    """The unknown access value is reported as Ignored: the target's deletes go on."""
    objects = {ObjectRef("node", "", "n1"): node("n1", (("ExternalIP", "192.0.2.1"),))}
    result = service_endpoints(node_port(access="internal"), SourceOptions(), Recorder(objects))
    assert [type(e).__name__ for e in result.errors] == ["Ignored"]
