"""Domain filters match exactly as external-dns v0.22's (its own table, transcribed)."""

from __future__ import annotations

import pytest

from dnssync.domainfilter import DomainFilter
from dnssync.errors import ConfigError
from dnssync.model import Endpoint, ObjectRef, Policy, RRset, ZoneSnapshot
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions
from tests.unit.extdns_cases import domain_filter as cases


@pytest.mark.parametrize(
    ("include", "exclude", "domains", "expected"),
    cases.PLAIN,
    ids=[f"domainFilterTests[{i}]" for i in range(len(cases.PLAIN))],
)
def test_domain_filter_match(
    include: tuple[str, ...], exclude: tuple[str, ...], domains: tuple[str, ...], expected: bool
) -> None:
    """domainFilterTests: each domain, with and without its trailing dot, matches as upstream."""
    f = DomainFilter(include, exclude)
    for domain in domains:
        assert f.match(domain) is expected
        assert f.match(domain + ".") is expected


@pytest.mark.parametrize(
    ("regex", "exclusion", "domains", "expected"),
    cases.REGEX,
    ids=[f"regexDomainFilterTests[{i}]" for i in range(len(cases.REGEX))],
)
def test_regex_domain_filter(
    regex: str, exclusion: str, domains: tuple[str, ...], expected: bool
) -> None:
    """regexDomainFilterTests: the exclusion wins, then the inclusion decides."""
    f = DomainFilter(regex=regex, regex_exclude=exclusion)
    for domain in domains:
        assert f.match(domain) is expected


def test_default_filter_matches_everything() -> None:
    """TestDomainFilterMatchWithEmptyFilter: no filter configured lets every name through."""
    assert DomainFilter().match("anything.example.org")
    assert not DomainFilter().configured


def test_bad_regex_is_a_config_error() -> None:
    """A regular expression that does not compile is refused when the target is built."""
    with pytest.raises(ConfigError, match="regex_domain_filter"):
        DomainFilter(regex="(")


def test_planner_leaves_names_outside_the_filter_alone() -> None:
    """Outside the filter nothing is published, and not even our own records are deleted."""
    reg = Registry(RegistryOptions("me", "extdns-"))
    zone = "example.org"
    ref = ObjectRef("service", "ns", "a")
    own = reg.ownership(f"old.api.{zone}", "A", zone=zone, resource=ref.resource)
    rrsets = [
        RRset.of(f"old.api.{zone}", "A", 300, ["192.0.2.1"]),
        RRset.of(own.name, "TXT", 300, [own.value]),
    ]
    snapshot = ZoneSnapshot(zone, 1, {r.key: r for r in rrsets})
    options = PlanOptions(policy=Policy.SYNC, domain_filter=DomainFilter((zone,), (f"api.{zone}",)))
    desired = [
        Endpoint(f"new.api.{zone}", "A", ("192.0.2.2",), ref),
        Endpoint(f"www.{zone}", "A", ("192.0.2.3",), ref),
    ]
    result = plan(desired, snapshot, reg, options)
    assert [c.name for c in result.changes] == [f"www.{zone}"]
    assert [(s.key.name, s.reason) for s in result.skipped] == [
        (f"new.api.{zone}", "outside the domain filter")
    ]
    assert result.orphans == ()
