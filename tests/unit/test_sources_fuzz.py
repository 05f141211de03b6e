"""Random DNSEndpoints, routes and Gateways: the converters report, they never raise."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.errors import InvalidInput
from dnssync.model import Endpoint
from dnssync.sources.convert import SourceOptions
from dnssync.sources.dnsendpoints import dnsendpoint_endpoints
from dnssync.sources.index import ObjectIndex
from tests.unit.gateway_cases import PREFIX

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "192.0.2.1",
            "2001:db8::1",
            "a.example.org",
            "*.example.org",
            "10 mx.example.org",
            "0 5 443 t.example.org.",
            '0 issue "ca.example"',
            "v=spf1 -all",
            "",
        ]
    ),
)
_ANY = st.one_of(_TEXT, _JSON)


def _sound(endpoints: tuple[Endpoint, ...], errors: tuple[Any, ...]) -> None:
    assert all(isinstance(e, InvalidInput) for e in errors)
    keys = [e.key for e in endpoints]
    assert len(keys) == len(set(keys))
    for e in endpoints:
        assert e.targets and e.targets == tuple(sorted(set(e.targets)))
        assert e.type != "CNAME" or len(e.targets) == 1


_ENTRY = st.one_of(
    _JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "dnsName": _ANY,
            "recordType": st.one_of(
                st.sampled_from(
                    ["A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS", "PTR", "naptr"]
                ),
                _ANY,
            ),
            "targets": st.one_of(st.lists(_TEXT, max_size=3), _ANY),
            "recordTTL": _ANY,
            "labels": _ANY,
            "setIdentifier": _ANY,
            "providerSpecific": _ANY,
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(entries=st.one_of(st.lists(_ENTRY, max_size=4), _ANY), defaults=st.lists(_TEXT, max_size=2))
def test_dnsendpoint_converter_never_raises(entries: Any, defaults: list[str]) -> None:
    """Any spec.endpoints gives endpoints and errors, one endpoint per name and type."""
    obj = {"metadata": {"name": "d", "namespace": "n"}, "spec": {"endpoints": entries}}
    result = dnsendpoint_endpoints(obj, SourceOptions(default_targets=tuple(defaults)))
    _sound(result.endpoints, result.errors)


_REF = st.fixed_dictionaries(
    {"name": st.one_of(st.just("gw"), _ANY)},
    optional={
        "namespace": st.one_of(st.just("n"), _ANY),
        "sectionName": _ANY,
        "port": _ANY,
        "group": _ANY,
        "kind": _ANY,
    },
)
_LISTENER = st.fixed_dictionaries(
    {},
    optional={
        "name": _ANY,
        "protocol": st.one_of(st.sampled_from(["HTTP", "HTTPS", "TLS", "TCP", "UDP"]), _ANY),
        "port": _ANY,
        "hostname": _ANY,
        "allowedRoutes": st.one_of(
            st.fixed_dictionaries(
                {
                    "namespaces": st.fixed_dictionaries(
                        {"from": st.sampled_from(["All", "Same", "Selector", "x"])},
                        optional={"selector": _JSON},
                    )
                },
                optional={"kinds": _ANY},
            ),
            _ANY,
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(
    hostnames=st.one_of(st.lists(_TEXT, max_size=3), _ANY),
    refs=st.lists(_REF, max_size=2),
    conditions=st.lists(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["Accepted", "x"]),
                "status": st.sampled_from(["True", "False"]),
            }
        ),
        max_size=2,
    ),
    listeners=st.one_of(st.lists(_LISTENER, max_size=3), _ANY),
    addresses=st.one_of(
        st.lists(st.fixed_dictionaries({}, optional={"type": _ANY, "value": _ANY}), max_size=3),
        _ANY,
    ),
    annotations=st.dictionaries(
        st.sampled_from(
            [f"{PREFIX}{k}" for k in ("hostname", "target", "ttl", "gateway-hostname-source")]
        ),
        _TEXT,
        max_size=3,
    ),
    manifests=st.booleans(),
    kind=st.sampled_from(["httproute", "grpcroute", "tlsroute", "tcproute", "udproute"]),
)
def test_route_converters_never_raise(
    hostnames: Any,
    refs: list[dict[str, Any]],
    conditions: list[dict[str, str]],
    listeners: Any,
    addresses: Any,
    annotations: dict[str, str],
    manifests: bool,
    kind: str,
) -> None:
    """Any route, Gateway and Namespace give endpoints and errors, in the index and manifests."""
    index = ObjectIndex()
    view = index.view(SourceOptions(annotation_prefix=PREFIX, manifests=manifests), {kind})
    gateway_annotations = {f"{PREFIX}target": annotations.get(f"{PREFIX}target", "")}
    index.upsert("namespace", {"metadata": {"name": "n", "labels": {"a": "b"}}})
    index.upsert(
        "gateway",
        {
            "metadata": {"name": "gw", "namespace": "n", "annotations": gateway_annotations},
            "spec": {"listeners": listeners},
            "status": {"addresses": addresses},
        },
    )
    parents = [{"parentRef": r, "conditions": conditions} for r in refs]
    route = {
        "metadata": {"name": "r", "namespace": "n", "annotations": annotations},
        "spec": {"hostnames": hostnames, "parentRefs": refs},
        "status": {"parents": parents},
    }
    index.upsert(kind, route)
    _sound(tuple(view.endpoints()), tuple(view.errors()))
