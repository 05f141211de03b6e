"""Service objects (raw API JSON) to endpoints."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.errors import InvalidInput, InvalidName
from dnssync.model import Endpoint, ObjectRef
from dnssync.sources.annotations import ALPHA_PREFIX, DEFAULT_PREFIX
from dnssync.sources.convert import Conversion, SourceOptions
from dnssync.sources.selector import parse_filter
from dnssync.sources.services import service_endpoints

P, OTHER = DEFAULT_PREFIX, ALPHA_PREFIX  # read by default; read only when configured
REF = ObjectRef("service", "default", "web")
MANAGED = SourceOptions(annotation_filter=parse_filter(f"{P}manage=mdapi"))


def svc(
    annotations: dict[str, Any] | None = None,
    *,
    type_: str | None = "LoadBalancer",
    ingress: list[dict[str, str]] | None = None,
    name: str = "web",
    namespace: str | None = "default",
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "annotations": annotations or {}}
    if namespace is not None:
        meta["namespace"] = namespace
    if type_ is not None:
        spec["type"] = type_
    obj: dict[str, Any] = {"metadata": meta, "spec": spec}
    if ingress is not None:
        obj["status"] = {"loadBalancer": {"ingress": ingress}}
    return obj


def host(value: str, prefix: str = P, **more: str) -> dict[str, str]:
    return {prefix + "hostname": value, **{P + k: v for k, v in more.items()}}


def ep(name: str, type_: str, *targets: str, ttl: int | None = None) -> Endpoint:
    return Endpoint(name, type_, tuple(targets), REF, ttl)


def only_error(result: Conversion) -> InvalidInput:
    assert result.selected
    assert result.endpoints == ()
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


# --- targets from status and spec ---------------------------------------------------


def test_load_balancer_status_ip() -> None:
    """A LoadBalancer's status IPs become A and AAAA endpoints."""
    r = service_endpoints(
        svc(host("web.example.com"), ingress=[{"ip": "192.0.2.1"}, {"ip": "2001:db8::1"}]),
        SourceOptions(),
    )
    assert r == Conversion(
        (ep("web.example.com", "A", "192.0.2.1"), ep("web.example.com", "AAAA", "2001:db8::1")),
        (),
        True,
    )


def test_load_balancer_status_hostname() -> None:
    """A LoadBalancer's status host name becomes a CNAME."""
    r = service_endpoints(
        svc(host("web.example.com"), ingress=[{"hostname": "LB-1.elb.example.net"}]),
        SourceOptions(),
    )
    assert r.endpoints == (ep("web.example.com", "CNAME", "lb-1.elb.example.net"),)
    assert r.errors == ()


def test_status_ip_beside_hostname_wins() -> None:
    """When the status lists an IP and a host name, the IP is published (no CNAME clash)."""
    r = service_endpoints(
        svc(host("web.example.com"), ingress=[{"ip": "192.0.2.1", "hostname": "lb.example.net"}]),
        SourceOptions(),
    )
    assert r.endpoints == (ep("web.example.com", "A", "192.0.2.1"),)


def test_targets_sorted_and_unique() -> None:
    """Targets are sorted and deduplicated within one endpoint."""
    r = service_endpoints(
        svc(
            host("web.example.com"),
            ingress=[{"ip": "192.0.2.9"}, {"ip": "192.0.2.1"}, {"ip": "192.0.2.9"}],
        ),
        SourceOptions(),
    )
    assert r.endpoints == (ep("web.example.com", "A", "192.0.2.1", "192.0.2.9"),)


def test_spec_external_ips_win_over_status() -> None:
    """spec.externalIPs are used before the status, as in external-dns."""
    r = service_endpoints(
        svc(host("web.example.com"), ingress=[{"ip": "192.0.2.1"}], externalIPs=["198.51.100.5"]),
        SourceOptions(),
    )
    assert r.endpoints == (ep("web.example.com", "A", "198.51.100.5"),)


def test_target_annotation_wins_over_status() -> None:
    """The target annotation replaces the status addresses."""
    r = service_endpoints(
        svc(host("web.example.com", target="203.0.113.7"), ingress=[{"ip": "192.0.2.1"}]),
        SourceOptions(),
    )
    assert r.endpoints == (ep("web.example.com", "A", "203.0.113.7"),)


def test_target_annotation_mixed_ipv4_ipv6() -> None:
    """A target list of IPv4 and IPv6 addresses yields one A and one AAAA endpoint."""
    r = service_endpoints(
        svc(host("web.example.com", target="192.0.2.1, 2001:db8::1,192.0.2.2")), SourceOptions()
    )
    assert r.endpoints == (
        ep("web.example.com", "A", "192.0.2.1", "192.0.2.2"),
        ep("web.example.com", "AAAA", "2001:db8::1"),
    )


def test_target_annotation_hostname_is_cname() -> None:
    """A host name target becomes a CNAME (trailing dot and case normalised)."""
    r = service_endpoints(
        svc(host("web.example.com", target="Ingress.Example.com.")), SourceOptions()
    )
    assert r.endpoints == (ep("web.example.com", "CNAME", "ingress.example.com"),)


def test_mixed_hostname_and_ip_targets_refused() -> None:
    """Targets mixing host names and IPs produce nothing and one clear error."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com", target="192.0.2.1,lb.example.net")), SourceOptions()
        )
    )
    assert "mix host names" in e.message
    assert "lb.example.net" in e.message
    assert "192.0.2.1" in e.message
    assert e.where == f"service default/web: annotation {P}target"


def test_two_cname_targets_refused() -> None:
    """Two host name targets can't make one CNAME: error, nothing published."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com", target="a.example.net,b.example.net")), SourceOptions()
        )
    )
    assert "a CNAME holds exactly one" in e.message


def test_bad_target_annotation_publishes_nothing() -> None:
    """One bad target makes the object produce nothing, naming annotation and value."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com", target="192.0.2.1,192.0.2.999")), SourceOptions()
        )
    )
    assert e.where == f"service default/web: annotation {P}target"
    assert "192.0.2.999" in e.message


def test_external_name_is_cname() -> None:
    """An ExternalName Service becomes a CNAME to spec.externalName."""
    r = service_endpoints(
        svc(host("db.example.com"), type_="ExternalName", externalName="db.rds.example.net"),
        SourceOptions(),
    )
    assert r.endpoints == (ep("db.example.com", "CNAME", "db.rds.example.net"),)


def test_cluster_ip_published_with_publish_internal() -> None:
    """ClusterIP Services publish their cluster IPs (both families) with publish_internal."""
    obj = svc(
        host("web.example.com"),
        type_="ClusterIP",
        clusterIP="10.0.0.5",
        clusterIPs=["10.0.0.5", "fd00::5"],
    )
    r = service_endpoints(obj, SourceOptions(publish_internal=True))
    assert r.endpoints == (
        ep("web.example.com", "A", "10.0.0.5"),
        ep("web.example.com", "AAAA", "fd00::5"),
    )


def test_cluster_ip_without_publish_internal_is_no_target() -> None:
    """Without publish_internal a ClusterIP Service has no target: an error says why."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com"), type_="ClusterIP", clusterIP="10.0.0.5"), SourceOptions()
        )
    )
    assert "no target for hostname web.example.com" in e.message
    assert "publish_internal" in e.message
    assert e.where == "service default/web"


def test_missing_type_means_cluster_ip() -> None:
    """A Service without spec.type is a ClusterIP Service."""
    r = service_endpoints(
        svc(host("web.example.com"), type_=None, clusterIP="10.0.0.5"),
        SourceOptions(publish_internal=True),
    )
    assert r.endpoints == (ep("web.example.com", "A", "10.0.0.5"),)


def test_internal_hostname_gets_cluster_ip() -> None:
    """internal-hostname names get the cluster IP, hostname names the load balancer's."""
    annotations = {**host("web.example.com"), P + "internal-hostname": "web.internal.example.com"}
    r = service_endpoints(
        svc(annotations, clusterIP="10.0.0.5", ingress=[{"ip": "192.0.2.1"}]), SourceOptions()
    )
    assert r.endpoints == (
        ep("web.example.com", "A", "192.0.2.1"),
        ep("web.internal.example.com", "A", "10.0.0.5"),
    )


def test_headless_service_is_no_target() -> None:
    """A headless Service has no address of its own: error mentions headless."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com"), type_="ClusterIP", clusterIP="None"),
            SourceOptions(publish_internal=True),
        )
    )
    assert "headless" in e.message


def test_node_port_needs_a_target() -> None:
    """A NodePort Service without target annotation or defaults reports no target."""
    e = only_error(
        service_endpoints(svc(host("web.example.com"), type_="NodePort"), SourceOptions())
    )
    assert "NodePort" in e.message


def test_pending_load_balancer_is_no_target() -> None:
    """A LoadBalancer without status addresses reports that the address is missing."""
    e = only_error(service_endpoints(svc(host("web.example.com")), SourceOptions()))
    assert "status.loadBalancer.ingress is empty" in e.message
    assert "target annotation" in e.message


def test_default_targets_when_nothing_else() -> None:
    """options.default_targets fill in when there is no annotation and no status."""
    options = SourceOptions(default_targets=("192.0.2.50", "2001:db8::50"))
    r = service_endpoints(svc(host("web.example.com"), type_="NodePort"), options)
    assert r.endpoints == (
        ep("web.example.com", "A", "192.0.2.50"),
        ep("web.example.com", "AAAA", "2001:db8::50"),
    )
    assert r.errors == ()


def test_status_beats_default_targets() -> None:
    """A status address is used before the default targets."""
    options = SourceOptions(default_targets=("192.0.2.50",))
    r = service_endpoints(svc(host("web.example.com"), ingress=[{"ip": "192.0.2.1"}]), options)
    assert r.endpoints == (ep("web.example.com", "A", "192.0.2.1"),)


def test_bad_default_target_is_reported() -> None:
    """A malformed default target is reported instead of being published."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com")), SourceOptions(default_targets=("not an address",))
        )
    )
    assert "default target" in e.where


def test_bad_status_address_is_reported() -> None:
    """A malformed status address is reported with its field path."""
    e = only_error(
        service_endpoints(
            svc(host("web.example.com"), ingress=[{"ip": "999.1.1.1"}]), SourceOptions()
        )
    )
    assert e.where == "service default/web: status.loadBalancer.ingress[0].ip"


# --- names, ttl, selection -----------------------------------------------------------


def test_only_the_configured_prefix_is_read() -> None:
    """Annotations under another prefix are ignored; configuring that prefix reads them."""
    obj = svc(host("web.example.com", prefix=OTHER), ingress=[{"ip": "192.0.2.1"}])
    assert service_endpoints(obj, SourceOptions()).endpoints == ()
    alpha = SourceOptions(annotation_prefix=OTHER)
    assert service_endpoints(obj, alpha).endpoints == (ep("web.example.com", "A", "192.0.2.1"),)


def test_leftover_annotations_under_the_other_prefix_change_nothing() -> None:
    """Both prefixes set: only the configured prefix's hostname and ttl count (no fallback)."""
    annotations = {
        P + "hostname": "old.example.com",
        OTHER + "hostname": "new.example.com",
        P + "ttl": "60",
        OTHER + "ttl": "120",
        OTHER + "target": "192.0.2.9",
    }
    r = service_endpoints(svc(annotations, ingress=[{"ip": "192.0.2.1"}]), SourceOptions())
    assert r.endpoints == (ep("old.example.com", "A", "192.0.2.1", ttl=60),)


def test_ttl_annotation_and_default() -> None:
    """The ttl annotation sets Endpoint.ttl; without it options.default_ttl; else None."""
    obj = svc(host("web.example.com", ttl="5m"), ingress=[{"ip": "192.0.2.1"}])
    assert service_endpoints(obj, SourceOptions(default_ttl=60)).endpoints[0].ttl == 300
    plain = svc(host("web.example.com"), ingress=[{"ip": "192.0.2.1"}])
    assert service_endpoints(plain, SourceOptions(default_ttl=60)).endpoints[0].ttl == 60
    assert service_endpoints(plain, SourceOptions()).endpoints[0].ttl is None


def test_bad_ttl_publishes_with_the_default_ttl() -> None:
    """A bad ttl annotation is reported and the default TTL used, as external-dns does."""
    r = service_endpoints(
        svc(host("a.example.com,b.example.com", ttl="0"), ingress=[{"ip": "192.0.2.1"}]),
        SourceOptions(default_ttl=None),
    )
    assert r.endpoints == (
        ep("a.example.com", "A", "192.0.2.1"),
        ep("b.example.com", "A", "192.0.2.1"),
    )
    (e,) = r.errors
    assert e.where == f"service default/web: annotation {P}ttl"
    assert "'0'" in e.message and "default TTL" in e.message


def test_invalid_hostnames_reported_valid_rest_converts() -> None:
    """Bad names (long label, long name, bad characters) are reported; good ones publish."""
    long_label = "x" * 64 + ".example.com"
    long_name = ".".join(["a" * 60] * 5)
    names = f"good.example.com,{long_label},{long_name},bad_char.example.com,also-good.example.com"
    r = service_endpoints(svc(host(names), ingress=[{"ip": "192.0.2.1"}]), SourceOptions())
    assert [e.name for e in r.endpoints] == ["also-good.example.com", "good.example.com"]
    assert len(r.errors) == 3
    assert all(isinstance(e, InvalidName) for e in r.errors)
    assert all(e.where == f"service default/web: annotation {P}hostname" for e in r.errors)
    assert "at most 63" in r.errors[0].message
    assert "at most 253" in r.errors[1].message
    assert "bad_char" in r.errors[2].message


def test_empty_hostname_annotation_is_reported() -> None:
    """A hostname annotation with no name in it is an error naming the annotation."""
    e = only_error(
        service_endpoints(svc(host(" , "), ingress=[{"ip": "192.0.2.1"}]), SourceOptions())
    )
    assert "holds no host name" in e.message
    assert e.where.endswith(f"annotation {P}hostname")


def test_filter_not_matching_is_not_selected() -> None:
    """An object the filter rejects is not selected and reports nothing."""
    r = service_endpoints(svc(host("web.example.com", ttl="bad")), MANAGED)
    assert r == Conversion((), (), False)


def test_filter_matching_selects() -> None:
    """An object the filter accepts is converted."""
    obj = svc(host("web.example.com", manage="mdapi"), ingress=[{"ip": "192.0.2.1"}])
    r = service_endpoints(obj, MANAGED)
    assert r.selected
    assert r.endpoints == (ep("web.example.com", "A", "192.0.2.1"),)


def test_no_hostname_without_filter_is_quietly_skipped() -> None:
    """Without a filter, a Service with no hostname annotation is simply not ours."""
    r = service_endpoints(svc({}, ingress=[{"ip": "192.0.2.1"}]), SourceOptions())
    assert r == Conversion((), (), False)


def test_opted_in_without_hostname_is_reported() -> None:
    """With a filter, an opted-in Service without a hostname is an error."""
    e = only_error(service_endpoints(svc({P + "manage": "mdapi"}), MANAGED))
    assert "no host name" in e.message


def test_other_controller_is_not_selected() -> None:
    """A controller annotation other than dns-controller means not ours (external-dns)."""
    obj = svc(host("web.example.com", controller="someone-else"), ingress=[{"ip": "192.0.2.1"}])
    assert not service_endpoints(obj, SourceOptions()).selected
    obj = svc(host("web.example.com", controller="dns-controller"), ingress=[{"ip": "192.0.2.1"}])
    assert service_endpoints(obj, SourceOptions()).endpoints


def test_namespace_defaults_to_default() -> None:
    """An object without metadata.namespace belongs to namespace default."""
    r = service_endpoints(
        svc(host("web.example.com"), namespace=None, ingress=[{"ip": "192.0.2.1"}]), SourceOptions()
    )
    assert r.endpoints[0].source == REF
    assert r.endpoints[0].source.resource == "service/default/web"


def test_non_string_annotation_value_is_reported() -> None:
    """A non-string annotation value (an unquoted YAML number) is reported and only it ignored."""
    r = service_endpoints(
        svc({P + "hostname": "web.example.com", P + "ttl": 300}, ingress=[{"ip": "192.0.2.1"}]),
        SourceOptions(),
    )
    assert r.endpoints == (ep("web.example.com", "A", "192.0.2.1"),)
    (e,) = r.errors
    assert "must be strings" in e.message
    assert f"{P}ttl" in e.message


def test_unknown_service_type_is_reported() -> None:
    """An unknown spec.type is reported with its field."""
    e = only_error(service_endpoints(svc(host("web.example.com"), type_="Magic"), SourceOptions()))
    assert e.where == "service default/web: spec.type"


def test_missing_name_is_reported() -> None:
    """An object without metadata.name is reported, not published."""
    obj = svc(host("web.example.com"), ingress=[{"ip": "192.0.2.1"}])
    del obj["metadata"]["name"]
    e = only_error(service_endpoints(obj, SourceOptions()))
    assert "metadata.name" in e.message


def test_same_name_internal_and_external_conflict_skips_that_name() -> None:
    """A name asked for as CNAME and A (hostname vs internal-hostname) is skipped alone."""
    annotations = {
        P + "hostname": "a.example.com,b.example.com",
        P + "internal-hostname": "a.example.com",
    }
    obj = svc(annotations, clusterIP="10.0.0.5", ingress=[{"hostname": "lb.example.net"}])
    r = service_endpoints(obj, SourceOptions())
    assert r.endpoints == (ep("b.example.com", "CNAME", "lb.example.net"),)
    assert len(r.errors) == 1
    assert "a.example.com" in r.errors[0].message


def test_cname_to_itself_is_skipped() -> None:
    """A name whose CNAME target is itself is reported and skipped; other names publish."""
    r = service_endpoints(
        svc(host("a.example.com,b.example.com", target="a.example.com")), SourceOptions()
    )
    assert r.endpoints == (ep("b.example.com", "CNAME", "a.example.com"),)
    assert len(r.errors) == 1
    assert "CNAME to itself" in r.errors[0].message


# --- property -----------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        p + k
        for p in (DEFAULT_PREFIX, ALPHA_PREFIX)
        for k in ("hostname", "internal-hostname", "target", "ttl", "controller")
    ]
    + [P + "manage", "other/key"]
)
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["192.0.2.1", "2001:db8::1", "a.example.com", "1m", "0", ",", "*.x.y", ""]),
    st.lists(st.sampled_from(["192.0.2.1", "b.example.com", "x y", "::1"]), max_size=3).map(
        ",".join
    ),
)
_ANNOTATIONS = st.dictionaries(_KEYS, _VALUES, max_size=6)
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    annotations=_ANNOTATIONS,
    type_=st.sampled_from([None, "LoadBalancer", "ClusterIP", "NodePort", "ExternalName", "x"]),
    status=st.lists(
        st.fixed_dictionaries({}, optional={"ip": _VALUES, "hostname": _VALUES}), max_size=3
    ),
    extra=_JSONISH,
    publish_internal=st.booleans(),
    with_filter=st.booleans(),
)
def test_service_converter_never_raises(
    annotations: dict[str, str],
    type_: str | None,
    status: list[dict[str, str]],
    extra: Any,
    publish_internal: bool,
    with_filter: bool,
) -> None:
    """For random annotations and specs the converter returns errors instead of raising."""
    obj = svc(annotations, type_=type_, ingress=status, clusterIP="10.0.0.1", externalName=extra)
    options = SourceOptions(
        annotation_filter=parse_filter(f"{P}manage") if with_filter else None,
        publish_internal=publish_internal,
    )
    r = service_endpoints(obj, options)
    assert all(isinstance(e, InvalidInput) for e in r.errors)
    keys = [e.key for e in r.endpoints]
    assert len(keys) == len(set(keys))
    for e in r.endpoints:
        assert e.targets == tuple(sorted(set(e.targets)))
        assert e.type in {"A", "AAAA", "CNAME"}
        assert e.type != "CNAME" or len(e.targets) == 1
    names_with_cname = {e.name for e in r.endpoints if e.type == "CNAME"}
    assert all(e.type == "CNAME" for e in r.endpoints if e.name in names_with_cname)
    if not r.selected:
        assert r.endpoints == ()
        assert r.errors == ()


@settings(max_examples=100, deadline=None)
@given(obj=_JSONISH)
def test_service_converter_survives_garbage(obj: Any) -> None:
    """Whatever JSON shape arrives, the converter returns instead of raising."""
    r = service_endpoints(obj, SourceOptions())
    assert isinstance(r, Conversion)
