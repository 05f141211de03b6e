"""The planner: golden examples, and properties checked against an RFC 2136 server model.

Every plan here is applied with :mod:`tests.unit.zonesim` -- the real UPDATE
builder's messages, processed as a server does -- so "the prerequisites hold"
and "planning again gives nothing" are checked on the zone a server would
hold, not on the planner's own idea of it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.model import (
    Action,
    Change,
    Conflict,
    Endpoint,
    ObjectRef,
    Owned,
    Ownership,
    Plan,
    Policy,
    RecordKey,
    RRset,
    ZoneSnapshot,
)
from dnssync.plan import PlanOptions, holds, plan
from dnssync.registry import Registry, RegistryOptions, format_labels
from tests.unit import zonesim

ZONE = "example.com"
ME = "me"
THEM = "them"
WEB = "ingress/ns/web"
API = "service/ns/api"
OPTIONS = RegistryOptions(owner_id=ME, prefix="extdns-")
REG = Registry(OPTIONS)
SPF = "v=spf1 include:_spf.example.net ~all"
DEFAULT = PlanOptions()


def value(owner: str = ME, resource: str = WEB) -> str:
    """An ownership value exactly as external-dns writes it."""
    return f"heritage=external-dns,external-dns/owner={owner},external-dns/resource={resource}"


# --- building zones and desired state --------------------------------------


def fq(rel: str) -> str:
    """``www`` -> ``www.example.com``; ``@`` is the apex."""
    return ZONE if rel == "@" else f"{rel}.{ZONE}"


def ref(resource: str) -> ObjectRef:
    kind, namespace, name = resource.split("/")
    return ObjectRef(kind, namespace, name)


def ep(
    rel: str, type_: str, *targets: str, resource: str = WEB, ttl: int | None = None
) -> Endpoint:
    return Endpoint(fq(rel), type_, tuple(sorted(targets)), ref(resource), ttl)


def rr(rel: str, type_: str, *values: str, ttl: int = 300) -> RRset:
    return RRset.of(fq(rel), type_, ttl, values)


def claim(
    rel: str, type_: str, owner: str = ME, resource: str = WEB, options: RegistryOptions = OPTIONS
) -> RRset:
    """The ownership TXT ``owner``'s registry writes for record (``rel``, ``type_``)."""
    registry = Registry(
        RegistryOptions(owner, options.prefix, options.suffix, options.wildcard_replacement)
    )
    o = registry.ownership(fq(rel), type_, zone=ZONE, resource=resource)
    return RRset.of(o.name, "TXT", 300, (o.value,))


def ours(rel: str, type_: str, *values: str, ttl: int = 300, resource: str = WEB) -> list[RRset]:
    return [rr(rel, type_, *values, ttl=ttl), claim(rel, type_, ME, resource)]


def theirs(rel: str, type_: str, *values: str, resource: str = API) -> list[RRset]:
    return [rr(rel, type_, *values), claim(rel, type_, THEM, resource)]


def snap(*parts: RRset | list[RRset], other: Iterable[str] = ()) -> ZoneSnapshot:
    flat: list[RRset] = []
    for p in parts:
        flat.extend(p if isinstance(p, list) else [p])
    return zonesim.zone_of(ZONE, flat, [fq(o) for o in other])


def make_plan(
    desired: Iterable[Endpoint],
    snapshot: ZoneSnapshot,
    options: PlanOptions = DEFAULT,
    registry: Registry = REG,
) -> Plan:
    return plan(desired, snapshot, registry, options)


def converge(
    desired: Sequence[Endpoint],
    snapshot: ZoneSnapshot,
    options: PlanOptions = DEFAULT,
    registry: Registry = REG,
) -> ZoneSnapshot:
    """Plan, apply (every prerequisite must hold), and check planning again gives nothing."""
    p = make_plan(desired, snapshot, options, registry)
    after = zonesim.apply(snapshot, p.changes)
    again = make_plan(desired, after, options, registry)
    assert again.changes == (), again.changes
    return after


def owned(rrset: RRset, owner_txt: RRset, resource: str = WEB) -> Owned:
    (v,) = owner_txt.values
    return Owned(rrset, Ownership(owner_txt.name, v), resource)


def reasons(p: Plan) -> dict[RecordKey, str]:
    return {s.key: s.reason for s in p.skipped}


UPSERT = PlanOptions(policy=Policy.UPSERT_ONLY)
SYNC = PlanOptions(policy=Policy.SYNC)
CREATE = PlanOptions(policy=Policy.CREATE_ONLY)
ALL_POLICIES = [PlanOptions(policy=p) for p in Policy]


# --- creates, updates, no-ops ----------------------------------------------


def test_create_into_empty_zone_requires_record_and_txt_absent() -> None:
    """A create carries the record and its TXT, guarded by both being absent."""
    p = make_plan([ep("www", "A", "10.0.0.1")], snap())
    assert p.changes == (
        Change(
            Action.CREATE,
            fq("www"),
            new=(
                Owned(
                    RRset(fq("www"), "A", 300, ("10.0.0.1",)),
                    Ownership("extdns-a-www.example.com", value()),
                    WEB,
                ),
            ),
            require_absent=(
                RecordKey(fq("www"), "A"),
                RecordKey("extdns-a-www.example.com", "TXT"),
            ),
        ),
    )
    assert (p.conflicts, p.skipped, p.orphans, p.refused) == ((), (), (), "")
    after = zonesim.apply(snap(), p.changes)
    assert after.get(fq("www"), "A") == rr("www", "A", "10.0.0.1")
    assert after.get("extdns-a-www.example.com", "TXT") == RRset(
        "extdns-a-www.example.com", "TXT", 300, (value(),)
    )
    assert after.serial == 2


def test_cname_create_requires_the_name_unused() -> None:
    """A CNAME create requires the whole name unused, not just no CNAME there."""
    p = make_plan([ep("api", "CNAME", "lb.example.net")], snap())
    (change,) = p.changes
    assert change.action is Action.CREATE
    assert change.require == ()
    assert change.require_absent == (
        RecordKey(fq("api"), "ANY"),
        RecordKey("extdns-cname-api.example.com", "TXT"),
    )
    after = converge([ep("api", "CNAME", "lb.example.net")], snap())
    assert after.get(fq("api"), "CNAME") == rr("api", "CNAME", "lb.example.net")


def test_update_of_ours_requires_the_exact_record_and_txt() -> None:
    """An update names the old RRset and its ownership TXT RRset exactly as read."""
    zone = snap(ours("www", "A", "10.0.0.1"))
    p = make_plan([ep("www", "A", "10.0.0.2")], zone)
    old = owned(rr("www", "A", "10.0.0.1"), claim("www", "A"))
    new = owned(rr("www", "A", "10.0.0.2"), claim("www", "A"))
    assert p.changes == (
        Change(
            Action.UPDATE,
            fq("www"),
            old=(old,),
            new=(new,),
            require=(claim("www", "A"), rr("www", "A", "10.0.0.1")),
        ),
    )
    after = converge([ep("www", "A", "10.0.0.2")], zone)
    assert after.get(fq("www"), "A") == rr("www", "A", "10.0.0.2")
    assert after.get("extdns-a-www.example.com", "TXT") == claim("www", "A")


@pytest.mark.parametrize("options", ALL_POLICIES, ids=lambda o: str(o.policy))
def test_equal_records_plan_nothing(options: PlanOptions) -> None:
    """A zone already as desired gives an empty plan under every policy."""
    zone = snap(
        ours("www", "A", "10.0.0.1", "10.0.0.2"),
        ours("www", "AAAA", "2001:db8::1"),
        ours("api", "CNAME", "lb.example.net"),
    )
    desired = [
        ep("www", "A", "10.0.0.2", "10.0.0.1"),
        ep("www", "AAAA", "2001:db8::1", ttl=300),
        ep("api", "CNAME", "lb.example.net"),
    ]
    p = make_plan(desired, zone, options)
    assert p == Plan(ZONE, owned=3, desired=3)


def test_resource_change_alone_is_not_rewritten() -> None:
    """Another resource asking for the same data causes no churn (external-dns does the same)."""
    zone = snap(ours("www", "A", "10.0.0.1", resource=WEB))
    assert make_plan([ep("www", "A", "10.0.0.1", resource=API)], zone, SYNC).changes == ()


def test_update_moves_the_ownership_value_to_the_new_resource() -> None:
    """An update by another resource swaps the TXT value within the same change."""
    zone = snap(ours("www", "A", "10.0.0.1", resource=WEB))
    (change,) = make_plan([ep("www", "A", "10.0.0.2", resource=API)], zone).changes
    assert change.action is Action.UPDATE
    assert change.old[0].owner.value == value(ME, WEB)
    assert change.new[0].owner.value == value(ME, API)
    after = converge([ep("www", "A", "10.0.0.2", resource=API)], zone)
    assert after.get("extdns-a-www.example.com", "TXT") == claim("www", "A", ME, API)


# --- TTL ---------------------------------------------------------------------


def test_ttl_none_keeps_the_existing_ttl() -> None:
    """Without a TTL, an existing record keeps its TTL: no churn, and updates keep it too."""
    zone = snap(ours("www", "A", "10.0.0.1", ttl=3600))
    assert make_plan([ep("www", "A", "10.0.0.1")], zone).changes == ()
    (change,) = make_plan([ep("www", "A", "10.0.0.2")], zone).changes
    assert change.new[0].rrset.ttl == 3600


def test_ttl_none_gets_the_default_on_create() -> None:
    """Without a TTL, a new record gets the default TTL."""
    (change,) = make_plan(
        [ep("www", "A", "10.0.0.1")], snap(), PlanOptions(default_ttl=120)
    ).changes
    assert change.new[0].rrset.ttl == 120


def test_explicit_ttl_change_is_an_update() -> None:
    """A changed TTL alone rewrites the record."""
    zone = snap(ours("www", "A", "10.0.0.1", ttl=300))
    (change,) = make_plan([ep("www", "A", "10.0.0.1", ttl=60)], zone).changes
    assert change.new[0].rrset.ttl == 60
    converge([ep("www", "A", "10.0.0.1", ttl=60)], zone)


@pytest.mark.parametrize(("asked", "written"), [(5, 60), (10**7, 86_400), (600, 600)])
def test_ttl_is_clamped(asked: int, written: int) -> None:
    """An endpoint's TTL is clamped to [min_ttl, max_ttl], and the clamped value is stable."""
    options = PlanOptions(min_ttl=60, max_ttl=86_400)
    (change,) = make_plan([ep("www", "A", "10.0.0.1", ttl=asked)], snap(), options).changes
    assert change.new[0].rrset.ttl == written
    after = converge([ep("www", "A", "10.0.0.1", ttl=asked)], snap(), options)
    assert after.get(fq("www"), "A") == rr("www", "A", "10.0.0.1", ttl=written)


def test_existing_ttl_out_of_bounds_is_brought_in_once() -> None:
    """An unset TTL does not keep an existing TTL below min_ttl; the fix converges."""
    options = PlanOptions(min_ttl=60, default_ttl=300)
    zone = snap(ours("www", "A", "10.0.0.1", ttl=10))
    (change,) = make_plan([ep("www", "A", "10.0.0.1")], zone, options).changes
    assert change.new[0].rrset.ttl == 300
    converge([ep("www", "A", "10.0.0.1")], zone, options)


# --- ownership ---------------------------------------------------------------


@pytest.mark.parametrize("options", ALL_POLICIES, ids=lambda o: str(o.policy))
def test_record_of_another_owner_is_skipped_and_untouched(options: PlanOptions) -> None:
    """Another owner's record is never updated nor deleted; wanting it is reported."""
    zone = snap(theirs("www", "A", "10.0.0.9"), theirs("old", "A", "10.0.0.8"))
    p = make_plan([ep("www", "A", "10.0.0.1")], zone, options)
    assert p.changes == ()
    assert p.orphans == ()
    assert reasons(p) == {RecordKey(fq("www"), "A"): "owned by 'them'"}


@pytest.mark.parametrize("options", ALL_POLICIES, ids=lambda o: str(o.policy))
def test_manual_record_is_skipped_and_untouched(options: PlanOptions) -> None:
    """A record without ownership TXT (manual, DHCP) is never ours."""
    zone = snap(rr("www", "A", "10.0.0.9"), rr("old", "A", "10.0.0.8"))
    p = make_plan([ep("www", "A", "10.0.0.1")], zone, options)
    assert p.changes == ()
    assert p.orphans == ()
    assert "no ownership record" in reasons(p)[RecordKey(fq("www"), "A")]


def test_record_claimed_by_two_owners_is_nobodys() -> None:
    """A record both we and another owner claim is not ours, and the reason names the other."""
    both = RRset.of("extdns-a-www.example.com", "TXT", 300, (value(ME), value(THEM)))
    zone = snap(rr("www", "A", "10.0.0.9"), both)
    p = make_plan([ep("www", "A", "10.0.0.1")], zone, SYNC)
    assert p.changes == ()
    assert reasons(p) == {RecordKey(fq("www"), "A"): "owned by 'them'"}


def test_another_owners_stale_txt_blocks_a_create() -> None:
    """An ownership TXT of another owner without its record keeps us from taking the name."""
    zone = snap(claim("www", "A", THEM, API))
    p = make_plan([ep("www", "A", "10.0.0.1")], zone)
    assert p.changes == ()
    assert "belongs to owner 'them'" in reasons(p)[RecordKey(fq("www"), "A")]


def test_user_txt_at_the_ownership_name_is_kept() -> None:
    """A user's TXT beside our ownership value: ownership holds, it is required, never deleted."""
    txt = RRset.of("extdns-a-www.example.com", "TXT", 300, (value(), SPF))
    zone = snap(rr("www", "A", "10.0.0.1"), txt)
    (change,) = make_plan([ep("www", "A", "10.0.0.2")], zone).changes
    assert change.action is Action.UPDATE
    assert txt in change.require
    after = converge([ep("www", "A", "10.0.0.2")], zone)
    assert after.get(txt.name, "TXT") == txt
    gone = converge([], zone, SYNC)
    assert gone.get(fq("www"), "A") is None
    assert gone.get(txt.name, "TXT") == RRset.of(txt.name, "TXT", 300, (SPF,))


def test_create_beside_a_user_txt_at_the_ownership_name() -> None:
    """A create where a user's TXT holds the ownership name requires that TXT and adds to it."""
    user = RRset.of("extdns-a-www.example.com", "TXT", 300, (SPF,))
    (change,) = make_plan([ep("www", "A", "10.0.0.1")], snap(user)).changes
    assert change.require == (user,)
    assert change.require_absent == (RecordKey(fq("www"), "A"),)
    after = converge([ep("www", "A", "10.0.0.1")], snap(user))
    assert set(after.rrsets[user.key].values) == {SPF, value()}


def test_user_txt_at_the_record_name_does_not_matter() -> None:
    """A user's TXT at the record's own name neither grants nor blocks ownership of A records."""
    zone = snap(ours("www", "A", "10.0.0.1"), rr("www", "TXT", SPF))
    after = converge([ep("www", "A", "10.0.0.2")], zone)
    assert after.get(fq("www"), "TXT") == rr("www", "TXT", SPF)


def test_legacy_untyped_ownership_is_ours() -> None:
    """A pre-v0.17 untyped ownership TXT makes the record ours; an update moves it to typed."""
    legacy = RRset.of("extdns-www.example.com", "TXT", 300, (value(),))
    zone = snap(rr("www", "A", "10.0.0.1"), legacy)
    # Unchanged, the record still gets its typed TXT on the next pass (as external-dns does).
    (same,) = make_plan([ep("www", "A", "10.0.0.1")], zone, SYNC).changes
    assert same.new[0].owner == Ownership("extdns-a-www.example.com", value())
    migrated = converge([ep("www", "A", "10.0.0.1")], zone)
    assert make_plan([ep("www", "A", "10.0.0.1")], migrated, SYNC).changes == ()
    assert make_plan([ep("www", "A", "10.0.0.1")], zone, CREATE).changes == ()
    (change,) = make_plan([ep("www", "A", "10.0.0.2")], zone).changes
    assert change.old[0].owner == Ownership(legacy.name, value())
    assert change.new[0].owner == Ownership("extdns-a-www.example.com", value())
    after = converge([ep("www", "A", "10.0.0.2")], zone)
    assert after.get(legacy.name, "TXT") is None
    assert after.get("extdns-a-www.example.com", "TXT") == claim("www", "A")
    gone = converge([], zone, SYNC)
    assert gone.rrsets == {}


# --- CNAME exclusivity and type changes --------------------------------------


def test_cname_to_a_converges_in_one_change_under_upsert_only() -> None:
    """CNAME -> A is one change: the old CNAME and its TXT out, the A and its TXT in."""
    zone = snap(ours("api", "CNAME", "lb.example.net"))
    (change,) = make_plan([ep("api", "A", "10.0.0.1")], zone, UPSERT).changes
    assert change.action is Action.UPDATE
    assert [o.rrset.type for o in change.old] == ["CNAME"]
    assert [n.rrset.type for n in change.new] == ["A"]
    assert change.require == (rr("api", "CNAME", "lb.example.net"), claim("api", "CNAME"))
    assert change.require_absent == (
        RecordKey(fq("api"), "A"),
        RecordKey("extdns-a-api.example.com", "TXT"),
    )
    after = converge([ep("api", "A", "10.0.0.1")], zone, UPSERT)
    assert after.rrsets == snap(ours("api", "A", "10.0.0.1")).rrsets


def test_a_to_cname_converges_in_one_change_under_upsert_only() -> None:
    """A + AAAA -> CNAME is one change replacing both record sets."""
    zone = snap(ours("api", "A", "10.0.0.1"), ours("api", "AAAA", "2001:db8::1"))
    (change,) = make_plan([ep("api", "CNAME", "lb.example.net")], zone, UPSERT).changes
    assert change.action is Action.UPDATE
    assert sorted(o.rrset.type for o in change.old) == ["A", "AAAA"]
    assert [n.rrset.type for n in change.new] == ["CNAME"]
    assert RecordKey(fq("api"), "CNAME") in change.require_absent
    after = converge([ep("api", "CNAME", "lb.example.net")], zone, UPSERT)
    assert after.rrsets == snap(ours("api", "CNAME", "lb.example.net")).rrsets


def test_type_change_is_not_made_under_create_only() -> None:
    """create-only never replaces our CNAME by an A (that is an update)."""
    zone = snap(ours("api", "CNAME", "lb.example.net"))
    p = make_plan([ep("api", "A", "10.0.0.1")], zone, CREATE)
    assert p.changes == ()
    assert "create-only" in reasons(p)[RecordKey(fq("api"), "A")]


@pytest.mark.parametrize(
    "zone",
    [
        snap(other=["api"]),
        snap(rr("api", "TXT", SPF)),
        snap(rr("api", "A", "10.0.0.9")),
        snap(theirs("api", "AAAA", "2001:db8::9")),
        snap(ours("api", "A", "10.0.0.1"), rr("api", "AAAA", "2001:db8::9")),
        snap(ours("api", "A", "10.0.0.1"), other=["api"]),
    ],
    ids=["mx", "user-txt", "manual-a", "their-aaaa", "ours-beside-manual", "ours-beside-mx"],
)
@pytest.mark.parametrize("options", ALL_POLICIES, ids=lambda o: str(o.policy))
def test_cname_is_not_created_beside_other_data(zone: ZoneSnapshot, options: PlanOptions) -> None:
    """A CNAME is skipped where other data stands, and nothing at the name is changed."""
    p = make_plan([ep("api", "CNAME", "lb.example.net")], zone, options)
    assert p.changes == ()
    assert RecordKey(fq("api"), "CNAME") in reasons(p)


def test_cname_at_the_apex_is_skipped() -> None:
    """The apex holds the SOA: a CNAME there is never planned."""
    p = make_plan([ep("@", "CNAME", "lb.example.net")], snap())
    assert p.changes == ()
    assert RecordKey(ZONE, "CNAME") in reasons(p)


def test_address_is_not_created_at_a_foreign_cname() -> None:
    """An A is skipped at a name holding a CNAME that is not ours."""
    p = make_plan([ep("api", "A", "10.0.0.1")], snap(rr("api", "CNAME", "x.example.net")), SYNC)
    assert p.changes == ()
    assert "not ours" in reasons(p)[RecordKey(fq("api"), "A")]


def test_one_resource_asking_cname_beside_a_is_skipped() -> None:
    """One resource asking a CNAME and an A at one name gets neither."""
    p = make_plan([ep("api", "CNAME", "lb.example.net"), ep("api", "A", "10.0.0.1")], snap())
    assert p.changes == ()
    assert set(reasons(p)) == {RecordKey(fq("api"), "CNAME"), RecordKey(fq("api"), "A")}


# --- record names that are ownership names --------------------------------------

PLAIN = Registry(RegistryOptions(ME))  # no affix: www's A is owned from a-www


@pytest.mark.parametrize("cname_owner", [None, ME, THEM])
def test_no_record_is_written_where_its_ownership_name_holds_a_cname(
    cname_owner: str | None,
) -> None:
    """A TXT added at a CNAME name is dropped by the server, so such a record is skipped.

    Without the check the A was created and its ownership TXT silently
    ignored: a record of ours without ownership, never managed again.
    """
    cname = rr("a-www", "CNAME", "lb.example.net")
    owner = (
        [] if cname_owner is None else [claim("a-www", "CNAME", cname_owner, API, PLAIN.options)]
    )
    zone = snap(cname, *owner)
    for options in ALL_POLICIES:
        p = make_plan([ep("www", "A", "192.0.2.1")], zone, options, PLAIN)
        assert fq("www") not in {c.name for c in p.changes}
        assert "holds a CNAME" in reasons(p)[RecordKey(fq("www"), "A")]


@pytest.mark.parametrize("cname_first", [True, False])
def test_cname_is_not_created_at_an_ownership_name_the_plan_needs(cname_first: bool) -> None:
    """A CNAME wanted where another wanted record's ownership TXT goes is skipped, in any order.

    Without the check one plan created both: whichever came second either
    failed its prerequisite (YXDOMAIN) or left the A without its TXT.
    """
    first = "a-www" if cname_first else "a-0x"
    second = "www" if cname_first else "0x"
    desired = [ep(first, "CNAME", "lb.example.net"), ep(second, "A", "192.0.2.1")]
    p = make_plan(desired, snap(), UPSERT, PLAIN)
    assert [c.name for c in p.changes] == [fq(second)]
    assert "ownership record name" in reasons(p)[RecordKey(fq(first), "CNAME")]
    after = converge(desired, snap(), UPSERT, PLAIN)
    assert after.get(f"a-{second}.example.com", "TXT") is not None


def test_legacy_record_is_not_moved_to_a_typed_name_holding_a_cname() -> None:
    """A legacy-owned record keeps its legacy ownership when its typed name holds a CNAME."""
    legacy = RRset.of(fq("www"), "TXT", 300, (value(),))
    zone = snap(rr("www", "A", "192.0.2.1"), legacy, rr("a-www", "CNAME", "lb.example.net"))
    p = make_plan([ep("www", "A", "192.0.2.2")], zone, SYNC, PLAIN)
    assert p.changes == ()
    assert "holds a CNAME" in reasons(p)[RecordKey(fq("www"), "A")]


def test_cname_beside_a_from_the_owner_keeps_its_records_under_sync() -> None:
    """A resource asking CNAME + A where it owns an A gets neither, and its A is not deleted.

    Before the fix the name dropped out of the plan and sync deleted the A;
    with a rival resource asking for the name, the rival took it next round.
    """
    zone = snap(ours("www", "A", "192.0.2.1"))
    desired = [
        ep("www", "A", "192.0.2.1"),
        ep("www", "CNAME", "lb.example.net"),
        ep("www", "A", "192.0.2.2", resource=API),
    ]
    p = make_plan(desired, zone, SYNC)
    assert p.changes == ()
    assert [o.rrset.key for o in p.orphans] == [RecordKey(fq("www"), "A")]
    assert p.conflicts[0].winner == WEB


def test_create_beside_a_leftover_value_of_ours_replaces_it() -> None:
    """A create where a value of ours marks no record replaces it in the same message.

    Before, the leftover stayed beside the new value; when the record was
    deleted later only one went, and the other made any record created there
    afterwards read as ours.
    """
    stale = claim("www", "A", ME, WEB)
    zone = snap(stale)
    desired = [ep("www", "A", "192.0.2.1", resource=API)]
    (change,) = make_plan(desired, zone).changes
    assert change.action is Action.CREATE
    assert change.leftovers == (Ownership(stale.name, value(ME, WEB)),)
    assert change.require == (stale,)
    after = converge(desired, zone)
    assert after.rrsets[stale.key].values == (value(ME, API),)


def test_create_keeps_other_owners_and_user_values_beside_our_leftover() -> None:
    """Only values of ours go: a user's TXT at the ownership name stays."""
    stale = RRset.of(claim("www", "A").name, "TXT", 300, [value(ME, WEB), SPF])
    zone = snap(stale)
    after = converge([ep("www", "A", "192.0.2.1", resource=API)], zone)
    assert set(after.rrsets[stale.key].values) == {SPF, value(ME, API)}


@pytest.mark.parametrize("options", ALL_POLICIES, ids=lambda o: str(o.policy))
def test_update_drops_every_other_value_of_ours(options: PlanOptions) -> None:
    """A record with two values of ours keeps exactly one after any change to it."""
    two = RRset.of(claim("www", "A").name, "TXT", 300, [value(ME, WEB), value(ME, API)])
    zone = snap(rr("www", "A", "192.0.2.1"), two)
    desired = [ep("www", "A", "192.0.2.2", resource=WEB)]
    after = zonesim.apply(zone, make_plan(desired, zone, options).changes)
    if options.policy is Policy.CREATE_ONLY:
        assert after.rrsets == zone.rrsets
    else:
        assert after.rrsets[two.key].values == (value(ME, WEB),)


def test_delete_removes_every_value_of_ours() -> None:
    """A delete takes all our values at the ownership name; a manual record later is not ours."""
    two = RRset.of(claim("www", "A").name, "TXT", 300, [value(ME, WEB), value(ME, API), SPF])
    zone = snap(rr("www", "A", "192.0.2.1"), two)
    after = converge([], zone, SYNC)
    assert after.rrsets[two.key].values == (SPF,)
    manual = snap(*after.rrsets.values(), rr("www", "A", "198.51.100.7"))
    p = make_plan([], manual, SYNC)
    assert p.changes == () and p.orphans == ()
    assert REG.claims(manual, fq("www"), "A") == []


def test_the_issue_scenario_never_deletes_a_later_manual_record() -> None:
    """Issue #10 item 2, step by step: leftover TXT, re-create, object removed, manual A."""
    desired = [ep("www", "A", "192.0.2.1", resource=WEB)]
    zone = converge(desired, snap(), SYNC)
    # The A is deleted by hand; its ownership TXT stays.
    zone = ZoneSnapshot(
        ZONE,
        zone.serial + 1,
        {k: r for k, r in zone.rrsets.items() if k != RecordKey(fq("www"), "A")},
        zone.other_names,
    )
    # Another object now asks for the name, and gets it re-created.
    zone = converge([ep("www", "A", "192.0.2.1", resource=API)], zone, SYNC)
    assert zone.rrsets[RecordKey(claim("www", "A").name, "TXT")].values == (value(ME, API),)
    # The object goes away: record and every value of ours go.
    zone = converge([], zone, SYNC)
    assert [k for k in zone.rrsets if k.name != ZONE] == []
    # A manual record at the name later is never planned for deletion.
    manual = snap(rr("www", "A", "198.51.100.7"))
    assert make_plan([], manual, SYNC).changes == ()


@pytest.mark.parametrize(
    ("zone", "desired", "options"),
    [
        (snap(), [ep("www", "A", "10.0.0.1")], UPSERT),
        (snap(ours("www", "A", "10.0.0.1")), [ep("www", "A", "10.0.0.2")], UPSERT),
        (snap(ours("www", "A", "10.0.0.1")), [ep("www", "CNAME", "lb.example.net")], UPSERT),
        (snap(ours("www", "A", "10.0.0.1")), [], SYNC),
        (snap(claim("gone", "A")), [], SYNC),
    ],
)
def test_holds_tells_an_applied_change_from_a_pending_one(
    zone: ZoneSnapshot, desired: list[Endpoint], options: PlanOptions
) -> None:
    """holds(): false on the zone a change was planned on, true once it is applied."""
    (change,) = make_plan(desired, zone, options).changes
    assert not holds(change, zone)
    assert holds(change, zonesim.apply(zone, [change]))


def test_orphaned_ownership_record_is_listed_under_upsert_only() -> None:
    """An ownership TXT of ours with no record is reported as an orphan, and kept."""
    stale = claim("gone", "A")
    zone = snap(stale, rr("keep", "A", "10.0.0.9"))
    for options in (UPSERT, CREATE):
        p = make_plan([], zone, options)
        assert p.changes == ()
        assert p.orphans == (owned(stale, stale),)


def test_orphaned_ownership_record_is_deleted_under_sync() -> None:
    """sync deletes our values at an ownership name with no record, guarded as read."""
    stale = RRset.of(claim("gone", "A").name, "TXT", 300, [value(ME, WEB), SPF])
    zone = snap(stale, claim("cname-old", "CNAME"))
    p = make_plan([], zone, SYNC)
    assert [(c.action, c.name, c.require) for c in p.changes] == [
        (Action.DELETE, "extdns-a-gone.example.com", (stale,)),
        (Action.DELETE, "extdns-cname-cname-old.example.com", (claim("cname-old", "CNAME"),)),
    ]
    after = converge([], zone, SYNC)
    assert [r.values for r in after.rrsets.values()] == [(SPF,)]


def test_orphans_of_other_owners_and_unread_types_stay() -> None:
    """Their orphans, and ours for types not managed (MX: its record may exist), are left."""
    mx = RRset.of("extdns-mx-mail.example.com", "TXT", 300, [value(ME, WEB)])
    theirs_only = claim("gone", "A", THEM, API)
    zone = snap(mx, theirs_only, other=["mail"])
    p = make_plan([], zone, SYNC)
    assert p.changes == () and p.orphans == ()


def test_legacy_orphan_of_ours_is_deleted_under_sync() -> None:
    """A legacy untyped TXT of ours with no A or CNAME left would claim one made later: it goes."""
    legacy = RRset.of("extdns-old.example.com", "TXT", 300, [value(ME, WEB)])
    zone = snap(legacy, rr("old", "AAAA", "2001:db8::1"))
    after = converge([], zone, SYNC)
    assert legacy.key not in after.rrsets
    assert after.get(fq("old"), "AAAA") is not None


# --- conflicts ---------------------------------------------------------------


def test_conflict_current_owner_keeps_the_name() -> None:
    """The resource that owns the name now keeps it, whatever the ranking would say."""
    zone = snap(ours("www", "A", "10.0.0.1", "10.0.0.2", resource="service/ns/zzz"))
    desired = [
        ep("www", "CNAME", "lb.example.net", resource="ingress/ns/aaa"),
        ep("www", "A", "10.0.0.1", "10.0.0.2", resource="service/ns/zzz"),
    ]
    p = make_plan(desired, zone)
    assert p.changes == ()
    assert p.conflicts == (
        Conflict(fq("www"), "service/ns/zzz", ("ingress/ns/aaa",), "already owns the name"),
    )


@pytest.mark.parametrize(
    ("desired", "winner"),
    [
        (
            [
                ep("www", "A", "10.0.0.1", "10.0.0.2", resource="ingress/ns/a"),
                ep("www", "A", "10.0.0.3", resource="ingress/ns/b"),
            ],
            "ingress/ns/b",
        ),
        (
            [
                ep("www", "CNAME", "lb.example.net", resource="ingress/ns/a"),
                ep("www", "AAAA", "2001:db8::1", resource="ingress/ns/b"),
            ],
            "ingress/ns/b",
        ),
        (
            [
                ep("www", "A", "10.0.0.2", resource="ingress/ns/b"),
                ep("www", "A", "10.0.0.1", resource="ingress/ns/a"),
            ],
            "ingress/ns/a",
        ),
    ],
    ids=["fewer-targets", "addresses-before-hostnames", "resource-order"],
)
def test_conflict_winner_is_deterministic(desired: list[Endpoint], winner: str) -> None:
    """Without a current owner: fewer targets, then addresses, then resource name win."""
    for order in (desired, desired[::-1]):
        p = make_plan(order, snap())
        (conflict,) = p.conflicts
        loser = ({e.source.resource for e in desired} - {winner}).pop()
        assert (conflict.winner, conflict.losers) == (winner, (loser,))
        (change,) = p.changes
        assert change.resource == winner


def test_conflict_loser_never_takes_over() -> None:
    """After applying, the loser stays a loser: no flip-flop between resources."""
    desired = [
        ep("www", "A", "10.0.0.1", resource="ingress/ns/b"),
        ep("www", "A", "10.0.0.2", resource="ingress/ns/a"),
    ]
    after = converge(desired, snap())
    # A new name goes to the lowest target, as external-dns's resolver picks it.
    assert after.get(fq("www"), "A") == rr("www", "A", "10.0.0.1")
    p = make_plan(desired, after)
    assert p.conflicts[0].reason == "already owns the name"
    # The holder keeps it even once its target sorts after the loser's.
    moved = [ep("www", "A", "10.0.0.3", resource="ingress/ns/b"), desired[1]]
    again = converge(moved, after)
    assert again.get(fq("www"), "A") == rr("www", "A", "10.0.0.3")
    assert make_plan(moved, again).conflicts[0].winner == "ingress/ns/b"


# --- policies and orphans ------------------------------------------------------


def test_orphans_are_listed_under_upsert_only() -> None:
    """Ours that nothing wants is reported, not deleted, under upsert-only."""
    zone = snap(ours("old", "A", "10.0.0.1"))
    p = make_plan([], zone, UPSERT)
    assert p.changes == ()
    assert p.orphans == (owned(rr("old", "A", "10.0.0.1"), claim("old", "A")),)


def test_orphans_are_deleted_under_sync() -> None:
    """sync deletes ours that nothing wants, record and TXT, guarded by both as read."""
    zone = snap(ours("old", "A", "10.0.0.1"), rr("keep", "A", "10.0.0.9"))
    p = make_plan([], zone, SYNC)
    assert p.changes == (
        Change(
            Action.DELETE,
            fq("old"),
            old=(owned(rr("old", "A", "10.0.0.1"), claim("old", "A")),),
            require=(claim("old", "A"), rr("old", "A", "10.0.0.1")),
        ),
    )
    assert p.orphans == ()
    after = converge([], zone, SYNC)
    assert after.rrsets == {RecordKey(fq("keep"), "A"): rr("keep", "A", "10.0.0.9")}


def test_sync_deletes_an_unwanted_type_beside_a_wanted_one() -> None:
    """sync drops our AAAA when only the A is still wanted, in the change at that name."""
    zone = snap(ours("www", "A", "10.0.0.1"), ours("www", "AAAA", "2001:db8::1"))
    (change,) = make_plan([ep("www", "A", "10.0.0.1")], zone, SYNC).changes
    assert change.action is Action.DELETE
    assert [o.rrset.type for o in change.old] == ["AAAA"]
    converge([ep("www", "A", "10.0.0.1")], zone, SYNC)


def test_create_only_only_creates() -> None:
    """create-only creates new names, never updates ours, and lists orphans."""
    zone = snap(ours("www", "A", "10.0.0.1"), ours("old", "A", "10.0.0.2"))
    desired = [ep("www", "A", "10.0.0.9"), ep("new", "A", "10.0.0.3")]
    p = make_plan(desired, zone, CREATE)
    assert [(c.action, c.name) for c in p.changes] == [(Action.CREATE, fq("new"))]
    assert "create-only" in reasons(p)[RecordKey(fq("www"), "A")]
    assert [o.rrset.name for o in p.orphans] == [fq("old")]
    converge(desired, zone, CREATE)


# --- the safety gate -----------------------------------------------------------


def _owned_zone(n: int) -> ZoneSnapshot:
    return snap(*[ours(f"h{i}", "A", "10.0.0.1") for i in range(n)])


def test_safety_gate_refuses_mass_deletes_but_keeps_creates() -> None:
    """Deleting more than max_change_ratio of the owned sets is refused; creates still go."""
    zone = _owned_zone(8)
    p = make_plan([ep("fresh", "A", "10.0.0.1")], zone, SYNC)
    assert "8 of 8" in p.refused
    assert [(c.action, c.name) for c in p.changes] == [(Action.CREATE, fq("fresh"))]


def test_safety_gate_counts_rewrites() -> None:
    """Rewriting most owned sets trips the gate as deleting them would."""
    zone = _owned_zone(8)
    p = make_plan([ep(f"h{i}", "A", "10.0.0.2") for i in range(8)], zone, UPSERT)
    assert p.refused
    assert p.changes == ()


def test_safety_gate_yields_to_force() -> None:
    """force plans past the gate."""
    zone = _owned_zone(8)
    options = PlanOptions(policy=Policy.SYNC, force=True)
    p = make_plan([ep("fresh", "A", "10.0.0.1")], zone, options)
    assert p.refused == ""
    assert p.count(Action.DELETE) == 8
    assert p.count(Action.CREATE) == 1
    converge([ep("fresh", "A", "10.0.0.1")], zone, options)


def test_safety_gate_lets_small_and_proportionate_plans_pass() -> None:
    """At most safety_floor touched sets, or at most the ratio, pass."""
    assert make_plan([], _owned_zone(5), SYNC).refused == ""
    desired = [ep(f"h{i}", "A", "10.0.0.1") for i in range(10)]
    assert make_plan(desired, _owned_zone(20), SYNC).refused == ""
    assert make_plan(desired[:9], _owned_zone(20), SYNC).refused != ""


# --- zones ---------------------------------------------------------------------


def test_endpoints_outside_the_zone_are_skipped() -> None:
    """Names outside the zone (label-aware: evilexample.com) are reported, never planned."""
    desired = [
        Endpoint("www.example.org", "A", ("10.0.0.1",), ref(WEB)),
        Endpoint("evilexample.com", "A", ("10.0.0.1",), ref(WEB)),
        Endpoint("com", "A", ("10.0.0.1",), ref(WEB)),
    ]
    p = make_plan(desired, snap())
    assert p.changes == ()
    assert sorted(s.key.name for s in p.skipped) == ["com", "evilexample.com", "www.example.org"]
    assert all("outside zone" in s.reason for s in p.skipped)


def test_apex_record_gets_an_in_zone_ownership_name() -> None:
    """An apex A converges with its ownership TXT inside the zone."""
    after = converge([ep("@", "A", "10.0.0.1")], snap())
    assert after.get("extdns-a-.example.com", "TXT") == claim("@", "A")


# --- migration from and to external-dns ---------------------------------------

EXTDNS = RegistryOptions(owner_id="X", prefix="extdns-")
INGRESS = "ingress/ns/name"


def _external_dns_zone(ttl: int) -> ZoneSnapshot:
    """A zone as external-dns v0.22 writes it with --txt-prefix=extdns- --txt-owner-id=X."""
    v = "heritage=external-dns,external-dns/owner=X,external-dns/resource=ingress/ns/name"
    return zonesim.zone_of(
        ZONE,
        [
            RRset("www.example.com", "A", ttl, ("192.0.2.10",)),
            RRset("extdns-a-www.example.com", "TXT", ttl, (v,)),
            RRset("api.example.com", "CNAME", ttl, ("lb.example.net",)),
            RRset("extdns-cname-api.example.com", "TXT", ttl, (v,)),
        ],
    )


def _migrated_desired(ttl: int | None) -> list[Endpoint]:
    return [
        Endpoint("www.example.com", "A", ("192.0.2.10",), ref(INGRESS), ttl),
        Endpoint("api.example.com", "CNAME", ("lb.example.net",), ref(INGRESS), ttl),
    ]


@pytest.mark.parametrize("ttl", [None, 300])
@pytest.mark.parametrize("options", ALL_POLICIES, ids=lambda o: str(o.policy))
def test_zone_written_by_external_dns_needs_no_change(
    options: PlanOptions, ttl: int | None
) -> None:
    """Taking over external-dns's records (same owner id and prefix) changes nothing."""
    p = make_plan(_migrated_desired(ttl), _external_dns_zone(300), options, Registry(EXTDNS))
    assert p == Plan(ZONE, owned=2, desired=2)


def test_external_dns_ttl_zero_records_need_no_change_with_min_ttl_zero() -> None:
    """external-dns writes TTL 0 when no TTL is set; with min_ttl=0 they are taken over as is."""
    options = PlanOptions(policy=Policy.SYNC, min_ttl=0)
    p = make_plan(_migrated_desired(None), _external_dns_zone(0), options, Registry(EXTDNS))
    assert p == Plan(ZONE, owned=2, desired=2)


def test_zone_written_by_dnssync_is_external_dns_format() -> None:
    """dnssync writes exactly what external-dns would, so the way back needs no change either."""
    written = converge(_migrated_desired(300), snap(), SYNC, Registry(EXTDNS))
    assert written.rrsets == _external_dns_zone(300).rrsets
    assert (
        format_labels({"owner": "X", "resource": INGRESS})
        in written.rrsets[RecordKey("extdns-a-www.example.com", "TXT")].values
    )


# --- concurrency -----------------------------------------------------------------


def test_foreign_write_between_plan_and_apply_fails_only_that_change() -> None:
    """A write landing after the read fails its change's prerequisite; the others apply."""
    zone = snap(ours("upd", "A", "10.0.0.1"), ours("del", "A", "10.0.0.2"))
    desired = [
        ep("upd", "A", "10.0.0.9"),
        ep("new", "A", "10.0.0.3"),
        ep("cn", "CNAME", "lb.example.net"),
    ]
    p = make_plan(desired, zone, SYNC)
    assert len(p.changes) == 4
    for name, intruder, rcode in [
        ("new", rr("new", "A", "192.0.2.1"), "YXRRSET"),
        ("cn", rr("cn", "TXT", SPF), "YXDOMAIN"),
        ("upd", rr("upd", "A", "10.0.0.1", "192.0.2.1"), "NXRRSET"),
        ("del", claim("del", "A", ME, API), "NXRRSET"),
        ("new", claim("new", "A", THEM, API), "YXRRSET"),
    ]:
        raced = zonesim.zone_of(ZONE, [*zone.rrsets.values(), intruder])
        after, rejected = zonesim.apply_each(raced, p.changes)
        assert [(r.change.name, r.rcode) for r in rejected] == [(fq(name), rcode)]
        assert after.serial == raced.serial + 3
        assert after.rrsets[intruder.key] == raced.rrsets[intruder.key]
        for change in p.changes:
            if change.name != fq(name):
                for n in change.new:
                    assert after.get(n.rrset.name, n.rrset.type) == n.rrset
                for o in change.old:
                    assert after.get(o.rrset.name, o.rrset.type) in (
                        None,
                        *[n.rrset for n in change.new],
                    )


# --- properties --------------------------------------------------------------

#: Registry set-ups: a prefix, none (ownership names beside the records, legacy
#: TXT at the record's own name), a type template one level down, a suffix
#: with a wildcard replacement, and encrypted values.
REGISTRIES = [
    RegistryOptions(ME, prefix="extdns-"),
    RegistryOptions(ME),
    RegistryOptions(ME, prefix="%{record_type}."),
    RegistryOptions(ME, suffix="-own", wildcard_replacement="any"),
    RegistryOptions(ME, prefix="extdns-", encryption_key=bytes(range(32))),
]
#: Names that collide on purpose: ``a-www`` and ``cname-api`` are ownership
#: names without an affix, ``a.www`` and ``a`` with the template (the latter
#: for the apex).
NAMES = ["@", "www", "api", "x.sub", "*.wild", "a-www", "cname-api", "a", "a.www"]
OUTSIDE = ["www.example.org", "evilexample.com"]
RESOURCES = [WEB, API, "ingress/other/x"]
VALUES = {
    "A": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
    "AAAA": ["2001:db8::1", "2001:db8::2"],
    "CNAME": ["lb.example.net", "edge.example.org", "www.example.com"],
}
TTLS = [1, 60, 300, 3600, 10**6]
USER_TXTS = [SPF, "google-site-verification=abc", "heritage=someone-else,owner=me"]
OWNER_KINDS = ["me", "me", "them", "none", "both", "two-of-mine", "legacy", "legacy-them"]

names = st.sampled_from(NAMES).map(fq)
types = st.sampled_from(sorted(VALUES))


def _targets(type_: str) -> st.SearchStrategy[tuple[str, ...]]:
    if type_ == "CNAME":
        return st.sampled_from(VALUES["CNAME"]).map(lambda v: (v,))
    return st.sets(st.sampled_from(VALUES[type_]), min_size=1).map(lambda s: tuple(sorted(s)))


def _claims(
    options: RegistryOptions, name: str, type_: str, kind: str, resource: str
) -> list[tuple[str, str]]:
    """(TXT name, value) pairs marking record (``name``, ``type_``) as ``kind`` says."""

    def typed(owner: str, res: str) -> tuple[str, str]:
        key = options.encryption_key if owner == ME else None
        registry = Registry(
            RegistryOptions(
                owner, options.prefix, options.suffix, options.wildcard_replacement, key
            )
        )
        o = registry.ownership(name, type_, zone=ZONE, resource=res)
        return (o.name, o.value)

    if kind == "me":
        return [typed(ME, resource)]
    if kind == "them":
        return [typed(THEM, resource)]
    if kind == "both":
        return [typed(ME, resource), typed(THEM, resource)]
    if kind == "two-of-mine":
        return [typed(ME, resource), typed(ME, "service/old/gone")]
    if kind in ("legacy", "legacy-them"):
        legacy = Registry(options).legacy_txt_name(name, zone=ZONE)
        owner = ME if kind == "legacy" else THEM
        return [] if legacy is None else [(legacy, value(owner, resource))]
    return []


@st.composite
def current_zones(draw: st.DrawFn, options: RegistryOptions, dirty: bool) -> ZoneSnapshot:
    """A zone a server could hold: records of ours, of others, manual ones, user TXTs, MX.

    ``dirty`` keeps ownership values of ours that mark no record, or a second
    one beside the first.
    """
    adds: list[tuple[str, str, int, str]] = []
    other: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        what = draw(st.sampled_from(["record", "record", "record", "user-txt", "other", "stale"]))
        name = draw(names)
        if what == "user-txt":
            adds.append(
                (name, "TXT", draw(st.sampled_from(TTLS)), draw(st.sampled_from(USER_TXTS)))
            )
            continue
        if what == "other":
            other.append(name)
            continue
        type_ = draw(types)
        kind = draw(st.sampled_from(OWNER_KINDS))
        resource = draw(st.sampled_from(RESOURCES))
        if what == "record":
            ttl = draw(st.sampled_from(TTLS))
            adds.extend((name, type_, ttl, v) for v in draw(_targets(type_)))
        adds.extend((n, "TXT", 300, v) for n, v in _claims(options, name, type_, kind, resource))
    zone = zonesim.written(ZONE, adds, other)
    return zone if dirty else _without_stale_claims(Registry(options), zone)


def _is_mine(registry: Registry, txt_value: str) -> bool:
    return (registry.labels_of(txt_value) or {}).get("owner") == ME


def _without_stale_claims(registry: Registry, zone: ZoneSnapshot) -> ZoneSnapshot:
    """``zone`` without values of ours that mark no record, and one of ours per TXT RRset.

    Stale values of ours are left by crashes of external-dns, whose record
    and TXT travel in separate messages, and by records deleted by hand; the
    planner removes them as it changes the records, which the properties
    over clean zones do not expect.
    """
    claimed = {
        c.ownership
        for key in zone.rrsets
        if key.type != "TXT"
        for c in registry.claims(zone, key.name, key.type)
    }
    rrsets: list[RRset] = []
    for key, rrset in zone.rrsets.items():
        if key.type == "TXT":
            kept: list[str] = []
            for v in rrset.values:
                if _is_mine(registry, v) and (
                    Ownership(key.name, v) not in claimed
                    or any(_is_mine(registry, k) for k in kept)
                ):
                    continue
                kept.append(v)
            if not kept:
                continue
            rrset = RRset.of(key.name, "TXT", rrset.ttl, kept)
        rrsets.append(rrset)
    return ZoneSnapshot(ZONE, zone.serial, {r.key: r for r in rrsets}, zone.other_names)


@st.composite
def desired_sets(draw: st.DrawFn) -> list[Endpoint]:
    """Endpoints as sources give them: one per (resource, name, type), a CNAME has one target."""
    wanted: dict[tuple[str, str, str], Endpoint] = {}
    for _ in range(draw(st.integers(0, 10))):
        resource = draw(st.sampled_from(RESOURCES))
        name = draw(st.one_of(names, names, names, st.sampled_from(OUTSIDE)))
        type_ = draw(types)
        ttl = draw(st.one_of(st.none(), st.sampled_from(TTLS)))
        targets = draw(_targets(type_))
        wanted[(resource, name, type_)] = Endpoint(name, type_, targets, ref(resource), ttl)
    return list(wanted.values())


plan_options = st.builds(
    PlanOptions,
    policy=st.sampled_from(list(Policy)),
    default_ttl=st.sampled_from([60, 300]),
    min_ttl=st.sampled_from([1, 60]),
    max_ttl=st.sampled_from([3600, 604_800]),
    max_change_ratio=st.none(),
)


@st.composite
def cases(
    draw: st.DrawFn, dirty: bool = True
) -> tuple[Registry, ZoneSnapshot, list[Endpoint], PlanOptions]:
    options = draw(st.sampled_from(REGISTRIES))
    zone = draw(current_zones(options, dirty))
    return Registry(options), zone, draw(desired_sets()), draw(plan_options)


Case = tuple[Registry, ZoneSnapshot, list[Endpoint], PlanOptions]
PROPERTY = settings(max_examples=150, deadline=None)


def _ours(registry: Registry, snapshot: ZoneSnapshot, key: RecordKey) -> Owned | None:
    rrset = snapshot.rrsets.get(key)
    mine = registry.owns(registry.claims(snapshot, key.name, key.type))
    return None if rrset is None or mine is None else Owned(rrset, mine.ownership, mine.resource)


def _touched(p: Plan) -> set[RecordKey]:
    keys: set[RecordKey] = set()
    for change in p.changes:
        for o in (*change.old, *change.new):
            keys |= {o.rrset.key, RecordKey(o.owner.name, "TXT")}
        keys |= {RecordKey(o.name, "TXT") for o in change.leftovers}
    return keys


@PROPERTY
@given(cases())
def test_property_only_our_record_sets_are_rewritten(case: Case) -> None:
    """(a) Every record set a change removes or replaces is ours, exactly as read, with our TXT."""
    registry, zone, desired, options = case
    p = plan(desired, zone, registry, options)
    records = [c for c in p.changes if c.old or c.new]
    assert len({c.name for c in records}) == len(records)
    for change in p.changes:
        for o in change.old:
            assert o.rrset.name == change.name
            assert _ours(registry, zone, o.rrset.key) == o
            assert registry.labels_of(o.owner.value) is not None
            assert (registry.labels_of(o.owner.value) or {}).get("owner") == ME
        for n in change.new:
            assert n.rrset.name == change.name
            assert n.owner == registry.ownership(
                n.rrset.name, n.rrset.type, zone=ZONE, resource=n.resource
            )


@PROPERTY
@given(cases(dirty=False))
def test_property_plan_applies_and_converges(case: Case) -> None:
    """(b) Every prerequisite holds on the zone read, and planning again gives nothing."""
    registry, zone, desired, options = case
    p = plan(desired, zone, registry, options)
    after = zonesim.apply(zone, p.changes)
    assert after.serial == zone.serial + len(p.changes)
    for change in p.changes:
        for n in change.new:
            # Written with its ownership record, so ours from now on.  (A stale
            # value of ours found at the ownership name may stay beside it.)
            mine = _ours(registry, after, n.rrset.key)
            assert mine is not None, n
            assert mine.rrset == n.rrset
            assert n.owner.value in after.rrsets[RecordKey(n.owner.name, "TXT")].values
    again = plan(desired, after, registry, options)
    if again.changes:
        # The exceptions: a record whose ownership name held a CNAME, or a
        # CNAME whose name held an ownership TXT, that this plan removed
        # could not be planned beside it; it follows now.
        for change in again.changes:
            cname_gone = any(zone.get(n.owner.name, "CNAME") for n in change.new)
            txt_gone = (
                any(n.rrset.type == "CNAME" for n in change.new)
                and zone.get(change.name, "TXT") is not None
                and after.get(change.name, "TXT") is None
            )
            assert cname_gone or txt_gone, change
        settled = zonesim.apply(after, again.changes)
        assert plan(desired, settled, registry, options).changes == ()


@PROPERTY
@given(cases())
def test_property_stale_values_of_ours_still_apply_and_settle(case: Case) -> None:
    """(b') With stale ownership values of ours, every round applies; the zone settles in four."""
    registry, zone, desired, options = case
    for _ in range(4):
        changes = plan(desired, zone, registry, options).changes
        if not changes:
            return
        zone = zonesim.apply(zone, changes)
    raise AssertionError(f"no fixed point after 4 rounds: {changes}")


@PROPERTY
@given(cases())
def test_property_policy_bounds_the_changes(case: Case) -> None:
    """(c) upsert-only only replaces (same type or CNAME <-> address), create-only only creates."""
    registry, zone, desired, options = case
    p = plan(desired, zone, registry, options)
    for change in p.changes:
        new_types = {n.rrset.type for n in change.new}
        if options.policy is Policy.CREATE_ONLY:
            assert (change.action, change.old) == (Action.CREATE, ())
        if options.policy is Policy.UPSERT_ONLY:
            assert change.new
            for o in change.old:
                t = o.rrset.type
                replaced_by_type_change = (t == "CNAME" and bool(new_types - {"CNAME"})) or (
                    t != "CNAME" and "CNAME" in new_types
                )
                assert t in new_types or replaced_by_type_change, change
    if options.policy is not Policy.SYNC:
        assert p.count(Action.DELETE) == 0


@PROPERTY
@given(cases())
def test_property_foreign_data_is_left_alone(case: Case) -> None:
    """(d) Other owners' and manual records, user TXTs, other types come through byte-identical."""
    registry, zone, desired, options = case
    p = plan(desired, zone, registry, options)
    after = zonesim.apply(zone, p.changes)
    assert after.other_names == zone.other_names
    touched = _touched(p)
    for key, before in zone.rrsets.items():
        now = after.rrsets.get(key)
        if key not in touched:
            assert now == before, key
        elif key.type != "TXT":
            assert _ours(registry, zone, key) is not None, key
        else:
            # An ownership TXT RRset: every value that is not one of ours stays.
            foreign = {v for v in before.values if (registry.labels_of(v) or {}).get("owner") != ME}
            assert foreign <= set(now.values if now else ()), key


def _foreign_values(registry: Registry, rrset: RRset | None) -> set[str]:
    return {v for v in (rrset.values if rrset else ()) if not _is_mine(registry, v)}


def _assert_only_ours_changed(
    registry: Registry, before: ZoneSnapshot, after: ZoneSnapshot
) -> None:
    assert after.other_names == before.other_names
    for key in sorted(set(before.rrsets) | set(after.rrsets)):
        was, now = before.rrsets.get(key), after.rrsets.get(key)
        if key.type == "TXT":
            # Users' values and other owners' come through exactly.
            assert _foreign_values(registry, was) == _foreign_values(registry, now), key
        elif was is not None and was != now:
            assert _ours(registry, before, key) is not None, key


_MANUAL = {"A": "198.51.100.99", "AAAA": "2001:db8::99", "CNAME": "manual.example.net"}


@settings(max_examples=200, deadline=None)
@given(cases())
def test_property_nothing_but_ours_is_touched_under_any_policy(case: Case) -> None:
    """(f) With manual, foreign and leftover records, no policy changes anything not ours.

    Each policy's plan is applied as the real encoded messages (zonesim);
    then manual records are made where sync deleted ours, and planning with
    nothing desired must leave every one of them alone: no value of ours
    may survive to claim them.
    """
    registry, zone, desired, options = case
    for policy in Policy:
        opts = replace(options, policy=policy)
        p = plan(desired, zone, registry, opts)
        after, rejected = zonesim.apply_each(zone, p.changes)
        assert rejected == (), rejected
        _assert_only_ours_changed(registry, zone, after)
        deleted = [k for k in zone.rrsets if k.type != "TXT" and k not in after.rrsets]
        adds = [(k.name, k.type, r.ttl, v) for k, r in after.rrsets.items() for v in r.values]
        adds += [(k.name, k.type, 300, _MANUAL[k.type]) for k in deleted]
        manual = zonesim.written(ZONE, adds, after.other_names - {ZONE})
        for key in deleted:
            if key in manual.rrsets:
                assert registry.owns(registry.claims(manual, key.name, key.type)) is None, key
        later = plan([], manual, registry, opts)
        final, rejected = zonesim.apply_each(manual, later.changes)
        assert rejected == ()
        for key in deleted:
            assert final.rrsets.get(key) == manual.rrsets.get(key), key


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_property_plan_is_deterministic(case: Case, rnd: random.Random) -> None:
    """(e) The same input gives the same plan, whatever the order of the desired endpoints."""
    registry, zone, desired, options = case
    first = plan(desired, zone, registry, options)
    shuffled = list(desired)
    rnd.shuffle(shuffled)
    assert plan(shuffled, zone, Registry(registry.options), options) == first
    assert plan(desired, zone, registry, options) == first
