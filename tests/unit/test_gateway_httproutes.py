"""HTTPRoute -> endpoints: external-dns's own gateway source cases, transcribed as data.

Each case names its upstream test (external-dns v0.22.0, source/gateway_httproute_test.go,
``TestGatewayHTTPRouteSourceEndpoints``, and source/gateway_test.go) and the row's title.
Rows about flags dnssync does not offer (--gateway-name, --gateway-namespace, label
filters, --ignore-hostname-annotation, FQDN templates) are left out; every other row is
here, with external-dns's inputs and expected endpoints.  Each case runs twice: Gateways
listed before the routes and after them (the index converts a route again when its
Gateway arrives).
"""

from __future__ import annotations

import pytest

from dnssync.sources.convert import SourceOptions
from dnssync.sources.gateway.routes import matching_host, protocol_matches
from dnssync.sources.selector import parse_filter
from tests.unit.gateway_cases import (
    ALL_NAMESPACES,
    PREFIX,
    Case,
    gateway,
    listener,
    namespace,
    parent,
    route,
    run,
)

UP = "TestGatewayHTTPRouteSourceEndpoints"
IP = "1.2.3.4"


def http_gw(
    name: str = "test", ns: str = "default", *listeners: dict[str, object], ip: str = IP
) -> dict[str, object]:
    return gateway(ns, name, list(listeners) or [listener()], [ip])


CASES = [
    Case(
        f"{UP}: GatewayNameNoneAccepted (no Accepted condition: nothing)",
        [gateway("gateway-namespace", "gateway-name", [listener(allowed=ALL_NAMESPACES)], [IP])],
        [
            route(
                "route-namespace",
                "old-test",
                hostnames=["test.example.internal"],
                parents=[parent("gateway-namespace", "gateway-name")],
                accepted=False,
            )
        ],
        [],
    ),
    Case(
        f"{UP}: RouteAnnotationFilter",
        [http_gw()],
        [
            route(
                "default",
                "annotations-match",
                hostnames=["annotations-match.example.internal"],
                parents=[parent("default", "test")],
                annotations={"foo": "bar"},
            ),
            route(
                "default",
                "annotations-dont-match",
                hostnames=["annotations-dont-match.example.internal"],
                parents=[parent("default", "test")],
                annotations={"foo": "qux"},
            ),
        ],
        [("annotations-match.example.internal", "A", (IP,), None)],
        options=SourceOptions(annotation_prefix=PREFIX, annotation_filter=parse_filter("foo=bar")),
    ),
    Case(
        f"{UP}: SkipControllerAnnotation",
        [http_gw()],
        [
            route(
                "default",
                "api",
                hostnames=["api.example.internal"],
                parents=[parent("default", "test")],
                annotations={f"{PREFIX}controller": "something-else"},
            )
        ],
        [],
    ),
    Case(
        f"{UP}: MultipleGateways",
        [http_gw("one"), http_gw("two", ip="2.3.4.5")],
        [
            route(
                "default",
                "test",
                hostnames=["test.example.internal"],
                parents=[parent("default", "one"), parent("default", "two")],
            )
        ],
        [("test.example.internal", "A", (IP, "2.3.4.5"), None)],
    ),
    Case(
        f"{UP}: MultipleListeners",
        [
            http_gw(
                "one",
                "default",
                listener(hostname="foo.example.internal", name="foo"),
                listener(hostname="bar.example.internal", name="bar"),
            )
        ],
        [
            route(
                "default",
                "test",
                hostnames=["*.example.internal"],
                parents=[parent("default", "one")],
            )
        ],
        [("bar.example.internal", "A", (IP,), None), ("foo.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: SectionNameMatch",
        [
            http_gw(
                "test",
                "default",
                listener(hostname="foo.example.internal", name="foo"),
                listener(hostname="bar.example.internal", name="bar"),
            )
        ],
        [
            route(
                "default",
                "test",
                hostnames=["*.example.internal"],
                parents=[parent("default", "test", section="foo")],
            )
        ],
        [("foo.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: PortNumberMatch",
        [
            http_gw(
                "test",
                "default",
                listener(hostname="foo.example.internal", name="foo", port=80),
                listener(hostname="bar.example.internal", name="bar", port=80),
                listener(hostname="qux.example.internal", name="qux", port=8080),
            )
        ],
        [
            route(
                "default",
                "test",
                hostnames=["*.example.internal"],
                parents=[parent("default", "test", port=80)],
            )
        ],
        [("bar.example.internal", "A", (IP,), None), ("foo.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: WildcardInGateway",
        [http_gw("test", "default", listener(hostname="*.example.internal"))],
        [
            route(
                "default",
                "no-hostname",
                hostnames=["foo.example.internal"],
                parents=[parent("default", "test")],
            )
        ],
        [("foo.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: WildcardInRoute",
        [http_gw("test", "default", listener(hostname="foo.example.internal"))],
        [
            route(
                "default",
                "no-hostname",
                hostnames=["*.example.internal"],
                parents=[parent("default", "test")],
            )
        ],
        [("foo.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: WildcardInRouteAndGateway",
        [http_gw("test", "default", listener(hostname="*.example.internal"))],
        [
            route(
                "default",
                "no-hostname",
                hostnames=["*.example.internal"],
                parents=[parent("default", "test")],
            )
        ],
        [("*.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: NoRouteHostname",
        [http_gw("test", "default", listener(hostname="foo.example.internal"))],
        [route("default", "no-hostname", parents=[parent("default", "test")])],
        [("foo.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: NoGateways",
        [],
        [route("default", "test", hostnames=["example.internal"], parents=[])],
        [],
    ),
    Case(
        f"{UP}: NoHostnames",
        [http_gw()],
        [route("default", "no-hostname", parents=[parent("default", "test")])],
        [],
    ),
    Case(
        f"{UP}: HostnameAnnotation",
        [http_gw()],
        [
            route(
                "default",
                "without-hostame",
                parents=[parent("default", "test")],
                annotations={f"{PREFIX}hostname": "annotation.without-hostname.internal"},
            ),
            route(
                "default",
                "with-hostame",
                hostnames=["with-hostname.internal"],
                parents=[parent("default", "test")],
                annotations={f"{PREFIX}hostname": "annotation.with-hostname.internal"},
            ),
        ],
        [
            ("annotation.with-hostname.internal", "A", (IP,), None),
            ("annotation.without-hostname.internal", "A", (IP,), None),
            ("with-hostname.internal", "A", (IP,), None),
        ],
    ),
    Case(
        f"{UP}: TTL (an invalid one: the default TTL, and reported)",
        [http_gw()],
        [
            route(
                "default",
                "valid-ttl",
                hostnames=["valid-ttl.internal"],
                parents=[parent("default", "test")],
                annotations={f"{PREFIX}ttl": "15s"},
            ),
            route(
                "default",
                "invalid-ttl",
                hostnames=["invalid-ttl.internal"],
                parents=[parent("default", "test")],
                annotations={f"{PREFIX}ttl": "abc"},
            ),
        ],
        [("invalid-ttl.internal", "A", (IP,), None), ("valid-ttl.internal", "A", (IP,), 15)],
        errors=["'abc' is not a valid TTL"],
    ),
    Case(
        f"{UP}: ProviderAnnotations (published; provider-specific annotations are not read)",
        [http_gw()],
        [
            route(
                "default",
                "provider-annotations",
                hostnames=["provider-annotations.com"],
                parents=[parent("default", "test")],
                annotations={
                    f"{PREFIX}set-identifier": "test-set-identifier",
                    f"{PREFIX}alias": "true",
                },
            )
        ],
        [("provider-annotations.com", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: DifferentHostnameDifferentGateway",
        [
            http_gw("one", "default", listener(hostname="*.one.internal")),
            http_gw("two", "default", listener(hostname="*.two.internal"), ip="2.3.4.5"),
        ],
        [
            route(
                "default",
                "test",
                hostnames=["test.one.internal", "test.two.internal"],
                parents=[parent("default", "one"), parent("default", "two")],
            )
        ],
        [("test.one.internal", "A", (IP,), None), ("test.two.internal", "A", ("2.3.4.5",), None)],
    ),
    Case(
        f"{UP}: AllowedRoutesSameNamespace",
        [
            gateway(
                "same-namespace", "test", [listener(allowed={"namespaces": {"from": "Same"}})], [IP]
            )
        ],
        [
            route(
                "same-namespace",
                "test",
                hostnames=["same-namespace.example.internal"],
                parents=[parent("same-namespace", "test")],
            ),
            route(
                "other-namespace",
                "test",
                hostnames=["other-namespace.example.internal"],
                parents=[parent("same-namespace", "test")],
            ),
        ],
        [("same-namespace.example.internal", "A", (IP,), None)],
        namespaces=[namespace("same-namespace"), namespace("other-namespace")],
    ),
    Case(
        f"{UP}: AllowedRoutesNamespaceSelector",
        [
            gateway(
                "default",
                "test",
                [
                    listener(
                        allowed={
                            "namespaces": {
                                "from": "Selector",
                                "selector": {"matchLabels": {"team": "foo"}},
                            }
                        }
                    )
                ],
                [IP],
            )
        ],
        [
            route(
                "foo",
                "test",
                hostnames=["foo.example.internal"],
                parents=[parent("default", "test")],
            ),
            route(
                "bar",
                "test",
                hostnames=["bar.example.internal"],
                parents=[parent("default", "test")],
            ),
        ],
        [("foo.example.internal", "A", (IP,), None)],
        namespaces=[
            namespace("default"),
            namespace("foo", {"team": "foo"}),
            namespace("bar", {"team": "bar"}),
        ],
    ),
    Case(
        f"{UP}: MissingNamespace",
        [
            gateway(
                "default",
                "test",
                [
                    listener(
                        allowed={
                            "namespaces": {
                                "from": "Selector",
                                "selector": {"matchLabels": {"foo": "bar"}},
                            }
                        }
                    )
                ],
                [IP],
            )
        ],
        [
            route(
                "default",
                "test",
                hostnames=["example.internal"],
                parents=[parent("default", "test")],
            )
        ],
        [],
    ),
    Case(
        f"{UP}: AnnotationOverride",
        [
            gateway(
                "gateway-namespace",
                "overridden-gateway",
                [listener(allowed=ALL_NAMESPACES)],
                [IP],
                annotations={f"{PREFIX}target": "4.3.2.1"},
            )
        ],
        [
            route(
                "route-namespace",
                "test",
                hostnames=["test.example.internal"],
                parents=[parent("gateway-namespace", "overridden-gateway")],
            )
        ],
        [("test.example.internal", "A", ("4.3.2.1",), None)],
    ),
    Case(
        f"{UP}: MutlipleGatewaysOneAnnotationOverride",
        [
            gateway(
                "gateway-namespace",
                "overridden-gateway",
                [listener(allowed=ALL_NAMESPACES)],
                [IP],
                annotations={f"{PREFIX}target": "4.3.2.1"},
            ),
            gateway("gateway-namespace", "test", [listener(allowed=ALL_NAMESPACES)], ["2.3.4.5"]),
        ],
        [
            route(
                "route-namespace",
                "test",
                hostnames=["test.example.internal"],
                parents=[
                    parent("gateway-namespace", "overridden-gateway"),
                    parent("gateway-namespace", "test"),
                ],
            )
        ],
        [("test.example.internal", "A", ("2.3.4.5", "4.3.2.1"), None)],
    ),
    Case(
        f"{UP}: MultipleGatewaysMultipleRoutes",
        [http_gw("one"), http_gw("two", ip="2.3.4.5")],
        [
            route(
                "default",
                "one",
                hostnames=["test.one.internal"],
                parents=[parent("default", "one")],
            ),
            route(
                "default",
                "two",
                hostnames=["test.two.internal"],
                parents=[parent("default", "two")],
            ),
        ],
        [("test.one.internal", "A", (IP,), None), ("test.two.internal", "A", ("2.3.4.5",), None)],
    ),
    Case(
        f"{UP}: NoParentRefs",
        [gateway("gateway-namespace", "test", [listener(allowed=ALL_NAMESPACES)], [IP])],
        [
            route(
                "route-namespace",
                "test",
                hostnames=["test.example.internal"],
                accepted_by=[parent("gateway-namespace", "test")],
            )
        ],
        [],
    ),
    Case(
        f"{UP}: ParentRefsMismatch",
        [gateway("gateway-namespace", "test", [listener(allowed=ALL_NAMESPACES)], [IP])],
        [
            route(
                "route-namespace",
                "test",
                hostnames=["test.example.internal"],
                parents=[parent("gateway-namespace", "default-gateway")],
                accepted_by=[parent("gateway-namespace", "other-gateway")],
            )
        ],
        [],
    ),
    Case(
        f"{UP}: SourceAnnotation",
        [gateway("gateway-namespace", "test", [listener(allowed=ALL_NAMESPACES)], [IP])],
        [
            route(
                "test",
                "route-test",
                hostnames=["test.example.internal"],
                parents=[parent("gateway-namespace", "test")],
                annotations={
                    f"{PREFIX}gateway-hostname-source": "defined-hosts-only",
                    f"{PREFIX}hostname": "test.org.internal",
                },
            )
        ],
        [("test.example.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: OnlyAnnotationHost",
        [gateway("gateway-namespace", "test", [listener(allowed=ALL_NAMESPACES)], [IP])],
        [
            route(
                "test",
                "route-test",
                hostnames=["test.example.internal"],
                parents=[parent("gateway-namespace", "test")],
                annotations={
                    f"{PREFIX}gateway-hostname-source": "annotation-only",
                    f"{PREFIX}hostname": "test.org.internal",
                },
            )
        ],
        [("test.org.internal", "A", (IP,), None)],
    ),
    Case(
        f"{UP}: InvalidSourceAnnotation",
        [http_gw()],
        [
            route(
                "default",
                "invalid-annotation",
                hostnames=["route.invalid.internal"],
                parents=[parent("default", "test")],
                annotations={
                    f"{PREFIX}gateway-hostname-source": "invalid-value",
                    f"{PREFIX}hostname": "annotation.invalid.internal",
                },
            )
        ],
        [
            ("annotation.invalid.internal", "A", (IP,), None),
            ("route.invalid.internal", "A", (IP,), None),
        ],
        errors=["'invalid-value' is not a hostname source"],
    ),
]


@pytest.mark.parametrize("routes_first", [False, True], ids=["gateways-first", "routes-first"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.upstream)
def test_external_dns_httproute_cases(case: Case, routes_first: bool) -> None:
    """Each upstream row publishes what external-dns publishes, whichever arrives first."""
    got, errors = run("httproute", case, routes_first=routes_first)
    assert got == case.want
    assert len(errors) == len(case.errors), errors
    for text, wanted in zip(errors, case.errors, strict=True):
        assert wanted in text


# TestGatewayMatchingHost: (desc, a, b, host or None); checked both ways round, as upstream.
MATCHING_HOST = [
    ("empty-matches-empty", "", "", ""),
    ("empty-matches-nonempty", "example.net", "", "example.net"),
    ("simple-match", "example.net", "example.net", "example.net"),
    ("wildcard-matches-longer", "*.example.net", "test.example.net", "test.example.net"),
    ("wildcard-matches-equal-length", "*.example.net", "a.example.net", "a.example.net"),
    (
        "wildcard-matches-multiple-subdomains",
        "*.example.net",
        "foo.bar.test.example.net",
        "foo.bar.test.example.net",
    ),
    ("wildcard-doesnt-match-parent", "*.example.net", "example.net", None),
]


@pytest.mark.parametrize(
    ("desc", "a", "b", "host"), MATCHING_HOST, ids=[c[0] for c in MATCHING_HOST]
)
def test_gateway_matching_host(desc: str, a: str, b: str, host: str | None) -> None:
    """TestGatewayMatchingHost: the overlap of two names, whichever side is the listener."""
    assert matching_host(a, b) == host
    assert matching_host(b, a) == host


# TestGatewayMatchingHost rows rejected before matching (gwHost): names that are no host name.
@pytest.mark.parametrize(
    "listener_host",
    ["1.2.3.4", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "*example.net"],
    ids=["ipv4-rejected", "ipv6-rejected", "wildcard-must-be-complete-label"],
)
def test_addresses_and_broken_wildcards_match_nothing(listener_host: str) -> None:
    """A listener hostname that is an IP or a partial wildcard attaches no name."""
    case = Case(
        "TestGatewayMatchingHost",
        [http_gw("test", "default", listener(hostname=listener_host))],
        [
            route(
                "default", "r", hostnames=["test.example.net"], parents=[parent("default", "test")]
            )
        ],
        [],
    )
    assert run("httproute", case) == ([], [])


# TestGatewayMatchingProtocol: (desc, route protocol, listener protocol, ok).
PROTOCOLS = [
    ("protocol-matches-lis-https-route-http", "HTTP", "HTTPS", True),
    ("protocol-match-invalid-list-https-route-tcp", "TCP", "HTTPS", False),
    ("protocol-match-valid-lis-tls-route-tls", "TLS", "TLS", True),
    ("protocol-match-valid-lis-TLS-route-TCP", "TCP", "TLS", True),
    ("protocol-match-valid-lis-TLS-route-TCP (reversed)", "TLS", "TCP", False),
]


@pytest.mark.parametrize(
    ("desc", "route_p", "listener_p", "ok"), PROTOCOLS, ids=[p[0] for p in PROTOCOLS]
)
def test_gateway_matching_protocol(desc: str, route_p: str, listener_p: str, ok: bool) -> None:
    """TestGatewayMatchingProtocol: HTTP is HTTPS, a TCPRoute attaches to a TLS listener."""
    assert protocol_matches(route_p, listener_p) is ok


# TestIsDNS1123Domain, as listener hostnames: the valid ones attach a route, the others none.
DNS1123 = [
    ("label-too-long", "x" * 64 + ".example.net", False),
    ("domain-too-long", "testing." * 32 + "example.net", False),
    ("hostname", "example", True),
    ("domain", "example.net", True),
    ("subdomain", "test.example.net", True),
    ("dashes", "test-with-dash.example.net", True),
    ("dash-prefix", "-dash-prefix.example.net", False),
    ("dash-suffix", "dash-suffix-.example.net", False),
    ("underscore", "under_score.example.net", False),
    ("plus", "pl+us.example.net", False),
    ("brackets", "bra[k]ets.example.net", False),
    ("parens", "pa[re]ns.example.net", False),
]


@pytest.mark.parametrize(("desc", "host", "ok"), DNS1123, ids=[d[0] for d in DNS1123])
def test_listener_hostnames_must_be_dns_names(desc: str, host: str, ok: bool) -> None:
    """TestIsDNS1123Domain: a listener whose hostname is no DNS-1123 name attaches nothing."""
    case = Case(
        "TestIsDNS1123Domain",
        [http_gw("test", "default", listener(hostname=host))],
        [route("default", "r", parents=[parent("default", "test")])],
        [],
    )
    got, _ = run("httproute", case)
    assert [g[0] for g in got] == ([host] if ok else [])
