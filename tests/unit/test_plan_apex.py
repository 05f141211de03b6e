"""external-dns's apex ownership names, read where the target serves the zone holding them.

external-dns names the apex's ownership TXT by its formula alone (``extdns-a-example.com``
for ``example.com``), which lies outside the zone unless the prefix is templated and ends
in a dot.  Its data (registry/mapper/mapper_test.go, TestToEndpointNameNewTXT) is read
here with the record as a zone apex.  A zone of the target above the apex may hold such a
TXT (external-dns's rfc2136 provider sends it there for a suffix affix): dnssync reads it
as a claim, never edits it from the child zone's messages, and the parent zone keeps it
while the record it marks exists.
"""

from __future__ import annotations

import pytest

from dnssync.model import Endpoint, Nearby, ObjectRef, Policy, RecordKey, RRset, ZoneSnapshot
from dnssync.plan import PlanOptions, apex_neighbours, nearby, plan
from dnssync.registry import Registry, RegistryOptions, format_labels
from tests.unit import zonesim
from tests.unit.extdns_cases import mapper

PARENT, CHILD = "parent.test", "child.parent.test"
ZONES = (PARENT, CHILD)
REG = Registry(RegistryOptions("me", suffix="-own"))
OUTSIDE = "a-child-own.parent.test"  # external-dns's name for CHILD's apex A
INSIDE = "a--own.child.parent.test"  # dnssync's in-zone name for it
WEB = "service/web/web"
SYNC = PlanOptions(policy=Policy.SYNC)


def label(owner: str = "me") -> str:
    return format_labels({"owner": owner, "resource": WEB})


def apex_ep(ip: str) -> Endpoint:
    return Endpoint(CHILD, "A", (ip,), ObjectRef("service", "web", "web"))


def child(*rrsets: RRset) -> ZoneSnapshot:
    return zonesim.zone_of(CHILD, rrsets)


def parent(*rrsets: RRset) -> ZoneSnapshot:
    return zonesim.zone_of(PARENT, rrsets)


APEX_A = RRset.of(CHILD, "A", 300, ("192.0.2.1",))


def ext_txt(owner: str = "me") -> RRset:
    return RRset.of(OUTSIDE, "TXT", 300, (label(owner),))


@pytest.mark.parametrize("case", mapper.ROUND_TRIP, ids=[c[0] for c in mapper.ROUND_TRIP])
def test_external_dns_apex_name_outside_or_kept(case: tuple[str, str, str, str, str, str]) -> None:
    """TestToEndpointNameNewTXT at an apex: outside, read from elsewhere; inside, written."""
    _, prefix, suffix, name, type_, txt = case
    reg = Registry(RegistryOptions("me", prefix, suffix))
    inside = txt != name and txt.endswith("." + name)
    assert reg.outside_apex_name(name, type_, zone=name) == (None if inside else txt)
    if inside:
        assert reg.txt_name(name, type_, zone=name) == txt


def test_prefix_extdns_apex_name_is_a_sibling_of_the_zone() -> None:
    """Prefix extdns- (the seed's): external-dns names the apex A extdns-a-<zone>, outside it."""
    reg = Registry(RegistryOptions("me", prefix="extdns-"))
    assert reg.outside_apex_name(CHILD, "A", zone=CHILD) == "extdns-a-child.parent.test"
    assert reg.txt_name(CHILD, "A", zone=CHILD) == "extdns-a-.child.parent.test"
    assert reg.outside_apex_name(f"www.{CHILD}", "A", zone=CHILD) is None


def test_neighbours_pair_a_zone_with_the_zone_holding_its_apex_name() -> None:
    """Parent and child zones of one target read each other; unrelated zones read nothing."""
    found = apex_neighbours((*ZONES, "other.test"), REG, ("A", "AAAA", "CNAME"))
    assert found == {PARENT: {CHILD}, CHILD: {PARENT}, "other.test": set()}
    templated = Registry(RegistryOptions("me", prefix="%{record_type}."))
    assert apex_neighbours(ZONES, templated, ("A",)) == {PARENT: set(), CHILD: set()}


def test_apex_owned_by_its_external_dns_name_in_the_parent_plans_nothing() -> None:
    """The parent's TXT says our owner: the child's apex A is ours, and as wanted."""
    near = nearby(CHILD, ZONES, {PARENT: parent(ext_txt())}, REG, ("A",))
    assert near == Nearby({RecordKey(OUTSIDE, "TXT"): ext_txt()}, frozenset())
    p = plan([apex_ep("192.0.2.1")], child(APEX_A), REG, SYNC, near)
    assert p.changes == () and p.skipped == () and p.owned == 1


def test_apex_update_writes_its_in_zone_name_and_leaves_the_parent_alone() -> None:
    """An update applies to the child alone: the in-zone TXT is added, the parent's never named."""
    near = nearby(CHILD, ZONES, {PARENT: parent(ext_txt())}, REG, ("A",))
    p = plan([apex_ep("192.0.2.2")], child(APEX_A), REG, SYNC, near)
    after = zonesim.apply(child(APEX_A), p.changes)  # NOTZONE if anything outside is touched
    assert after.get(CHILD, "A") == RRset.of(CHILD, "A", 300, ("192.0.2.2",))
    assert after.get(INSIDE, "TXT") is not None
    assert plan([apex_ep("192.0.2.2")], after, REG, SYNC, near).changes == ()


def test_apex_delete_takes_only_the_child_records() -> None:
    """Under sync the unwanted apex A goes; the parent's TXT is the parent's to clean up."""
    near = nearby(CHILD, ZONES, {PARENT: parent(ext_txt())}, REG, ("A",))
    p = plan([], child(APEX_A), REG, SYNC, near)
    after = zonesim.apply(child(APEX_A), p.changes)
    assert after.get(CHILD, "A") is None


def test_apex_claimed_elsewhere_by_another_owner_is_not_ours() -> None:
    """The parent's TXT names another owner: the apex A is skipped, untouched."""
    near = nearby(CHILD, ZONES, {PARENT: parent(ext_txt("them"))}, REG, ("A",))
    p = plan([apex_ep("192.0.2.2")], child(APEX_A), REG, SYNC, near)
    assert p.changes == ()
    assert [s.reason for s in p.skipped] == ["owned by 'them'"]


def test_parent_keeps_the_apex_txt_while_the_child_record_exists() -> None:
    """In the parent the TXT marks the child's apex A: no orphan while it exists, deleted after."""
    held = nearby(PARENT, ZONES, {CHILD: child(APEX_A)}, REG, ("A",))
    assert held.records == frozenset({RecordKey(CHILD, "A")})
    assert plan([], parent(ext_txt()), REG, SYNC, held).changes == ()
    gone = nearby(PARENT, ZONES, {CHILD: child()}, REG, ("A",))
    p = plan([], parent(ext_txt()), REG, SYNC, gone)
    assert zonesim.apply(parent(ext_txt()), p.changes).get(OUTSIDE, "TXT") is None
