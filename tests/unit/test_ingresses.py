"""Ingress objects (raw API JSON) to endpoints."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.errors import InvalidInput, InvalidName
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.annotations import ALPHA_PREFIX, DEFAULT_PREFIX
from dnssync.sources.convert import Conversion, SourceOptions
from dnssync.sources.ingresses import ingress_endpoints
from dnssync.sources.selector import parse_filter

P, OTHER = DEFAULT_PREFIX, ALPHA_PREFIX  # read by default; read only when configured
REF = ObjectRef("ingress", "apps", "web")
LB = [{"ip": "192.0.2.1"}]


def ing(
    annotations: dict[str, Any] | None = None,
    *,
    rules: list[str | None] | None = None,
    tls: list[list[str]] | None = None,
    ingress: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if rules is not None:
        spec["rules"] = [{} if h is None else {"host": h, "http": {"paths": []}} for h in rules]
    if tls is not None:
        spec["tls"] = [{"hosts": hosts, "secretName": "s"} for hosts in tls]
    obj: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "apps", "annotations": annotations or {}},
        "spec": spec,
    }
    if ingress is not None:
        obj["status"] = {"loadBalancer": {"ingress": ingress}}
    return obj


def ep(name: str, type_: str, *targets: str, ttl: int | None = None) -> Endpoint:
    return Endpoint(name, type_, tuple(targets), REF, ttl)


def names(r: Conversion) -> list[str]:
    return [e.name for e in r.endpoints]


def test_rule_hosts() -> None:
    """Every spec.rules[].host is published with the status address."""
    r = ingress_endpoints(
        ing(rules=["a.example.com", "b.example.com"], ingress=LB), SourceOptions()
    )
    assert r == Conversion(
        (ep("a.example.com", "A", "192.0.2.1"), ep("b.example.com", "A", "192.0.2.1")), (), True
    )


def test_rule_without_host_is_skipped() -> None:
    """A catch-all rule (no host) names nothing and is no error."""
    r = ingress_endpoints(ing(rules=[None, "", "a.example.com"], ingress=LB), SourceOptions())
    assert names(r) == ["a.example.com"]
    assert r.errors == ()


def test_tls_hosts_published_and_merged() -> None:
    """spec.tls[].hosts are published too; a host in both rules and TLS is one endpoint."""
    r = ingress_endpoints(
        ing(rules=["a.example.com"], tls=[["a.example.com", "*.apps.example.com"]], ingress=LB),
        SourceOptions(),
    )
    assert names(r) == ["*.apps.example.com", "a.example.com"]


def test_tls_hosts_option_off() -> None:
    """With ingress_tls_hosts off, TLS hosts are not published."""
    r = ingress_endpoints(
        ing(rules=["a.example.com"], tls=[["t.example.com"]], ingress=LB),
        SourceOptions(ingress_tls_hosts=False),
    )
    assert names(r) == ["a.example.com"]


def test_rule_hosts_option_off() -> None:
    """With ingress_rule_hosts off, rule hosts are not published."""
    r = ingress_endpoints(
        ing(rules=["a.example.com"], tls=[["t.example.com"]], ingress=LB),
        SourceOptions(ingress_rule_hosts=False),
    )
    assert names(r) == ["t.example.com"]


def test_hostname_annotation_adds_names() -> None:
    """The hostname annotation adds names beside the rule hosts."""
    r = ingress_endpoints(
        ing({P + "hostname": "x.example.com, y.example.com"}, rules=["a.example.com"], ingress=LB),
        SourceOptions(),
    )
    assert names(r) == ["a.example.com", "x.example.com", "y.example.com"]


def test_hostname_source_annotation_only() -> None:
    """ingress-hostname-source=annotation-only ignores rule and TLS hosts."""
    annotations = {
        P + "hostname": "x.example.com",
        P + "ingress-hostname-source": "annotation-only",
    }
    r = ingress_endpoints(
        ing(annotations, rules=["a.example.com"], tls=[["t.example.com"]], ingress=LB),
        SourceOptions(),
    )
    assert names(r) == ["x.example.com"]


def test_hostname_source_defined_hosts_only() -> None:
    """ingress-hostname-source=defined-hosts-only ignores the hostname annotation."""
    annotations = {
        OTHER + "hostname": "x.example.com",
        OTHER + "ingress-hostname-source": "Defined-Hosts-Only",
    }
    r = ingress_endpoints(
        ing(annotations, rules=["a.example.com"], tls=[["t.example.com"]], ingress=LB),
        SourceOptions(),
    )
    assert names(r) == ["a.example.com", "t.example.com"]


def test_hostname_source_unknown_value_is_reported() -> None:
    """An unknown ingress-hostname-source value is reported and ignored, as in external-dns."""
    r = ingress_endpoints(
        ing({P + "ingress-hostname-source": "rules"}, rules=["a.example.com"], ingress=LB),
        SourceOptions(),
    )
    assert names(r) == ["a.example.com"]
    assert len(r.errors) == 1
    assert r.errors[0].where == f"ingress apps/web: annotation {P}ingress-hostname-source"
    assert "'rules'" in r.errors[0].message


def test_status_hostname_is_cname() -> None:
    """A status host name (cloud load balancer) becomes a CNAME."""
    r = ingress_endpoints(
        ing(rules=["a.example.com"], ingress=[{"hostname": "lb.example.net"}]), SourceOptions()
    )
    assert r.endpoints == (ep("a.example.com", "CNAME", "lb.example.net"),)


def test_status_ipv6() -> None:
    """A status IPv6 address becomes an AAAA endpoint."""
    r = ingress_endpoints(
        ing(rules=["a.example.com"], ingress=[{"ip": "2001:DB8::7"}]), SourceOptions()
    )
    assert r.endpoints == (ep("a.example.com", "AAAA", "2001:db8::7"),)


def test_target_annotation_wins() -> None:
    """The target annotation replaces the status addresses."""
    r = ingress_endpoints(
        ing({P + "target": "ingress.example.com"}, rules=["a.example.com"], ingress=LB),
        SourceOptions(),
    )
    assert r.endpoints == (ep("a.example.com", "CNAME", "ingress.example.com"),)


def test_no_target_is_reported() -> None:
    """No annotation, no status and no defaults: one clear error, nothing published."""
    r = ingress_endpoints(ing(rules=["a.example.com"]), SourceOptions())
    assert r.endpoints == ()
    assert len(r.errors) == 1
    assert r.errors[0].where == "ingress apps/web"
    assert "no target for a.example.com" in r.errors[0].message


def test_default_targets() -> None:
    """Without annotation or status, the default targets are used."""
    r = ingress_endpoints(
        ing(rules=["a.example.com"]),
        SourceOptions(default_targets=("192.0.2.80",), default_ttl=120),
    )
    assert r.endpoints == (ep("a.example.com", "A", "192.0.2.80", ttl=120),)


def test_ttl_annotation() -> None:
    """The ttl annotation (Go duration) sets the endpoint TTL."""
    r = ingress_endpoints(
        ing({P + "ttl": "1h"}, rules=["a.example.com"], ingress=LB), SourceOptions()
    )
    assert r.endpoints == (ep("a.example.com", "A", "192.0.2.1", ttl=3600),)


def test_mixed_targets_refused() -> None:
    """Targets mixing an IP and a host name publish nothing and report the clash."""
    r = ingress_endpoints(
        ing({P + "target": "192.0.2.1,lb.example.net"}, rules=["a.example.com"]), SourceOptions()
    )
    assert r.endpoints == ()
    assert "mix host names" in r.errors[0].message


def test_invalid_hosts_reported_valid_rest_converts() -> None:
    """Bad rule/TLS/annotation hosts are reported by field; the good ones still publish."""
    r = ingress_endpoints(
        ing(
            {P + "hostname": "ok3.example.com,bad!.example.com"},
            rules=["ok1.example.com", "y" * 64 + ".example.com"],
            tls=[["ok2.example.com", ".".join(["b" * 60] * 5)]],
            ingress=LB,
        ),
        SourceOptions(),
    )
    assert names(r) == ["ok1.example.com", "ok2.example.com", "ok3.example.com"]
    assert [e.where for e in r.errors] == [
        "ingress apps/web: spec.rules[1].host",
        "ingress apps/web: spec.tls[0].hosts[1]",
        f"ingress apps/web: annotation {P}hostname",
    ]
    assert all(isinstance(e, InvalidName) for e in r.errors)


def test_non_string_host_is_reported() -> None:
    """A host that is not a string is reported with its field path."""
    obj = ing(rules=["a.example.com"], ingress=LB)
    obj["spec"]["rules"].append({"host": 42})
    r = ingress_endpoints(obj, SourceOptions())
    assert names(r) == ["a.example.com"]
    assert r.errors[0].where == "ingress apps/web: spec.rules[1].host"


def test_filter_and_selection() -> None:
    """The filter decides selection; without names and without filter nothing is reported."""
    managed = SourceOptions(annotation_filter=parse_filter(f"{P}manage in (mdapi)"))
    assert ingress_endpoints(ing(rules=["a.example.com"], ingress=LB), managed) == Conversion(
        (), (), False
    )
    opted = ing({P + "manage": "mdapi"}, rules=["a.example.com"], ingress=LB)
    assert names(ingress_endpoints(opted, managed)) == ["a.example.com"]
    other = ing({OTHER + "manage": "mdapi"}, rules=["a.example.com"], ingress=LB)
    assert not ingress_endpoints(other, managed).selected
    assert ingress_endpoints(ing(rules=[None], ingress=LB), SourceOptions()) == Conversion(
        (), (), False
    )
    r = ingress_endpoints(ing({P + "manage": "mdapi"}, rules=[None], ingress=LB), managed)
    assert r.selected
    assert "no host name" in r.errors[0].message


# --- property -----------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        p + k
        for p in (DEFAULT_PREFIX, ALPHA_PREFIX)
        for k in ("hostname", "target", "ttl", "ingress-hostname-source", "controller")
    ]
)
_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["192.0.2.1", "2001:db8::1", "a.example.com", "annotation-only", "defined-hosts-only", "5m"]
    ),
)
_HOSTS = st.one_of(st.none(), st.integers(), _VALUES)


@settings(max_examples=300, deadline=None)
@given(
    annotations=st.dictionaries(_KEYS, _VALUES, max_size=6),
    rules=st.lists(_HOSTS, max_size=3),
    tls=st.lists(st.lists(_HOSTS, max_size=3), max_size=2),
    status=st.lists(
        st.fixed_dictionaries({}, optional={"ip": _VALUES, "hostname": _VALUES}), max_size=3
    ),
    defaults=st.lists(_VALUES, max_size=2),
)
def test_ingress_converter_never_raises(
    annotations: dict[str, str],
    rules: list[Any],
    tls: list[list[Any]],
    status: list[dict[str, str]],
    defaults: list[str],
) -> None:
    """For random annotations, hosts and statuses the converter returns errors, never raises."""
    obj: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "apps", "annotations": annotations},
        "spec": {"rules": [{"host": h} for h in rules], "tls": [{"hosts": t} for t in tls]},
        "status": {"loadBalancer": {"ingress": status}},
    }
    r = ingress_endpoints(obj, SourceOptions(default_targets=tuple(defaults)))
    assert all(isinstance(e, InvalidInput) for e in r.errors)
    keys = [e.key for e in r.endpoints]
    assert len(keys) == len(set(keys))
    for e in r.endpoints:
        assert e.source == REF
        assert e.targets
        assert e.targets == tuple(sorted(set(e.targets)))
        assert e.type != "CNAME" or len(e.targets) == 1
