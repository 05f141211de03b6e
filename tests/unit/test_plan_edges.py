"""The planner's ownership checks at their edges (issue #10, item 11): the cases ``make
mutation`` found unguarded in :mod:`dnssync.plan`.

Why a record is not ours, word for word; migration leaving alone what it may not take
(a record without ownership, one a third owner claims too, our own records); a TXT
record set of ours at the ownership name a record needs; the apex NS never ours; a
CNAME beside several records of others, or at a name holding only ownership values;
held and unwanted records; each orphan found whatever sorts before it, and counted by
the safety gate; leftover values of ours at a legacy name, once, and never at a name
another record shares.

Of the 318 mutants of the ownership checks in the run below, 306 are killed (88 of the
94 of ``_read``, ``_taken_over``, ``_not_taken`` and ``_never_ours``, 82 before these
tests; 218 of the 224 of the others; the cut run before judged 190, 146 killed); the
12 left alive are equivalent, so no test can kill them:

* the reasons ``_never_ours`` gives (``"outside the domain filter"``, ``"its record
  set holds ownership records too"``, mutated in case or to ``XX…XX``), and ``_read``
  storing ``None`` for them: a desired record set there is refused at admission by the
  same test (``_outside_filter``, ``_apex``, ``_ownership_set``), so ``_not_ours``
  never shows them, and ``_beside_foreign`` reads only which types are foreign;
* ``self.taken[key] = None`` in ``_read``: only the keys of ``taken`` are read
  (``Plan.taken_over``), never the old owner's claim;
* ``self.txt_touched.add(None)`` in ``orphan_records``: nothing reads ``txt_touched``
  after it, and each TXT name comes once in its loop;
* ``RRset(None | raw.name, None | raw.type, None | raw.ttl, None | values)`` in
  ``_published`` (4): the copy of a TXT set mixing published and ownership values is
  only told from the raw set by identity (``_never_ours``: never ours); a TXT wanted
  there is refused at admission, and a foreign set is never in a change;
* ``None if (txt_name == claim.ownership.name) and False else ...`` in
  ``_typed_name_taken``: for a typed claim ``_txt_blocked`` at the record's own
  ownership name finds nothing in any zone a server holds -- that name holds our
  TXT, so no CNAME (RFC 1034 3.6.2), and a TXT set holding our value is no record of
  ours (mixed: never ours; bare: no record).

Run: ``nice -n 15 python -m tools.mutation dnssync/plan.py tests/unit/test_plan_edges.py
tests/unit/test_plan.py tests/unit/test_registry.py tests/unit/test_extdns_oracle.py
tests/unit/test_domainfilter.py tests/unit/test_migration.py tests/unit/test_plan_table.py
tests/unit/test_plan_apex.py --workers 1 --only _read --only _taken_over --only
_not_taken --only _never_ours --only _txt_blocked --only _leftovers --only delete_name
--only _beside_foreign --only _published --only _ours_at --only _unwanted --only
_not_ours --only _stale_claim --only _typed_name_taken --only _ownership_name_blocked
--only orphan_records`` (9 minutes on a shared machine).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from dnssync.domainfilter import DomainFilter
from dnssync.model import (
    MANAGED_TYPES,
    Endpoint,
    Ownership,
    Policy,
    RecordKey,
    RRset,
    ZoneSnapshot,
)
from dnssync.plan import PlanOptions
from dnssync.registry import Registry, RegistryOptions
from tests.unit import zonesim
from tests.unit.test_plan import (
    API,
    ME,
    PLAIN,
    REG,
    SYNC,
    THEM,
    UPSERT,
    WEB,
    claim,
    converge,
    ep,
    fq,
    make_plan,
    ours,
    owned,
    reasons,
    rr,
    snap,
    theirs,
    value,
)

OLD = "old"  # the owner migrate_from_txt_owner takes records over from
MIGRATE = PlanOptions(
    policy=Policy.SYNC, migrate_from_owner=OLD, live_resources=frozenset({WEB, API})
)
WITH_TXT = MANAGED_TYPES | {"TXT"}
MANUAL = "not managed by external-dns or dnssync (no ownership record)"


# --- why a record is not ours ------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "options", "reason"),
    [
        (snap(rr("www", "A", "10.0.0.9")), SYNC, MANUAL),
        # Migration reads the claims of every record: one without any stays manual.
        (snap(rr("www", "A", "10.0.0.9")), MIGRATE, MANUAL),
        # A third owner's record is only another owner's, not a pending takeover.
        (snap(theirs("www", "A", "10.0.0.9")), MIGRATE, "owned by 'them'"),
        # The old owner's claim beside a third owner's: nobody's, not taken over.
        (
            snap(
                rr("www", "A", "10.0.0.9"),
                RRset.of(
                    claim("www", "A").name, "TXT", 300, (value(OLD, WEB), value("another", WEB))
                ),
            ),
            MIGRATE,
            "owned by 'another'",
        ),
    ],
    ids=["manual", "manual-migrating", "third-owner-migrating", "old-and-third-owner"],
)
def test_a_record_not_ours_is_skipped_with_its_exact_reason(
    zone: ZoneSnapshot, options: PlanOptions, reason: str
) -> None:
    """A record not ours (manual, a third owner's, two owners') is left alone, saying why."""
    p = make_plan([ep("www", "A", "10.0.0.1")], zone, options)
    assert (p.changes, p.taken_over, p.orphans) == ((), (), ())
    assert reasons(p) == {RecordKey(fq("www"), "A"): reason}


def test_migration_takes_over_only_the_old_owners_record() -> None:
    """Beside a manual record and a third owner's, the old owner's (live) one alone is taken."""
    zone = snap(
        rr("manual", "A", "10.0.0.7"),
        theirs("other", "A", "10.0.0.8"),
        rr("www", "A", "10.0.0.9"),
        claim("www", "A", OLD, WEB),
    )
    p = make_plan([], zone, MIGRATE)
    assert [c.name for c in p.changes] == [fq("www")]
    assert [o.rrset.key for o in p.taken_over] == [RecordKey(fq("www"), "A")]
    after = zonesim.apply(zone, p.changes)
    assert after.rrsets.keys() == zone.rrsets.keys() - {
        RecordKey(fq("www"), "A"),
        claim("www", "A").key,
    }


# --- where an ownership record cannot be added -------------------------------------


def test_no_record_is_created_where_its_ownership_name_holds_a_txt_of_ours() -> None:
    """www's A is skipped while ``a-www`` holds our TXT record (its value would be mixed in)."""
    zone = snap(rr("a-www", "TXT", "hello"), claim("a-www", "TXT", ME, API, PLAIN.options))
    desired = [ep("a-www", "TXT", "hello", resource=API), ep("www", "A", "192.0.2.1")]
    for policy in (Policy.UPSERT_ONLY, Policy.SYNC):
        options = PlanOptions(policy=policy, managed_types=WITH_TXT)
        p = make_plan(desired, zone, options, PLAIN)
        assert p.changes == ()
        assert reasons(p) == {
            RecordKey(fq("www"), "A"): (
                "its ownership record name a-www.example.com holds a TXT record of ours"
            ),
            RecordKey(fq("a-www"), "TXT"): (
                "the name is the ownership record name of www.example.com A"
            ),
        }


def test_a_legacy_record_keeps_its_legacy_claim_while_the_typed_name_holds_a_txt_of_ours() -> None:
    """A legacy-owned A is not moved to ``a-www`` while our TXT record stands there."""
    zone = snap(
        rr("www", "A", "192.0.2.1"),
        RRset.of(fq("www"), "TXT", 300, (value(),)),
        rr("a-www", "TXT", "hello"),
        claim("a-www", "TXT", ME, API, PLAIN.options),
    )
    desired = [ep("a-www", "TXT", "hello", resource=API), ep("www", "A", "192.0.2.2")]
    p = make_plan(desired, zone, PlanOptions(policy=Policy.SYNC, managed_types=WITH_TXT), PLAIN)
    assert p.changes == ()
    assert reasons(p) == {
        RecordKey(fq("www"), "A"): (
            "its ownership record name a-www.example.com holds a TXT record of ours"
        ),
        RecordKey(fq("a-www"), "TXT"): "the name is the ownership record name of www.example.com A",
    }


# --- a CNAME beside records of others ----------------------------------------------


@pytest.mark.parametrize(
    ("others", "named"),
    [(("A",), "A"), (("A", "AAAA"), "A/AAAA")],
)
def test_a_cname_beside_records_of_others_names_each(others: tuple[str, ...], named: str) -> None:
    """A CNAME wanted beside records not ours is skipped, naming every type that stands there."""
    values = {"A": "10.0.0.9", "AAAA": "2001:db8::9"}
    zone = snap(*[rr("www", t, values[t]) for t in others])
    p = make_plan([ep("www", "CNAME", "lb.example.net")], zone, SYNC)
    assert p.changes == ()
    assert reasons(p) == {
        RecordKey(fq("www"), "CNAME"): (
            f"a CNAME cannot stand next to the {named} record there, which is not ours"
        )
    }


# --- leftovers ---------------------------------------------------------------------


def test_a_delete_cleans_the_legacy_name_of_a_record_without_a_typed_one() -> None:
    """No typed name (``extdns-a-`` overflows a 55-octet label): a delete empties the legacy one."""
    label = "x" * 55
    legacy = RRset.of(f"extdns-{label}.example.com", "TXT", 300, (value(ME, WEB), value(ME, API)))
    zone = snap(rr(label, "A", "192.0.2.1"), legacy)
    after = converge([], zone, SYNC)
    assert after.get(fq(label), "A") is None
    assert after.get(legacy.name, "TXT") is None


# --- what stays: held and unwanted records -----------------------------------------


@pytest.mark.parametrize("with_a", [False, True], ids=["alone", "beside-a-wanted-a"])
def test_a_record_wanted_with_a_bad_value_is_held_under_sync(with_a: bool) -> None:
    """Ours wanted with a value that does not parse stays as it is: not deleted nor listed."""
    zone = snap(ours("www", "A", "10.0.0.1"), ours("www", "AAAA", "2001:db8::1"))
    desired = [ep("www", "AAAA", "not-an-address")] + (
        [ep("www", "A", "10.0.0.1")] if with_a else []
    )
    p = make_plan(desired, zone, SYNC)
    assert p.orphans == ()
    gone = [o.rrset.key for c in p.changes for o in c.old]
    assert RecordKey(fq("www"), "AAAA") not in gone
    assert gone == ([] if with_a else [RecordKey(fq("www"), "A")])


def test_an_unwanted_type_beside_a_wanted_one_is_listed_under_upsert_only() -> None:
    """upsert-only keeps our AAAA no longer wanted beside the A it updates, and lists it."""
    zone = snap(ours("www", "A", "10.0.0.1"), ours("www", "AAAA", "2001:db8::1"))
    p = make_plan([ep("www", "A", "10.0.0.2")], zone, UPSERT)
    assert [[o.rrset.type for o in c.old] for c in p.changes] == [["A"]]
    assert [o.rrset.key for o in p.orphans] == [RecordKey(fq("www"), "AAAA")]


# --- orphaned ownership records ----------------------------------------------------

GONE = claim("z", "CNAME")  # ours, marking no record; its name sorts after those below


@pytest.mark.parametrize(
    ("before", "desired", "options"),
    [
        # A record of another type before it (records are read in name order).
        ([rr("a", "A", "10.0.0.9")], [], SYNC),
        # Another owner's orphan, and a user's TXT: not ours.
        ([claim("a", "A", THEM, API), rr("b", "TXT", "hello")], [], SYNC),
        # Ours, for a type not managed (its record may exist unseen).
        ([claim("a", "CAA")], [], SYNC),
        # Ours, marking a name outside the domain filter.
        (
            [claim("a", "A")],
            [],
            PlanOptions(policy=Policy.SYNC, domain_filter=DomainFilter(exclude=("a.example.com",))),
        ),
        # A legacy value of ours a create of this plan already removes.
        (
            [RRset.of("extdns-a.example.com", "TXT", 300, (value(),))],
            [ep("a", "A", "10.0.0.1")],
            SYNC,
        ),
        # Another orphan of ours.
        ([claim("a", "A")], [], SYNC),
    ],
    ids=["record", "not-ours", "unmanaged-type", "outside-filter", "touched", "orphan"],
)
def test_an_orphan_is_found_whatever_sorts_before_it(
    before: list[RRset], desired: list[Endpoint], options: PlanOptions
) -> None:
    """Each ownership record before an orphan of ours is judged on its own: the orphan goes."""
    zone = snap(*before, GONE)
    deleted = [c.name for c in make_plan(desired, zone, options).changes if not c.new]
    assert deleted[-1] == GONE.name
    listed = make_plan(desired, zone, replace(options, policy=Policy.UPSERT_ONLY)).orphans
    assert listed[-1].owner.name == GONE.name


def test_an_orphan_beside_a_record_of_another_type_is_listed_once() -> None:
    """An A standing at an orphan's own name is not the orphan: the TXT alone is listed."""
    zone = snap(GONE, RRset.of(GONE.name, "A", 60, ("10.0.0.9",)))
    assert make_plan([], zone, UPSERT).orphans == (owned(GONE, GONE),)
    (change,) = make_plan([], zone, SYNC).changes
    assert (change.name, change.require) == (GONE.name, (GONE,))


@pytest.mark.parametrize(
    ("txt", "options"),
    [
        # A value of ours at a name the registry maps to no record.
        (RRset.of(fq("stray"), "TXT", 300, (value(),)), SYNC),
        # Ours at a legacy name, marking a name outside the domain filter.
        (
            RRset.of("extdns-www.example.com", "TXT", 300, (value(),)),
            PlanOptions(
                policy=Policy.SYNC, domain_filter=DomainFilter(exclude=("www.example.com",))
            ),
        ),
    ],
    ids=["no-record", "legacy-outside-filter"],
)
def test_values_of_ours_that_are_no_orphans_stay(txt: RRset, options: PlanOptions) -> None:
    """Ours where no record of ours may stand is neither deleted nor listed."""
    p = make_plan([], snap(txt), options)
    assert (p.changes, p.orphans) == ((), ())


@pytest.mark.parametrize(
    ("orphans", "kept", "refused"),
    [(6, 0, True), (6, 8, False), (6, 6, False), (7, 6, True)],
)
def test_orphaned_ownership_records_count_in_the_safety_gate(
    orphans: int, kept: int, refused: bool
) -> None:
    """Each orphan deleted counts as one owned record set touched, of the owned ones."""
    zone = snap(
        *[claim(f"gone{i}", "A") for i in range(orphans)],
        *[ours(f"h{i}", "A", "10.0.0.1") for i in range(kept)],
    )
    desired = [ep(f"h{i}", "A", "10.0.0.1") for i in range(kept)]
    p = make_plan(desired, zone, SYNC)
    assert bool(p.refused) is refused
    if refused:
        assert f"{orphans} of {orphans + kept} owned" in p.refused


# --- what is never ours --------------------------------------------------------------


def test_the_apex_ns_is_never_ours_while_a_delegation_of_ours_is() -> None:
    """With NS managed, an apex NS claimed by a value of ours stays; our delegation is updated."""
    options = PlanOptions(policy=Policy.SYNC, managed_types=MANAGED_TYPES | {"NS"})
    zone = snap(
        rr("@", "NS", "ns1.example.net"),
        claim("@", "NS"),
        ours("sub", "NS", "ns1.sub.example.net"),
    )
    desired = [ep("sub", "NS", "ns2.sub.example.net")]
    p = make_plan(desired, zone, options)
    assert [(c.name, [o.rrset.key for o in c.old]) for c in p.changes] == [
        (fq("sub"), [RecordKey(fq("sub"), "NS")])
    ]
    assert p.orphans == ()
    after = converge(desired, zone, options)
    assert after.get(fq("@"), "NS") == rr("@", "NS", "ns1.example.net")


def test_migrating_from_our_own_owner_id_takes_nothing_over() -> None:
    """A record of ours is ours, not a takeover, even with migrate_from_owner our own id."""
    options = PlanOptions(migrate_from_owner=ME, live_resources=frozenset({WEB}))
    zone = snap(ours("www", "A", "10.0.0.1"))
    p = make_plan([ep("www", "A", "10.0.0.1")], zone, options)
    assert (p.changes, p.taken_over, p.skipped) == ((), (), ())


# --- more leftovers, shared names, stale claims --------------------------------------


def test_a_type_change_removes_a_legacy_leftover_once() -> None:
    """A -> CNAME removes a second legacy value of ours once, though both types share the name."""
    legacy = RRset.of("extdns-www.example.com", "TXT", 300, (value(ME, API),))
    zone = snap(ours("www", "A", "10.0.0.1"), legacy)
    desired = [ep("www", "CNAME", "lb.example.net")]
    (change,) = make_plan(desired, zone, UPSERT).changes
    assert change.leftovers == (Ownership(legacy.name, value(ME, API)),)
    assert converge(desired, zone, UPSERT).get(legacy.name, "TXT") is None


def test_a_wildcard_delete_keeps_the_claim_its_replacement_shares() -> None:
    """``*.w`` and ``any.w`` share an ownership name: deleting one keeps the other's claim."""
    reg = Registry(RegistryOptions(ME, prefix="extdns-", wildcard_replacement="any"))
    shared = RRset.of("extdns-a-any.w.example.com", "TXT", 300, (value(ME, WEB), value(ME, API)))
    zone = snap(rr("*.w", "A", "10.0.0.1"), rr("any.w", "A", "10.0.0.2"), shared)
    desired = [ep("any.w", "A", "10.0.0.2", resource=API)]
    p = make_plan(desired, zone, SYNC, reg)
    assert [c.leftovers for c in p.changes] == [()]
    after = zonesim.apply(zone, p.changes)
    assert reg.owns(reg.claims(after, fq("any.w"), "A")) is not None


def test_another_owners_legacy_claim_does_not_block_a_create() -> None:
    """Only a claim at the typed name is in a create's way: the typed claim decides after it."""
    legacy = RRset.of("extdns-www.example.com", "TXT", 300, (value(THEM, API),))
    desired = [ep("www", "A", "10.0.0.1")]
    after = converge(desired, snap(legacy), SYNC)
    assert after.get(legacy.name, "TXT") == legacy
    assert REG.owns(REG.claims(after, fq("www"), "A")) is not None


def test_a_txt_is_not_published_where_ownership_records_stand() -> None:
    """With TXT managed, a TXT wanted at a name holding ownership values is skipped."""
    options = PlanOptions(policy=Policy.SYNC, managed_types=WITH_TXT)
    zone = snap(rr("www", "A", "10.0.0.1"), claim("www", "A", options=PLAIN.options))
    desired = [ep("www", "A", "10.0.0.1"), ep("a-www", "TXT", "hello", resource=API)]
    p = make_plan(desired, zone, options, PLAIN)
    assert p.changes == ()
    assert reasons(p) == {
        RecordKey(fq("a-www"), "TXT"): (
            "its TXT record set holds ownership records; a published value would mix with them"
        )
    }


def test_the_claim_of_a_txt_set_mixed_with_ownership_values_is_no_orphan() -> None:
    """A TXT set mixing a published and an ownership value is never ours; its claim stays."""
    options = PlanOptions(policy=Policy.SYNC, managed_types=WITH_TXT)
    mixed = RRset.of(fq("www"), "TXT", 300, ("hello", value(ME, API)))
    zone = snap(mixed, claim("www", "TXT"))
    p = make_plan([], zone, options)
    assert (p.changes, p.orphans) == ((), ())


def test_a_cname_is_not_created_at_a_name_holding_only_ownership_records() -> None:
    """With TXT managed, ownership values are no TXT record: the name is in use, not foreign."""
    options = PlanOptions(policy=Policy.SYNC, managed_types=WITH_TXT)
    zone = snap(claim("x", "A", THEM, API, PLAIN.options))
    p = make_plan([ep("a-x", "CNAME", "lb.example.net")], zone, options, PLAIN)
    assert p.changes == ()
    assert reasons(p) == {
        RecordKey(fq("a-x"), "CNAME"): "a CNAME cannot stand next to the other records there"
    }
