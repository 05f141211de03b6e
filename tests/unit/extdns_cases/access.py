"""source/service_test.go: the ``access`` and ``endpoints-type`` annotations' targets.

NodePort cases (TestServiceSourceNodePortServices): the nodes as (name, [(type, address)],
unschedulable), the ``access`` annotation (None: absent), exposeInternalIPv6,
ignoreUnscheduledNodes, and the A and AAAA targets external-dns publishes.  Headless cases
(TestHeadlessServices, TestGetTargetsForDomain_*): the ``endpoints-type`` annotation, the
endpoint's addresses (the pod IP), the pod's hostIP, its node's addresses,
exposeInternalIPv6, and the targets.  external-dns writes IPv6 as given (``2001:DB8::1``);
the targets here are compared as addresses.
"""

from __future__ import annotations

from typing import NamedTuple

Node = tuple[str, tuple[tuple[str, str], ...], bool]
EXT, INT = "ExternalIP", "InternalIP"


class NodePortCase(NamedTuple):
    upstream: str
    nodes: tuple[Node, ...]
    access: str | None
    expose_internal_ipv6: bool
    exclude_unschedulable: bool
    a: tuple[str, ...]
    aaaa: tuple[str, ...]


class HeadlessCase(NamedTuple):
    upstream: str
    endpoints_type: str | None
    addresses: tuple[str, ...]
    host_ip: str
    node: tuple[tuple[str, str], ...] | None
    expose_internal_ipv6: bool
    targets: tuple[str, ...]


_N = "TestServiceSourceNodePortServices"
_H = "TestHeadlessServices"
DUAL = (
    (
        "node1",
        ((EXT, "54.10.11.1"), (INT, "10.0.1.1"), (EXT, "2001:DB8::1"), (INT, "2001:DB8::2")),
        False,
    ),
    (
        "node2",
        ((EXT, "54.10.11.2"), (INT, "10.0.1.2"), (EXT, "2001:DB8::3"), (INT, "2001:DB8::4")),
        False,
    ),
)
PRIVATE_V6 = (
    ("node1", ((EXT, "54.10.11.1"), (INT, "10.0.1.1"), (INT, "2001:DB8::1")), False),
    ("node2", ((EXT, "54.10.11.2"), (INT, "10.0.1.2"), (INT, "2001:DB8::2")), False),
)

NODE_PORT: tuple[NodePortCase, ...] = (
    NodePortCase(
        f"{_N}/annotated NodePort services return an endpoint with IP addresses of the "
        "cluster's nodes",
        DUAL,
        None,
        False,
        False,
        ("54.10.11.1", "54.10.11.2"),
        ("2001:DB8::1", "2001:DB8::3"),
    ),
    NodePortCase(
        f"{_N}/annotated NodePort services return an endpoint with IP addresses of the "
        "private cluster's nodes",
        (
            ("node1", ((INT, "10.0.1.1"), (INT, "2001:DB8::1")), False),
            ("node2", ((INT, "10.0.1.2"), (INT, "2001:DB8::2")), False),
        ),
        None,
        False,
        False,
        ("10.0.1.1", "10.0.1.2"),
        ("2001:DB8::1", "2001:DB8::2"),
    ),
    NodePortCase(
        f"{_N}/access=private annotation NodePort services return an endpoint with private "
        "IP addresses of the cluster's nodes",
        PRIVATE_V6,
        "private",
        False,
        False,
        ("10.0.1.1", "10.0.1.2"),
        ("2001:DB8::1", "2001:DB8::2"),
    ),
    NodePortCase(
        f"{_N}/access=public annotation NodePort services return an endpoint with external "
        "IP addresses of the cluster's nodes if exposeInternalIPv6 is unset",
        DUAL,
        "public",
        False,
        False,
        ("54.10.11.1", "54.10.11.2"),
        ("2001:DB8::1", "2001:DB8::3"),
    ),
    NodePortCase(
        f"{_N}/access=public annotation NodePort services return an endpoint with public IP "
        "addresses of the cluster's nodes if exposeInternalIPv6 is set to true",
        DUAL,
        "public",
        True,
        False,
        ("54.10.11.1", "54.10.11.2"),
        ("2001:DB8::1", "2001:DB8::2", "2001:DB8::3", "2001:DB8::4"),
    ),
    NodePortCase(
        f"{_N}/NodePort services ignore unschedulable node",
        (
            ("node1", DUAL[0][1], True),
            ("node2", DUAL[1][1], False),
        ),
        "public",
        False,
        True,
        ("54.10.11.2",),
        ("2001:DB8::3",),
    ),
)

HEADLESS: tuple[HeadlessCase, ...] = (
    HeadlessCase(
        f"{_H}/annotated Headless services return IPv4 targets from node external IP if "
        "endpoints-type annotation is set",
        "NodeExternalIP",
        ("1.1.1.1",),
        "",
        ((EXT, "1.2.3.4"),),
        False,
        ("1.2.3.4",),
    ),
    HeadlessCase(
        f"{_H}/annotated Headless services return only external IPv6 targets from node IP if "
        "endpoints-type annotation is set and exposeInternalIPv6 flag is unset",
        "NodeExternalIP",
        ("2001:db8::1",),
        "",
        ((INT, "2001:db8::4"), (EXT, "2001:db8::5")),
        False,
        ("2001:db8::5",),
    ),
    HeadlessCase(
        f"{_H}/annotated Headless services return IPv6 targets from node external IP if "
        "endpoints-type annotation is set and exposeInternalIPv6 flag set",
        "NodeExternalIP",
        ("2001:db8::1",),
        "",
        ((INT, "2001:db8::4"),),
        True,
        ("2001:db8::4",),
    ),
    HeadlessCase(
        f"{_H}/annotated Headless services return dual-stack targets from node external IP "
        "if endpoints-type annotation is set and exposeInternalIPv6 flag set",
        "NodeExternalIP",
        ("1.1.1.1",),
        "",
        ((EXT, "1.2.3.4"), (INT, "2001:db8::4")),
        True,
        ("1.2.3.4", "2001:db8::4"),
    ),
    HeadlessCase(
        f"{_H}/annotated Headless services return IPv4 targets from hostIP if endpoints-type "
        "annotation is set",
        "HostIP",
        ("1.1.1.1",),
        "1.2.3.4",
        None,
        False,
        ("1.2.3.4",),
    ),
    HeadlessCase(
        f"{_H}/annotated Headless services return IPv6 targets from hostIP if endpoints-type "
        "annotation is set",
        "HostIP",
        ("2001:db8::1",),
        "2001:db8::4",
        None,
        False,
        ("2001:db8::4",),
    ),
    HeadlessCase(
        f"{_H}/headless service with endpoints-type annotation is in the scope of "
        "serviceTypeFilter",
        "NodeExternalIP",
        ("2001:db8::1",),
        "1.2.3.4",
        ((EXT, "1.2.3.4"), (INT, "10.0.10.12")),
        False,
        ("1.2.3.4",),
    ),
    HeadlessCase(
        "TestGetTargetsForDomain_HostIP",
        "HostIP",
        ("10.0.0.1",),
        "192.168.1.100",
        None,
        False,
        ("192.168.1.100",),
    ),
    HeadlessCase(
        "TestGetTargetsForDomain_NodeExternalIP",
        "NodeExternalIP",
        ("10.0.0.1",),
        "",
        ((EXT, "203.0.113.10"), (INT, "10.0.0.10")),
        False,
        ("203.0.113.10",),
    ),
    HeadlessCase(
        "TestGetTargetsForDomain_EmptyAddresses",
        "IPv4",
        (),
        "",
        None,
        False,
        (),
    ),
)
