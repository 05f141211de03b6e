"""DNSEndpoint -> endpoints: external-dns's own crd source cases, transcribed as data.

Each case names the upstream test it comes from (external-dns v0.22.0,
source/crd_test.go, ``testCRDSourceEndpoints`` and
``TestCRDSourceIllegalTargetWarnings``: the ``title`` of its table row).
Inputs are the ``spec.endpoints`` of the upstream object; the expectation is
what dnssync publishes, in dnssync's canonical text (:mod:`dnssync.rtypes`),
or the entries left out with the field each error names.  Upstream rows
about its cache (namespace and label filters) have no counterpart: dnssync
lists namespaces by configuration and has no label filter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from dnssync.model import ObjectRef
from dnssync.sources.convert import SourceOptions
from dnssync.sources.dnsendpoints import dnsendpoint_endpoints
from dnssync.sources.selector import parse_filter

REF = ObjectRef("crd", "foo", "test")


@dataclass(frozen=True)
class Case:
    upstream: str  # the upstream test function and the row's title
    endpoints: list[dict[str, Any]]
    #: (name, type, targets, ttl) published.
    want: list[tuple[str, str, tuple[str, ...], int | None]]
    #: Fields the errors name (``spec.endpoints[0].targets``), in order.
    errors: list[str] = field(default_factory=list)
    options: SourceOptions = field(default_factory=SourceOptions)


def ep(name: str, type_: str, targets: list[str], ttl: int = 180) -> dict[str, Any]:
    return {"dnsName": name, "recordType": type_, "targets": targets, "recordTTL": ttl}


UPSTREAM = "testCRDSourceEndpoints"
SIP = '100 10 "S" "SIP+D2U" "!^.*$!sip:c@example.org!" _sip._udp.'
SRV = "_svc._tcp.example.org"
CASES = [
    Case(
        f"{UPSTREAM}: valid crd gvk with single endpoint",
        [ep("abc.example.org", "A", ["1.2.3.4"])],
        [("abc.example.org", "A", ("1.2.3.4",), 180)],
    ),
    Case(
        f"{UPSTREAM}: valid crd gvk with multiple endpoints",
        [
            ep("abc.example.org", "A", ["1.2.3.4"]),
            ep("xyz.example.org", "CNAME", ["abc.example.org"]),
        ],
        [
            ("abc.example.org", "A", ("1.2.3.4",), 180),
            ("xyz.example.org", "CNAME", ("abc.example.org",), 180),
        ],
    ),
    Case(
        f"{UPSTREAM}: valid crd with no targets (relies on default-targets)",
        [ep("no-targets.example.org", "A", [])],
        [("no-targets.example.org", "A", ("192.0.2.1",), 180)],
        options=SourceOptions(default_targets=("192.0.2.1", "2001:db8::1")),
    ),
    Case(
        f"{UPSTREAM}: valid crd with no targets (relies on default-targets) -- none configured",
        [ep("no-targets.example.org", "A", [])],
        [],
        ["spec.endpoints[0].targets"],
    ),
    Case(
        f"{UPSTREAM}: Create NS record",
        [ep("abc.example.org", "NS", ["ns1.k8s.io", "ns2.k8s.io"])],
        [("abc.example.org", "NS", ("ns1.k8s.io", "ns2.k8s.io"), 180)],
    ),
    Case(
        f"{UPSTREAM}: Create SRV record",
        [ep(SRV, "SRV", ["0 0 80 abc.example.org", "0 0 80 def.example.org"])],
        [(SRV, "SRV", ("0 0 80 abc.example.org", "0 0 80 def.example.org"), 180)],
    ),
    Case(
        f"{UPSTREAM}: SRV target with trailing dot (RFC 2782 absolute FQDN host) is valid (#6357)",
        [ep(SRV, "SRV", ["0 0 80 abc.example.org.", "10 20 443 def.example.org."])],
        [
            (
                "_svc._tcp.example.org",
                "SRV",
                ("0 0 80 abc.example.org", "10 20 443 def.example.org"),
                180,
            )
        ],
    ),
    Case(
        f"{UPSTREAM}: Create NAPTR record -- a type dnssync does not write",
        [ep("example.org", "NAPTR", [SIP])],
        [],
        ["spec.endpoints[0].recordType"],
    ),
    Case(
        f"{UPSTREAM}: CNAME target with trailing dot (RFC 1035 §5.1 absolute FQDN) is valid",
        [ep("example.org", "CNAME", ["foo.example.org."])],
        [("example.org", "CNAME", ("foo.example.org",), 180)],
    ),
    Case(
        f"{UPSTREAM}: CNAME target without trailing dot (relative name)",
        [ep("internal.example.com", "CNAME", ["backend.cluster.local"], 300)],
        [("internal.example.com", "CNAME", ("backend.cluster.local",), 300)],
    ),
    Case(
        f"{UPSTREAM}: DNAME target with trailing dot -- a type dnssync does not write",
        [ep("example.org", "DNAME", ["target.example.net."])],
        [],
        ["spec.endpoints[0].recordType"],
    ),
    Case(
        f"{UPSTREAM}: CNAME and DNAME with the same name are both emitted -- the CNAME is",
        [
            ep("example.org", "CNAME", ["cname-target.example.net"]),
            ep("example.org", "DNAME", ["dname-target.example.net"]),
        ],
        [("example.org", "CNAME", ("cname-target.example.net",), 180)],
        ["spec.endpoints[1].recordType"],
    ),
    Case(
        f"{UPSTREAM}: valid target TXT",
        [ep("example.org", "TXT", ["foo.example.org."])],
        [("example.org", "TXT", ("foo.example.org.",), 180)],
    ),
    Case(
        f"{UPSTREAM}: illegal target A",
        [ep("example.org", "A", ["1.2.3.4."])],
        [],
        ["spec.endpoints[0].targets"],
    ),
    Case(
        f"{UPSTREAM}: MX Record allowing trailing dot in target -- with its preference",
        [ep("example.org", "MX", ["10 example.com."])],
        [("example.org", "MX", ("10 example.com",), 180)],
    ),
    Case(
        f"{UPSTREAM}: MX Record without trailing dot in target -- with its preference",
        [ep("example.org", "MX", ["10 example.com"])],
        [("example.org", "MX", ("10 example.com",), 180)],
    ),
    Case(
        f"{UPSTREAM}: provider-specific properties are passed through from DNSEndpoint spec"
        " -- published, the properties reported as ignored",
        [
            {
                **ep("subdomain.example.org", "CNAME", ["other.example.org"]),
                "providerSpecific": [{"name": "aws/failover", "value": "PRIMARY"}],
                "setIdentifier": "some-unique-id",
            }
        ],
        [("subdomain.example.org", "CNAME", ("other.example.org",), 180)],
        ["spec.endpoints[0].setIdentifier", "spec.endpoints[0].providerSpecific"],
    ),
    Case(
        "TestCRDSourceIllegalTargetWarnings: A record with trailing dot warns with fix suggestion",
        [ep("example.org", "A", ["1.2.3.4."]), ep("ok.example.org", "A", ["1.2.3.4"])],
        [("ok.example.org", "A", ("1.2.3.4",), 180)],
        ["spec.endpoints[0].targets"],
    ),
    Case(
        "TestCRDSourceIllegalTargetWarnings: CNAME with empty targets produces no warning"
        " -- dnssync says there is no target",
        [ep("example.org", "CNAME", [])],
        [],
        ["spec.endpoints[0].targets"],
    ),
]


def _places(errors: tuple[Any, ...]) -> list[str]:
    return [e.where.split(": ", 1)[1] for e in errors]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.upstream)
def test_external_dns_crd_cases(case: Case) -> None:
    """Each upstream case publishes what external-dns publishes, or names the entry left out."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo", "generation": 1},
        "spec": {"endpoints": case.endpoints},
    }
    result = dnsendpoint_endpoints(obj, case.options)
    assert [(e.name, e.type, e.targets, e.ttl) for e in result.endpoints] == case.want
    assert all(e.source == REF for e in result.endpoints)
    assert _places(result.errors) == case.errors


def test_annotation_filter_selects_the_object() -> None:
    """testCRDSourceEndpoints' annotation rows: a non-matching filter selects nothing, quietly."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo", "annotations": {"test": "that"}},
        "spec": {"endpoints": [ep("abc.example.org", "A", ["1.2.3.4"])]},
    }
    other = dnsendpoint_endpoints(obj, SourceOptions(annotation_filter=parse_filter("test=else")))
    assert not other.selected and not other.endpoints and not other.errors
    same = dnsendpoint_endpoints(obj, SourceOptions(annotation_filter=parse_filter("test=that")))
    assert [e.name for e in same.endpoints] == ["abc.example.org"]


def test_every_record_type_and_txt_as_written() -> None:
    """TXT content, CAA, PTR and AAAA come out canonical; a TTL 0 means the default TTL."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo"},
        "spec": {
            "endpoints": [
                ep("example.org", "TXT", ["v=spf1 include:_spf.example.net -all"], 0),
                ep("example.org", "CAA", ['0 issue "letsencrypt.org"']),
                ep("1.2.0.192.in-addr.arpa", "PTR", ["Host.Example.org."]),
                ep("v6.example.org", "aaaa", ["2001:DB8:0:0::1"]),
            ]
        },
    }
    result = dnsendpoint_endpoints(obj, SourceOptions(default_ttl=600))
    assert not result.errors
    assert {(e.name, e.type): (e.targets, e.ttl) for e in result.endpoints} == {
        ("example.org", "TXT"): (("v=spf1 include:_spf.example.net -all",), 600),
        ("example.org", "CAA"): (('0 issue "letsencrypt.org"',), 180),
        ("1.2.0.192.in-addr.arpa", "PTR"): (("host.example.org",), 180),
        ("v6.example.org", "AAAA"): (("2001:db8::1",), 180),
    }


@pytest.mark.parametrize(
    ("entry", "place"),
    [
        ({"recordType": "A", "targets": ["192.0.2.1"]}, "spec.endpoints[0].dnsName"),
        ({"dnsName": "a..example.org", "recordType": "A", "targets": ["192.0.2.1"]}, "dnsName"),
        ({"dnsName": "a.example.org", "targets": ["192.0.2.1"]}, "spec.endpoints[0].recordType"),
        ({"dnsName": "a.example.org", "recordType": "A", "targets": "192.0.2.1"}, "targets"),
        ({"dnsName": "a.example.org", "recordType": "MX", "targets": ["mail"]}, "targets"),
        ({"dnsName": "a.example.org", "recordType": "CNAME", "targets": ["x.o", "y.o"]}, "targets"),
        ("not a mapping", "spec.endpoints[0]"),
    ],
)
def test_a_bad_entry_is_one_error_and_the_rest_is_published(entry: object, place: str) -> None:
    """One broken entry costs only itself: one error naming its field; the next one is published."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo"},
        "spec": {"endpoints": [entry, ep("good.example.org", "A", ["192.0.2.9"])]},
    }
    result = dnsendpoint_endpoints(obj, SourceOptions())
    assert [e.name for e in result.endpoints] == ["good.example.org"]
    [error] = result.errors
    assert error.where.startswith("crd foo/test: spec.endpoints[0]") and place in error.where


def test_a_bad_ttl_keeps_the_record_with_the_default_ttl() -> None:
    """recordTTL out of range or not a number is reported; the record still goes out."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo"},
        "spec": {"endpoints": [ep("a.example.org", "A", ["192.0.2.1"], -5)]},
    }
    result = dnsendpoint_endpoints(obj, SourceOptions())
    assert [(e.name, e.ttl) for e in result.endpoints] == [("a.example.org", None)]
    assert _places(result.errors) == ["spec.endpoints[0].recordTTL"]


def test_the_same_record_in_two_entries_is_merged() -> None:
    """Two entries with one name and type are one record set (external-dns merges them)."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo"},
        "spec": {
            "endpoints": [
                ep("a.example.org", "A", ["192.0.2.1"]),
                ep("a.example.org", "A", ["192.0.2.2"], 60),
            ]
        },
    }
    result = dnsendpoint_endpoints(obj, SourceOptions())
    assert [(e.targets, e.ttl) for e in result.endpoints] == [(("192.0.2.1", "192.0.2.2"), 180)]
    assert _places(result.errors) == ["spec.endpoints[1].recordTTL"]


@pytest.mark.parametrize("obj", [None, [], {"metadata": {"namespace": "foo"}}])
def test_a_malformed_object_is_one_error(obj: Any) -> None:
    """No mapping, or no name: one error, nothing published, never an exception."""
    result = dnsendpoint_endpoints(obj, SourceOptions())
    assert not result.endpoints and len(result.errors) == 1


def test_labels_are_reported_as_ignored() -> None:
    """Endpoint labels have no place in an RFC 2136 record: reported, the record published."""
    obj = {
        "metadata": {"name": "test", "namespace": "foo"},
        "spec": {"endpoints": [{**ep("a.example.org", "A", ["192.0.2.1"]), "labels": {"x": "y"}}]},
    }
    result = dnsendpoint_endpoints(obj, SourceOptions())
    assert [e.name for e in result.endpoints] == ["a.example.org"]
    assert _places(result.errors) == ["spec.endpoints[0].labels"]
