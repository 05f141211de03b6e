"""The planner over every record type, applied on the RFC 2136 server model (zonesim).

Zones hold records of every type -- ours, another owner's, manual ones -- and
a user's TXT and MX at the same names; desired sets carry every type, with
bad values now and then.  Properties: the plan applies and converges, nothing
that is not ours changes under any policy, a bad value costs only its own
record set; plus golden examples for the rules of the new types.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.model import Endpoint, ObjectRef, Plan, Policy, RecordKey, RRset, ZoneSnapshot
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions, format_labels
from dnssync.rtypes import TYPES
from tests.unit import zonesim

ZONE = "example.com"
ME, THEM = "me", "them"
RESOURCES = ("dnsendpoint/ns/a", "dnsendpoint/ns/b")
ALL = frozenset(TYPES)
REGISTRIES = (
    RegistryOptions(ME, prefix="extdns-"),
    RegistryOptions(ME),
    RegistryOptions(ME, suffix="-own"),
    RegistryOptions(ME, prefix="%{record_type}."),
)
NAMES = ("@", "www", "mail", "_sip._tcp", "sub", "txt")
VALUES: dict[str, tuple[str, ...]] = {
    "A": ("192.0.2.1", "192.0.2.2"),
    "AAAA": ("2001:db8::1", "2001:db8::2"),
    "CNAME": ("lb.example.net", "other.example.net"),
    "TXT": ("v=spf1 -all", '"multi" "string"', "k=" + "x" * 300, 'a "quote"'),
    "MX": ("10 mx1.example.net", "20 mx2.example.net", "0 ."),
    "SRV": ("0 5 5060 sip1.example.net", "10 5 5061 sip2.example.net"),
    "CAA": ('0 issue "letsencrypt.org"', '128 iodef "mailto:sec@example.net"'),
    "NS": ("ns1.example.net", "ns2.example.net"),
    "PTR": ("host.example.net",),
}
BAD: dict[str, str] = {
    "A": "192.0.2.300",
    "AAAA": "2001:db8::g",
    "CNAME": "bad name.example.net",
    "TXT": "x" * 5000,
    "MX": "10",
    "SRV": "10 5 sip.example.net",
    "CAA": "1 issue letsencrypt.org",
    "NS": "ns 1.example.net",
    "PTR": ".",
}
USER_TXT = "user managed, keep me"
USER_MX = "50 backup.example.org"


def fq(rel: str) -> str:
    return ZONE if rel == "@" else f"{rel}.{ZONE}"


def ref(resource: str) -> ObjectRef:
    kind, namespace, name = resource.split("/")
    return ObjectRef(kind, namespace, name)


def options(policy: Policy = Policy.SYNC) -> PlanOptions:
    return PlanOptions(policy=policy, max_change_ratio=None, managed_types=ALL)


types = st.sampled_from(sorted(TYPES))


def _values(type_: str) -> st.SearchStrategy[tuple[str, ...]]:
    return st.sets(st.sampled_from(VALUES[type_]), min_size=1).map(lambda s: tuple(sorted(s)))


@st.composite
def zones(draw: st.DrawFn, reg: RegistryOptions) -> ZoneSnapshot:
    """A zone a server could hold: records of every type, owned or not, user TXT and MX."""
    adds: list[tuple[str, str, int, str]] = []
    for _ in range(draw(st.integers(0, 10))):
        what = draw(st.sampled_from(["ours", "ours", "theirs", "manual", "user-txt", "user-mx"]))
        name = fq(draw(st.sampled_from(NAMES)))
        if what == "user-txt":
            adds.append((name, "TXT", 300, USER_TXT))
            continue
        if what == "user-mx":
            adds.append((name, "MX", 300, USER_MX))
            continue
        type_ = draw(types)
        if type_ == "NS" and name == ZONE:
            continue  # the apex NS set is the harness zone's own
        adds.extend((name, type_, 300, v) for v in draw(_values(type_)))
        if what != "manual":
            owner = ME if what == "ours" else THEM
            registry = Registry(RegistryOptions(owner, reg.prefix, reg.suffix))
            try:
                o = registry.ownership(
                    name, type_, zone=ZONE, resource=draw(st.sampled_from(RESOURCES))
                )
            except Exception:  # no valid ownership name: nobody can have written one
                continue
            adds.append((o.name, "TXT", 300, o.value))
    return zonesim.written(ZONE, adds)


@st.composite
def desired_sets(draw: st.DrawFn) -> list[Endpoint]:
    wanted: dict[tuple[str, str, str], Endpoint] = {}
    for _ in range(draw(st.integers(0, 8))):
        resource = draw(st.sampled_from(RESOURCES))
        name = fq(draw(st.sampled_from(NAMES)))
        type_ = draw(types)
        values = draw(_values(type_))
        if TYPES[type_].single:
            values = values[:1]
        ttl = draw(st.sampled_from([None, 60, 300]))
        wanted[(resource, name, type_)] = Endpoint(name, type_, values, ref(resource), ttl)
    return list(wanted.values())


@st.composite
def cases(draw: st.DrawFn) -> tuple[Registry, ZoneSnapshot, list[Endpoint], Policy]:
    reg = draw(st.sampled_from(REGISTRIES))
    return (
        Registry(reg),
        draw(zones(reg)),
        draw(desired_sets()),
        draw(st.sampled_from(list(Policy))),
    )


Case = tuple[Registry, ZoneSnapshot, list[Endpoint], Policy]
PROPERTY = settings(max_examples=200, deadline=None)


def is_ownership(registry: Registry, value: str) -> bool:
    return registry.labels_of(value) is not None


def published(registry: Registry, snap: ZoneSnapshot, key: RecordKey) -> RRset | None:
    """The record set at ``key`` without its ownership values (None if nothing else is there)."""
    rrset = snap.rrsets.get(key)
    values = () if rrset is None else [v for v in rrset.values if not is_ownership(registry, v)]
    return RRset.of(key.name, key.type, rrset.ttl, values) if rrset and values else None


def ours(registry: Registry, snap: ZoneSnapshot, key: RecordKey) -> bool:
    """Whether the planner may change the record set at ``key`` (ours, unmixed)."""
    rrset = snap.rrsets.get(key)
    if rrset is None or (
        key.type == "TXT" and any(is_ownership(registry, v) for v in rrset.values)
    ):
        return False
    if key.name == ZONE and not TYPES[key.type].at_apex:
        return False
    return registry.owns(registry.claims(snap, key.name, key.type)) is not None


def assert_only_ours_changed(registry: Registry, before: ZoneSnapshot, after: ZoneSnapshot) -> None:
    for key in sorted(set(before.rrsets) | set(after.rrsets)):
        was, now = before.rrsets.get(key), after.rrsets.get(key)
        if was == now or (was is None and not ours(registry, after, key) and key.type != "TXT"):
            continue
        if was is not None and ours(registry, before, key):
            continue
        if key.type == "TXT":
            # Values that are not ours -- a user's, another owner's -- come through.
            def kept(rr: RRset | None) -> set[str]:
                return {
                    v
                    for v in (rr.values if rr else ())
                    if (registry.labels_of(v) or {}).get("owner") != ME
                }

            if not (was is not None and ours(registry, before, key)):
                assert kept(was) <= kept(now), key
            continue
        assert was is None, f"{key} is not ours and changed: {was} -> {now}"


def converge(
    registry: Registry, zone: ZoneSnapshot, desired: Sequence[Endpoint], policy: Policy
) -> ZoneSnapshot:
    for _ in range(4):
        p = plan(desired, zone, registry, options(policy))
        if not p.changes:
            return zone
        zone, rejected = zonesim.apply_each(zone, p.changes)
        assert rejected == (), rejected
    raise AssertionError(f"no fixed point after 4 rounds: {p.changes}")


@PROPERTY
@given(cases())
def test_property_every_type_applies_and_converges(case: Case) -> None:
    """Every message applies on the server model; planning again soon gives nothing."""
    registry, zone, desired, policy = case
    first = plan(desired, zone, registry, options(policy))
    after, rejected = zonesim.apply_each(zone, first.changes)
    assert rejected == (), rejected
    for change in first.changes:
        for n in change.new:
            assert after.get(n.rrset.name, n.rrset.type) == n.rrset
            assert n.owner.value in after.rrsets[RecordKey(n.owner.name, "TXT")].values
    converge(registry, after, desired, policy)


@PROPERTY
@given(cases())
def test_property_nothing_but_ours_changes_under_any_policy(case: Case) -> None:
    """A user's TXT and MX, other owners' and manual records of every type stay as they are."""
    registry, zone, desired, _ = case
    for policy in Policy:
        after = converge(registry, zone, desired, policy)
        assert_only_ours_changed(registry, zone, after)
        # With nothing desired, sync removes ours and still nothing else.
        emptied = converge(registry, after, [], policy)
        assert_only_ours_changed(registry, zone, emptied)


@PROPERTY
@given(cases(), types, st.sampled_from(NAMES))
def test_property_a_bad_value_costs_only_its_record_set(
    case: Case, bad_type: str, bad_name: str
) -> None:
    """A bad value is one skip line; its record set stays; the rest plans as without it."""
    registry, zone, desired, policy = case
    name = fq(bad_name)
    desired = [e for e in desired if e.key != RecordKey(name, bad_type)]
    values = (BAD[bad_type],) if TYPES[bad_type].single else (BAD[bad_type], VALUES[bad_type][0])
    bad = Endpoint(name, bad_type, values, ref(RESOURCES[0]), None)
    with_bad = plan([*desired, bad], zone, registry, options(policy))
    without = plan(desired, zone, registry, options(policy))
    (skip,) = [s for s in with_bad.skipped if s.key == bad.key]
    assert "\n" not in skip.reason
    at_apex = name == ZONE and not TYPES[bad_type].at_apex
    assert at_apex or BAD[bad_type][:10] in skip.reason, skip.reason
    assert set(without.skipped) <= set(with_bad.skipped)
    after, rejected = zonesim.apply_each(zone, with_bad.changes)
    assert rejected == ()
    others = [e for e in desired if e.name == name]
    if not any("CNAME" in (e.type, bad_type) for e in others):
        # Its published values: ownership values there belong to another record (the
        # apex TXT's, at ``txt`` under ``%{record_type}.``), which sync may delete.
        assert published(registry, after, bad.key) == published(registry, zone, bad.key)
    plain, _ = zonesim.apply_each(zone, without.changes)
    for key in set(after.rrsets) | set(plain.rrsets):
        if key.name != name and key.type != "TXT":
            assert after.rrsets.get(key) == plain.rrsets.get(key), key


# --- golden examples ---------------------------------------------------------------

REG = Registry(RegistryOptions(ME, prefix="extdns-"))


def ep(rel: str, type_: str, *targets: str) -> Endpoint:
    return Endpoint(fq(rel), type_, targets, ref(RESOURCES[0]), 300)


def make(
    desired: list[Endpoint], *records: tuple[str, str, str], policy: Policy = Policy.SYNC
) -> Plan:
    zone = zonesim.written(ZONE, [(fq(n), t, 300, v) for n, t, v in records])
    return plan(desired, zone, REG, options(policy))


def reasons(p: Plan) -> dict[RecordKey, str]:
    return {s.key: s.reason for s in p.skipped}


def test_ns_at_the_apex_is_refused_with_one_line() -> None:
    """NS at the apex is the zone's own: refused, saying delegations go below the apex."""
    p = make([ep("@", "NS", "ns1.example.net"), ep("sub", "NS", "ns1.example.net")])
    assert reasons(p) == {
        RecordKey(ZONE, "NS"): "NS records at the zone apex are the zone's own; dnssync "
        "publishes NS only below the apex (delegations)"
    }
    assert [c.name for c in p.changes] == [fq("sub")]


def test_apex_ns_is_never_touched_even_with_a_claim_of_ours() -> None:
    """An ownership TXT of ours naming the apex NS does not make the zone's NS set ours."""
    txt = REG.ownership(ZONE, "NS", zone=ZONE, resource=RESOURCES[0])
    p = make(
        [], ("@", "NS", "ns1.example.net"), (txt.name.removesuffix("." + ZONE), "TXT", txt.value)
    )
    assert all(o.rrset.type != "NS" for c in p.changes for o in c.old)


def test_ns_ownership_below_its_delegation_is_refused() -> None:
    """With a prefix ending in a dot the TXT would lie below the delegation: refused."""
    reg = Registry(RegistryOptions(ME, prefix="%{record_type}."))
    zone = zonesim.written(ZONE, [])
    p = plan([ep("sub", "NS", "ns1.example.net")], zone, reg, options())
    assert reasons(p) == {
        RecordKey(
            fq("sub"), "NS"
        ): f"its ownership record ns.sub.{ZONE} would lie below the delegation"
    }


def test_published_txt_and_its_ownership_have_different_names() -> None:
    """A TXT record's ownership is ``<prefix>txt-<name>``: never the record's own set."""
    p = make([ep("www", "TXT", "v=spf1 -all")])
    (change,) = p.changes
    (new,) = change.new
    assert new.rrset.name == fq("www") and new.owner.name == f"extdns-txt-www.{ZONE}"


def test_user_txt_at_the_name_blocks_our_txt_and_stays() -> None:
    """A TXT set someone else manages at the name is not taken over, under any policy."""
    for policy in Policy:
        p = make([ep("www", "TXT", "ours")], ("www", "TXT", USER_TXT), policy=policy)
        assert p.changes == ()
        assert "no ownership record" in reasons(p)[RecordKey(fq("www"), "TXT")]


def test_txt_value_that_looks_like_ownership_is_refused() -> None:
    """A published value the registry would read as ownership could claim records: refused."""
    forged = format_labels({"owner": ME})
    p = make([ep("www", "TXT", forged)])
    assert "may not be an ownership record" in reasons(p)[RecordKey(fq("www"), "TXT")]


def test_txt_at_an_acme_name_is_refused() -> None:
    """TXT at _acme-challenge names is the ACME side's."""
    p = make([ep("_acme-challenge.www", "TXT", "token")])
    assert "ACME side" in reasons(p)[RecordKey(fq("_acme-challenge.www"), "TXT")]


def test_txt_beside_legacy_ownership_in_one_set_is_refused() -> None:
    """Without an affix the legacy ownership TXT is the record's own name: no TXT is mixed in."""
    reg = Registry(RegistryOptions(ME))
    legacy = format_labels({"owner": ME, "resource": RESOURCES[0]})
    zone = zonesim.written(
        ZONE, [(fq("www"), "A", 300, "192.0.2.1"), (fq("www"), "TXT", 300, legacy)]
    )
    p = plan([ep("www", "A", "192.0.2.1"), ep("www", "TXT", "v=spf1 -all")], zone, reg, options())
    assert "holds ownership records" in reasons(p)[RecordKey(fq("www"), "TXT")]


def test_user_txt_beside_a_legacy_claim_of_ours_is_not_deleted() -> None:
    """A legacy value of ours at a name does not make the user's TXT values there ours."""
    reg = Registry(RegistryOptions(ME))
    legacy = format_labels({"owner": ME, "resource": RESOURCES[0]})
    zone = zonesim.written(
        ZONE,
        [
            (fq("www"), "A", 300, "192.0.2.1"),
            (fq("www"), "TXT", 300, legacy),
            (fq("www"), "TXT", 300, USER_TXT),
        ],
    )
    assert reg.claims(zone, fq("www"), "TXT") == [], "a TXT set never claims itself"
    assert reg.claims(zone, fq("www"), "A") != []
    after = zonesim.apply(zone, plan([], zone, reg, options()).changes)
    assert USER_TXT in after.rrsets[RecordKey(fq("www"), "TXT")].values


def test_new_type_next_to_an_unmanaged_cname_is_refused() -> None:
    """A CNAME (even of a type not managed) excludes every other type at its name."""
    zone = zonesim.written(ZONE, [(fq("www"), "CNAME", 300, "lb.example.net")])
    opts = PlanOptions(max_change_ratio=None, managed_types=frozenset({"MX"}))
    p = plan([ep("www", "MX", "10 mx.example.net")], zone, REG, opts)
    assert "a CNAME record stands there" in reasons(p)[RecordKey(fq("www"), "MX")]


def test_cname_next_to_an_unmanaged_mx_is_refused() -> None:
    """A CNAME is not planned at a name holding an MX that is not managed."""
    opts = PlanOptions(max_change_ratio=None)
    zone = zonesim.written(ZONE, [(fq("www"), "MX", 300, USER_MX)])
    p = plan([ep("www", "CNAME", "lb.example.net")], zone, REG, opts)
    assert "cannot stand next to the other records" in reasons(p)[RecordKey(fq("www"), "CNAME")]


def test_unmanaged_type_names_the_setting() -> None:
    """A type the target does not manage is skipped, naming managed_record_types."""
    p = plan([ep("mx", "MX", "10 mx.example.net")], zonesim.written(ZONE, []), REG, PlanOptions())
    assert "managed_record_types" in reasons(p)[RecordKey(fq("mx"), "MX")]


@pytest.mark.parametrize("type_", sorted(TYPES))
def test_values_are_canonicalised_before_comparing(type_: str) -> None:
    """Desired values in any accepted spelling compare equal to what the zone holds."""
    spelled = {
        "A": "192.0.2.1",
        "AAAA": "2001:DB8:0::1",
        "CNAME": "LB.Example.NET.",
        "TXT": '"v=spf1 -all"',
        "MX": "10 MX1.example.net.",
        "SRV": "0 5 5060 SIP1.example.net.",
        "CAA": "0 ISSUE letsencrypt.org",
        "NS": "NS1.example.net.",
        "PTR": "Host.Example.Net",
    }[type_]
    zone = zonesim.written(ZONE, [])
    first = plan([ep("www", type_, spelled)], zone, REG, options())
    after = zonesim.apply(zone, first.changes)
    assert plan([ep("www", type_, spelled)], after, REG, options()).changes == ()


def test_a_txt_of_ours_at_the_ownership_name_is_deleted_before_the_create() -> None:
    """A TXT of ours unwanted at the apex TXT's ownership name goes first; the TXT follows."""
    registry = Registry(RegistryOptions(ME, prefix="%{record_type}."))
    mine = format_labels({"owner": ME, "resource": RESOURCES[0]})
    zone = zonesim.zone_of(
        ZONE,
        [
            RRset.of(fq("txt"), "TXT", 300, ("v=spf1 -all",)),
            RRset.of(fq("txt.txt"), "TXT", 300, (mine,)),
        ],
    )
    desired = [ep("@", "TXT", "v=spf1 -all")]
    first = plan(desired, zone, registry, options())
    assert [c.name for c in first.changes] == [fq("txt")]
    assert reasons(first) == {
        RecordKey(ZONE, "TXT"): f"its ownership record name {fq('txt')} holds a TXT record of ours"
    }
    after = converge(registry, zone, desired, Policy.SYNC)
    assert after.get(ZONE, "TXT") == RRset.of(ZONE, "TXT", 300, ("v=spf1 -all",))
