"""The other route kinds (external-dns's cases as data), address types, and the Gateway lookup.

Upstream: external-dns v0.22.0 source/gateway_{grpcroute,tlsroute,udproute}_test.go (their
``FQDN template`` endpoint has no counterpart: dnssync offers no templates).  The rest is
dnssync's own: what each kind of Gateway address becomes, what a route's own target
annotation does, and that a Gateway's changes reach exactly the routes that use it.
"""

from __future__ import annotations

import pytest

from dnssync.model import ObjectRef
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import ObjectIndex
from tests.unit.gateway_cases import (
    PREFIX,
    Case,
    Want,
    gateway,
    listener,
    parent,
    route,
    run,
)

IPS = ("10.64.0.1", "10.64.0.2")
ANNOTATED = {f"{PREFIX}hostname": "api-annotation.foobar.internal"}


def _upstream_kind_case(kind: str, protocol: str, hostnames: list[str] | None) -> Case:
    want: Want = [("api-annotation.foobar.internal", "A", IPS, None)]
    if hostnames:
        want.append(("api-hostnames.foobar.internal", "A", IPS, None))
    return Case(
        f"TestGateway{kind}SourceEndpoints",
        [gateway("default", "internal", [listener(protocol)], IPS)],
        [
            route(
                "default",
                "api",
                hostnames=hostnames,
                parents=[parent("default", "internal")],
                annotations=ANNOTATED,
                kind=kind,
            )
        ],
        want,
    )


KIND_CASES = [
    ("grpcroute", _upstream_kind_case("GRPCRoute", "HTTPS", ["api-hostnames.foobar.internal"])),
    ("tlsroute", _upstream_kind_case("TLSRoute", "TLS", ["api-hostnames.foobar.internal"])),
    ("udproute", _upstream_kind_case("UDPRoute", "UDP", None)),
    ("tcproute", _upstream_kind_case("TCPRoute", "TCP", None)),
    ("tcproute", _upstream_kind_case("TCPRoute", "TLS", None)),  # TestGatewayMatchingProtocol
]


@pytest.mark.parametrize(("ref", "case"), KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_external_dns_route_kind_cases(ref: str, case: Case) -> None:
    """Each kind's upstream case: annotation and spec names, both Gateway addresses."""
    assert run(ref, case) == (case.want, [])


def test_a_route_kind_attaches_only_to_its_protocol() -> None:
    """A UDPRoute does not attach to a TCP listener, nor a GRPCRoute to a TLS one."""
    for ref, kind, protocol in (("udproute", "UDPRoute", "TCP"), ("grpcroute", "GRPCRoute", "TLS")):
        case = Case(
            "dnssync",
            [gateway("default", "gw", [listener(protocol)], IPS)],
            [
                route(
                    "default",
                    "r",
                    parents=[parent("default", "gw")],
                    annotations=ANNOTATED,
                    kind=kind,
                )
            ],
            [],
        )
        assert run(ref, case) == ([], [])


ADDRESS_TYPES = [
    (
        "IPAddress v4 and v6 -> A and AAAA",
        ["192.0.2.1", "2001:db8::1"],
        "IPAddress",
        [("A", ("192.0.2.1",)), ("AAAA", ("2001:db8::1",))],
    ),
    ("Hostname -> CNAME", ["lb.example.net"], "Hostname", [("CNAME", ("lb.example.net",))]),
    (
        "NamedAddress with a host name -> CNAME",
        ["gw.example.net"],
        "NamedAddress",
        [("CNAME", ("gw.example.net",))],
    ),
    (
        "an IP beside a host name: the IP wins",
        ["lb.example.net", "192.0.2.1"],
        "",
        [("A", ("192.0.2.1",))],
    ),
]


@pytest.mark.parametrize(
    ("desc", "values", "type_", "want"), ADDRESS_TYPES, ids=[a[0] for a in ADDRESS_TYPES]
)
def test_gateway_address_types(
    desc: str, values: list[str], type_: str, want: list[tuple[str, tuple[str, ...]]]
) -> None:
    """status.addresses: IPs are A/AAAA, other values a CNAME; addresses win over host names."""
    case = Case(
        "dnssync",
        [gateway("default", "gw", [listener()], values, address_type=type_)],
        [route("default", "r", hostnames=["app.example.org"], parents=[parent("default", "gw")])],
        [],
    )
    got, errors = run("httproute", case)
    assert [(g[1], g[2]) for g in got] == want and not errors


def test_a_gateway_without_address_is_reported_and_defaults_apply() -> None:
    """No address yet: an error naming the Gateway; with default targets, those are used."""
    gw = gateway("default", "gw", [listener()])
    rt = route("default", "r", hostnames=["app.example.org"], parents=[parent("default", "gw")])
    got, errors = run("httproute", Case("dnssync", [gw], [rt], []))
    assert got == [] and len(errors) == 1 and "Gateway default/gw has no address yet" in errors[0]
    options = SourceOptions(annotation_prefix=PREFIX, default_targets=("192.0.2.9",))
    got, errors = run("httproute", Case("dnssync", [gw], [rt], [], options=options))
    assert got == [("app.example.org", "A", ("192.0.2.9",), None)] and not errors


def test_a_routes_own_target_annotation_is_ignored_and_said_so() -> None:
    """external-dns reads target from the Gateway only; on a route it is reported, not used."""
    rt = route(
        "default",
        "r",
        hostnames=["app.example.org"],
        parents=[parent("default", "gw")],
        annotations={f"{PREFIX}target": "not an address!"},
    )
    got, errors = run(
        "httproute",
        Case("dnssync", [gateway("default", "gw", [listener()], ["192.0.2.1"])], [rt], []),
    )
    assert got == [("app.example.org", "A", ("192.0.2.1",), None)]
    assert len(errors) == 1 and "set it on the Gateway" in errors[0]


def test_an_address_as_route_hostname_is_reported() -> None:
    """A route hostname that is an IP names nothing; the other names are published."""
    rt = route(
        "default", "r", hostnames=["192.0.2.5", "ok.example.org"], parents=[parent("default", "gw")]
    )
    got, errors = run(
        "httproute",
        Case("dnssync", [gateway("default", "gw", [listener()], ["192.0.2.1"])], [rt], []),
    )
    assert [g[0] for g in got] == ["ok.example.org"] and "is an IP address" in errors[0]


def test_a_gateway_change_converts_exactly_its_routes_again() -> None:
    """A new address reaches the routes of that Gateway; deleting it withdraws them; others stay."""
    index = ObjectIndex()
    view = index.view(SourceOptions(annotation_prefix=PREFIX), {"httproute"})
    one = gateway("default", "one", [listener()], ["192.0.2.1"])
    two = gateway("default", "two", [listener()], ["192.0.2.2"])
    for name, gw in (("a", "one"), ("b", "two")):
        index.upsert(
            "httproute",
            route(
                "default", name, hostnames=[f"{name}.example.org"], parents=[parent("default", gw)]
            ),
        )
    assert view.endpoints() == []  # no Gateway yet: nothing, and nothing reported
    index.upsert("gateway", one)
    index.upsert("gateway", two)
    view.take_changes()
    one["status"] = {"addresses": [{"type": "IPAddress", "value": "192.0.2.11"}]}
    index.upsert("gateway", one)
    assert view.take_changes() == {ObjectRef("httproute", "default", "a")}
    assert {e.name: e.targets for e in view.endpoints()} == {
        "a.example.org": ("192.0.2.11",),
        "b.example.org": ("192.0.2.2",),
    }
    index.delete("gateway", one)
    assert {e.name for e in view.endpoints()} == {"b.example.org"}
    index.replace("gateway", [])
    assert view.endpoints() == []


def test_the_lookups_of_a_deleted_route_are_forgotten() -> None:
    """A deleted route is not converted again when its Gateway changes."""
    index = ObjectIndex()
    view = index.view(SourceOptions(annotation_prefix=PREFIX), {"httproute"})
    rt = route("default", "r", hostnames=["r.example.org"], parents=[parent("default", "gw")])
    index.upsert("httproute", rt)
    index.delete("httproute", rt)
    index.upsert("gateway", gateway("default", "gw", [listener()], ["192.0.2.1"]))
    assert view.endpoints() == [] and not view.pending()


def test_manifests_take_routes_as_accepted_by_the_gateways_they_name() -> None:
    """In manifests (no status) a parentRef counts as accepted if its listeners admit the route."""
    gw = gateway(
        "infra", "gw", [listener(hostname="*.example.org", allowed={"namespaces": {"from": "All"}})]
    )
    gw["metadata"]["annotations"] = {f"{PREFIX}target": "192.0.2.7"}
    del gw["status"]
    rt = route(
        "web",
        "r",
        hostnames=["app.example.org"],
        parents=[parent("infra", "gw"), parent("infra", "missing")],
    )
    del rt["status"]
    options = SourceOptions(annotation_prefix=PREFIX, manifests=True)
    got, errors = run("httproute", Case("dnssync", [gw], [rt], [], options=options))
    assert got == [("app.example.org", "A", ("192.0.2.7",), None)]
    assert len(errors) == 1 and "parent Gateway infra/missing is not in the manifests" in errors[0]
