"""Reverse (PTR) records: external-dns's ``--create-ptr`` and ``record-type`` cases as data,
the annotation through the Service converter, and the planner owning and cleaning them up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dnssync.config import load
from dnssync.errors import ConfigError
from dnssync.model import DERIVED, Endpoint, ObjectRef, Policy, RRset
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions
from dnssync.sources.annotations import DEFAULT_PREFIX
from dnssync.sources.convert import SourceOptions, ptr_wish
from dnssync.sources.reverse import reverse_endpoints
from dnssync.sources.services import service_endpoints
from tests.unit import zonesim
from tests.unit.extdns_cases import ptr

REF = ObjectRef("service", "web", "web")
REV = "49.168.192.in-addr.arpa"
REG = Registry(RegistryOptions("me", prefix="extdns-"))
TYPES = frozenset({"A", "AAAA", "CNAME", "PTR"})


@pytest.mark.parametrize("case", ptr.CASES, ids=[c.upstream for c in ptr.CASES])
def test_ptr_source_cases(case: ptr.PtrCase) -> None:
    """ptrSource / NewPTREndpoint: which A/AAAA get a PTR, its name, values and TTL."""
    eps = [
        Endpoint(n, t, targets, REF, ttl, ptr_wish(a)) for n, t, targets, ttl, a in case.endpoints
    ]
    got = [(e.name, e.targets, e.ttl) for e in reverse_endpoints(eps, case.default)]
    assert got == list(case.ptrs)
    assert all(e.type == "PTR" and e.source == DERIVED for e in reverse_endpoints(eps, True))


@pytest.mark.parametrize(
    ("value", "wish"), [("ptr", True), ("PTR", True), ("Ptr", True), ("", False), ("cname", False)]
)
def test_record_type_annotation_on_a_service(value: str, wish: bool) -> None:
    """The record-type annotation reaches the Service's endpoints (ptr, any case, opts in)."""
    svc = {
        "metadata": {
            "name": "web",
            "namespace": "web",
            "annotations": {
                DEFAULT_PREFIX + "hostname": "web.example.com",
                DEFAULT_PREFIX + "record-type": value,
            },
        },
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}},
    }
    (ep,) = service_endpoints(svc, SourceOptions()).endpoints
    assert ep.ptr is wish


def test_a_bad_address_target_gets_no_ptr() -> None:
    """A target that is no address (a source's fault) makes no PTR; the planner reports the A."""
    eps = [Endpoint("web.example.com", "A", ("192.168.49.300", "192.168.49.2"), REF)]
    assert [e.name for e in reverse_endpoints(eps, True)] == [f"2.{REV}"]


def test_ptr_is_owned_like_external_dns_writes_it_and_cleaned_up() -> None:
    """Its TXT is extdns-ptr-<name> without a resource label; when the A goes, sync deletes both."""
    a = Endpoint("web.example.com", "A", ("192.168.49.2",), REF)
    empty = zonesim.zone_of(REV, [])
    first = plan(reverse_endpoints([a], True), empty, REG, PlanOptions(managed_types=TYPES))
    after = zonesim.apply(empty, first.changes)
    assert after.get(f"2.{REV}", "PTR") == RRset.of(f"2.{REV}", "PTR", 300, ("web.example.com",))
    txt = after.get(f"extdns-ptr-2.{REV}", "TXT")
    assert txt is not None and txt.values == ("heritage=external-dns,external-dns/owner=me",)
    again = plan(reverse_endpoints([a], True), after, REG, PlanOptions(managed_types=TYPES))
    assert again.changes == ()
    kept = plan([], after, REG, PlanOptions(managed_types=TYPES))
    assert kept.changes == () and [o.rrset.type for o in kept.orphans] == ["PTR"]
    gone = plan([], after, REG, PlanOptions(policy=Policy.SYNC, managed_types=TYPES))
    cleaned = zonesim.apply(after, gone.changes)
    assert cleaned.get(f"2.{REV}", "PTR") is None
    assert cleaned.get(f"extdns-ptr-2.{REV}", "TXT") is None


def test_create_ptr_needs_ptr_managed(tmp_path: Path) -> None:
    """create_ptr without PTR in managed_record_types is one clear configuration error."""
    target = {"name": "t", "zones": ["example.com", REV], "create_ptr": True}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"targets": [target]}))
    with pytest.raises(ConfigError, match="create_ptr needs PTR in managed_record_types"):
        load(path, env={})
    target["managed_record_types"] = ["A", "PTR"]
    path.write_text(yaml.safe_dump({"targets": [target]}))
    assert load(path, env={}).targets[0].create_ptr is True
