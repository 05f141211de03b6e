"""Planning only the names a change touches gives the changes a plan of the whole zone gives."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from dnssync.controller import _names_of
from dnssync.domainfilter import DomainFilter
from dnssync.errors import InvalidName
from dnssync.model import Change, Endpoint, Plan, Policy, ZoneSnapshot
from dnssync.names import in_zone
from dnssync.plan import PlanOptions, neighbourhood, plan
from dnssync.registry import Registry, RegistryOptions
from dnssync.rtypes import TYPES
from tests.unit import zonesim
from tests.unit.test_plan import (
    API,
    ME,
    RESOURCES,
    TTLS,
    USER_TXTS,
    VALUES,
    WEB,
    ZONE,
    Case,
    _claims,
    _targets,
    _without_stale_claims,
    cases,
    desired_sets,
    fq,
    ref,
)


def _converged(
    registry: Registry, zone: ZoneSnapshot, desired: list[Endpoint], o: PlanOptions
) -> ZoneSnapshot | None:
    """The zone after planning and applying until nothing is left (None: no fixed point)."""
    for _ in range(5):
        changes = plan(desired, zone, registry, o).changes
        if not changes:
            return zone
        zone = zonesim.apply(zone, changes)
    return None


def _incremental(
    registry: Registry,
    zone: ZoneSnapshot,
    desired: list[Endpoint],
    names: set[str],
    options: PlanOptions,
) -> tuple[frozenset[str], Plan]:
    wanted = {e.name for e in desired}
    cut, sub = neighbourhood(names, zone, registry, wanted.__contains__)
    return cut, plan([e for e in desired if e.name in cut], sub, registry, options)


@settings(max_examples=400, deadline=None)
@given(cases(), desired_sets(), st.data())
def test_property_a_change_planned_alone_equals_the_whole_plan(
    case: Case, more: list[Endpoint], data: st.DataObject
) -> None:
    """From a converged zone, an edit of the desired set planned at its names (and their
    neighbourhood) gives exactly the whole zone's changes, conflicts and skips there."""
    registry, zone, desired, options = case
    settled = _converged(registry, zone, desired, options)
    assume(settled is not None)
    assert settled is not None
    gone = data.draw(st.lists(st.sampled_from(desired), unique=True) if desired else st.just([]))
    edited = [e for e in desired if e not in gone] + [e for e in more if e not in desired]
    names = {e.name for e in (*gone, *more)}
    full = plan(edited, settled, registry, options)
    cut, alone = _incremental(registry, settled, edited, names, options)
    event(f"changes: {min(len(full.changes), 3)}")
    assert alone.changes == full.changes
    assert alone.conflicts == tuple(c for c in full.conflicts if c.name in cut)
    assert set(alone.skipped) == {s for s in full.skipped if s.key.name in cut}


def test_the_neighbourhood_holds_ownership_names_and_what_they_mark() -> None:
    """A record's cut holds its typed and legacy ownership names, and nothing unrelated."""
    registry = Registry(RegistryOptions("me"))
    www, api = fq("www"), fq("api")
    desired = [
        Endpoint(www, "A", ("192.0.2.1",), ref(WEB)),
        Endpoint(api, "A", ("192.0.2.2",), ref(API)),
    ]
    empty = ZoneSnapshot(ZONE, 1)
    zone = zonesim.apply(empty, plan(desired, empty, registry).changes)
    cut, sub = neighbourhood({www}, zone, registry, {www}.__contains__)
    assert www in cut and fq("a-www") in cut
    assert api not in cut
    assert {k.name for k in sub.rrsets} == {www, fq("a-www")}


# --- several edits in a row, as the service plans them (after helper-21's review) -------

#: Affixes that make names ambiguous on purpose: a bare ``%{record_type}`` prefix
#: reads ``aaaaz`` as ``a`` + ``aaaz`` and ``aaaa`` + ``z``; a wildcard replacement
#: puts ``*.wild`` and ``any.wild`` at one ownership name.
REGISTRIES = [
    RegistryOptions(ME, prefix="extdns-"),
    RegistryOptions(ME),
    RegistryOptions(ME, prefix="%{record_type}."),
    RegistryOptions(ME, suffix="-own", wildcard_replacement="any"),
    RegistryOptions(ME, wildcard_replacement="any"),
    RegistryOptions(ME, prefix="%{record_type}"),
    RegistryOptions(ME, prefix="%{record_type}-"),
    RegistryOptions(ME, suffix="-%{record_type}"),
    RegistryOptions(ME, suffix=".%{record_type}", wildcard_replacement="any"),
    RegistryOptions(ME, prefix="x%{record_type}."),
]
SEQ_NAMES = st.sampled_from(
    ["@", "www", "api", "x.sub", "*.wild", "any.wild", "a-www", "cname-api", "a", "a.www",
     "aaaz", "z", "aaaaz", "a-any.wild", "www.a", "aaaa.www", "cname.www", "a-", "www-a", "*.sub"]
).map(fq)  # fmt: skip
SEQ_TYPES = st.sampled_from(sorted(VALUES))
KINDS = ["me", "me", "me", "them", "none", "both", "two-of-mine", "legacy", "legacy-them"]
FILTERS = [
    DomainFilter(),
    DomainFilter(exclude=("sub.example.com",)),
    DomainFilter(include=("www.example.com", "wild.example.com")),
    DomainFilter(regex_exclude=r"^a"),
]
MANAGED = [
    frozenset({"A", "AAAA", "CNAME"}),
    frozenset({"A", "CNAME"}),
    frozenset({"A", "AAAA"}),
    frozenset({"A", "AAAA", "CNAME", "TXT"}),
]


@st.composite
def seq_zones(draw: st.DrawFn, options: RegistryOptions, dirty: bool) -> ZoneSnapshot:
    adds: list[tuple[str, str, int, str]] = []
    other: list[str] = []
    for _ in range(draw(st.integers(0, 14))):
        what = draw(st.sampled_from(["record"] * 4 + ["user-txt", "other", "stale"]))
        name = draw(SEQ_NAMES)
        if what == "user-txt":
            adds.append((name, "TXT", 300, draw(st.sampled_from(USER_TXTS))))
            continue
        if what == "other":
            other.append(name)
            continue
        type_ = draw(SEQ_TYPES)
        kind = draw(st.sampled_from(KINDS))
        resource = draw(st.sampled_from(RESOURCES))
        if what == "record":
            adds.extend(
                (name, type_, draw(st.sampled_from(TTLS)), v) for v in draw(_targets(type_))
            )
        with contextlib.suppress(InvalidName):  # an ownership name over 63 octets
            adds.extend(
                (n, "TXT", 300, v) for n, v in _claims(options, name, type_, kind, resource)
            )
    zone = zonesim.written(ZONE, adds, other)
    return zone if dirty else _without_stale_claims(Registry(options), zone)


@st.composite
def objects(draw: st.DrawFn) -> dict[str, list[Endpoint]]:
    """Resource -> its endpoints, as a view holds them."""
    out: dict[str, list[Endpoint]] = {}
    for resource in RESOURCES:
        eps: dict[tuple[str, str], Endpoint] = {}
        for _ in range(draw(st.integers(0, 4))):
            name, type_ = draw(SEQ_NAMES), draw(SEQ_TYPES)
            ttl = draw(st.one_of(st.none(), st.sampled_from(TTLS)))
            eps[(name, type_)] = Endpoint(name, type_, draw(_targets(type_)), ref(resource), ttl)
        out[resource] = list(eps.values())
    return out


def _flat(objs: dict[str, list[Endpoint]]) -> list[Endpoint]:
    return [e for r in sorted(objs) for e in objs[r]]


def _moved(a: ZoneSnapshot, b: ZoneSnapshot) -> set[str]:
    """The names an IXFR from ``a`` to ``b`` holds."""
    keys = set(a.rrsets) | set(b.rrsets)
    return {k.name for k in keys if a.rrsets.get(k) != b.rrsets.get(k)} | (
        a.other_names ^ b.other_names
    )


@st.composite
def third_party(draw: st.DrawFn, snap: ZoneSnapshot) -> ZoneSnapshot:
    """Someone else's edit: an RRset deleted, or a manual record added."""
    z = zonesim._Zone(snap)
    if draw(st.booleans()) and snap.rrsets:
        key = draw(st.sampled_from(sorted(snap.rrsets)))
        z.delete_rrset(key.name, key.type)
    else:
        name, type_ = draw(SEQ_NAMES), draw(SEQ_TYPES)
        for v in draw(_targets(type_)):
            z.add(name, type_, 300, v)
    return z.snapshot(snap.serial + 1)


def _news(last: ZoneSnapshot, now: ZoneSnapshot, wrote: Plan, foreign: bool) -> set[str]:
    """What the controller plans from the read: every moved name, less our own write when
    nobody else wrote (its serial count matches) and its plan skipped nothing, else with
    it. ``_moved`` condenses the deltas, as some servers do: a record of ours someone
    else removed again is in no delta."""
    moved = _moved(last, now)
    ours = {n for c in wrote.changes for n in _names_of(c)}
    if foreign or wrote.skipped:
        return moved | ours
    return moved - ours


def _applied(zone: ZoneSnapshot, changes: tuple[Change, ...]) -> ZoneSnapshot:
    try:
        return zonesim.apply(zone, changes)
    except zonesim.UpdateRejected:
        assume(False)
        raise


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_property_edits_in_a_row_planned_alone_equal_whole_plans(data: st.DataObject) -> None:
    """One whole pass, then up to four edits each planned at its names and the read's news,
    with or without someone else writing in between, under every registry affix, domain
    filter and managed-type set: every cut plan equals the whole zone's."""
    ropts = data.draw(st.sampled_from(REGISTRIES), "registry")
    registry = Registry(ropts)
    options = PlanOptions(
        policy=data.draw(st.sampled_from(list(Policy)), "policy"),
        max_change_ratio=None,
        domain_filter=data.draw(st.sampled_from(FILTERS), "filter"),
        managed_types=data.draw(st.sampled_from(MANAGED), "managed"),
    )
    zone = data.draw(seq_zones(ropts, data.draw(st.booleans(), "dirty")), "zone")
    objs = data.draw(objects(), "objects")
    foreign = data.draw(st.booleans(), "someone else writes")
    wrote = plan(_flat(objs), zone, registry, options)
    last, zone = zone, _applied(zone, wrote.changes)
    for step in range(data.draw(st.integers(1, 4), "steps")):
        if foreign:
            zone = data.draw(third_party(zone), f"their edit {step}")
        resource = data.draw(st.sampled_from(RESOURCES), f"resource {step}")
        new = data.draw(objects(), f"edit {step}")[resource]
        touched = {e.name for e in (*objs[resource], *new)}
        objs = {**objs, resource: new}
        local = {n for n in touched | _news(last, zone, wrote, foreign) if in_zone(n, ZONE)}
        desired = _flat(objs)
        wanted = {e.name for e in desired}
        full = plan(desired, zone, registry, options)
        cut, sub = neighbourhood(local, zone, registry, wanted.__contains__)
        alone = plan([e for e in desired if e.name in cut], sub, registry, options)
        note(f"step {step}: local={sorted(local)} cut={sorted(cut)}")
        assert alone.changes == full.changes, step
        wrote = alone
        last, zone = zone, _applied(zone, alone.changes)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(REGISTRIES), SEQ_NAMES, st.sampled_from(sorted(TYPES)))
def test_property_every_ownership_name_leads_back_to_its_record(
    ropts: RegistryOptions, name: str, type_: str
) -> None:
    """may_mark inverts claim_names under every affix: a cut that holds an ownership name
    holds every record it marks (records_of reads one way, as external-dns does)."""
    registry = Registry(ropts)
    for txt in registry.claim_names(name, type_, zone=ZONE):
        if txt is not None:
            assert name in registry.may_mark(txt, zone=ZONE, types=TYPES), txt


def test_a_bare_type_prefix_cut_keeps_the_aaaa_ownership_it_shares_a_reading_with() -> None:
    """With prefix ``%{record_type}``, ``aaaaa.www`` is ``a.www``'s AAAA ownership name and
    reads as ``aaaa.www``'s A one: removing ``aaaa.www`` must not take it as an orphan."""
    registry = Registry(RegistryOptions(ME, prefix="%{record_type}"))
    options = PlanOptions(policy=Policy.SYNC, max_change_ratio=None)
    web = [Endpoint(fq("@"), "A", ("192.0.2.1",), ref(WEB))]
    web.append(Endpoint(fq("a.www"), "AAAA", ("2001:db8::1",), ref(WEB)))
    x = [Endpoint(fq("@"), "CNAME", ("lb.example.net",), ref("ingress/other/x"))]
    x.append(Endpoint(fq("aaaa.www"), "CNAME", ("lb.example.net",), ref("ingress/other/x")))
    api = [Endpoint(fq("@"), "A", ("192.0.2.2",), ref(API))]
    before = [*web, *api, *x]
    zone = zonesim.apply(
        ZoneSnapshot(ZONE, 1), plan(before, ZoneSnapshot(ZONE, 1), registry, options).changes
    )
    after = [*web, *api]
    names = {e.name for e in x}
    full = plan(after, zone, registry, options)
    cut, alone = _incremental(registry, zone, after, names, options)
    assert fq("aaaaa.www") in cut
    assert alone.changes == full.changes
