"""The planner (pure): desired endpoints + zone snapshot + policy -> Plan.

Rules, in the order they apply (external-dns semantics, with its faults
fixed):

* **Zone and domain filter.** Endpoints outside the zone or the target's
  domain filter are skipped and reported; records outside the filter are
  never touched, whoever owns them (external-dns drops them from its plan).
* **One winner per name.** When several objects want one name, the object
  that owns it now keeps it; otherwise the one external-dns would pick
  (its ``PerResource`` resolver: fewer targets, then the first differing
  target of the sorted lists, addresses before host names and in address
  order), and the resource name breaks a tie.  Losers are reported as
  :class:`~dnssync.model.Conflict` s -- never merged silently.
* **Ownership.** A record set is ours only when its ownership TXT carries our
  owner id (:mod:`dnssync.registry`).  Records of other owners and of no
  owner (manual, DHCP) are never updated or deleted; a desired record that
  collides with one is reported as :class:`~dnssync.model.Skipped`.
* **One value of ours per record.** A change removes, in its own message,
  every other value of ours at the ownership names of the record sets it
  touches (a leftover of a record deleted by hand, say); an ownership TXT of
  ours that marks no record is an orphan, listed or, under ``sync``, deleted.
  Otherwise a record someone creates there later would read as ours.
* **Policy.** ``create-only`` creates; ``upsert-only`` also updates (and
  replaces a record set of ours of another type, so CNAME -> A converges);
  ``sync`` also deletes.  Record sets of ours that nothing wants are listed
  as orphans unless the policy deletes them.
* **CNAME is exclusive.** A CNAME is only created at a name with no other
  data, and no other type next to a CNAME.
* **TTL.** An endpoint's TTL, clamped to the bounds; with none, an existing
  record keeps its TTL (no churn) and a new one gets the default.  The
  clamped TTL is what is compared with the zone, so a ``min_ttl`` above an
  annotation rewrites nothing on later passes (external-dns #6723).
  Ownership TXTs get the record's TTL, or ``ownership_ttl`` when set
  (external-dns writes them at ``--rfc2136-min-ttl``).
* **Legacy ownership.** A record of ours known only by its untyped
  (<= v0.17) TXT gets its typed TXT on the next pass, as external-dns
  forces an update when the typed name is missing.
* **The apex's ownership in a parent zone.** external-dns's ownership name
  for a zone apex lies outside the zone; where the target serves the zone
  holding it, it is read as a claim (:class:`~dnssync.model.Nearby`), and
  that zone keeps it while the record it marks exists.
* **Safety gate.** A plan that would delete or rewrite more than a set share
  of the owned record sets is refused unless forced.
* **Prerequisites.** Every change carries what it was planned on: our
  records and ownership TXTs exactly as read, and absent what must be
  absent, so the server rejects it if someone wrote in between.

Applying a plan and planning again gives an empty plan.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dnssync.domainfilter import DomainFilter
from dnssync.errors import InvalidInput, InvalidName
from dnssync.model import (
    MANAGED_TYPES,
    Action,
    Change,
    Conflict,
    Endpoint,
    Nearby,
    Owned,
    Ownership,
    Plan,
    Policy,
    RecordKey,
    RRset,
    Skipped,
    ZoneSnapshot,
)
from dnssync.names import in_zone, is_acme_name, zone_for
from dnssync.registry import Claim, Registry
from dnssync.rtypes import TYPES, parse_values


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How to plan; everything the planner needs besides the data."""

    policy: Policy = Policy.UPSERT_ONLY
    default_ttl: int = 300
    min_ttl: int = 0
    max_ttl: int = 604_800
    #: Refuse plans deleting or rewriting more than this share of the owned
    #: record sets (None: never refuse) ...
    max_change_ratio: float | None = 0.5
    #: ... once more than this many would be touched (small zones move freely).
    safety_floor: int = 5
    force: bool = False
    managed_types: frozenset[str] = field(default=MANAGED_TYPES)
    #: TTL of the ownership TXTs written; None: the record's TTL.
    ownership_ttl: int | None = None
    #: Names the target may touch (external-dns's --domain-filter and kin).
    domain_filter: DomainFilter = field(default_factory=DomainFilter)
    #: external-dns's --migrate-from-txt-owner: records of this owner are taken
    #: over, but only those whose resource label names one of ...
    migrate_from_owner: str = ""
    #: ... the objects the target reads now (``kind/namespace/name``).
    live_resources: frozenset[str] = frozenset()


def split_by_zone(
    endpoints: Iterable[Endpoint], zones: Sequence[str]
) -> tuple[dict[str, list[Endpoint]], list[Endpoint]]:
    """Group endpoints by the longest zone containing them; return the rest apart."""
    by_zone: dict[str, list[Endpoint]] = {z: [] for z in zones}
    outside: list[Endpoint] = []
    for ep in endpoints:
        zone = zone_for(ep.name, zones)
        if zone is None:
            outside.append(ep)
        else:
            by_zone[zone].append(ep)
    return by_zone, outside


def _target_key(target: str) -> tuple[int, int, int, str]:
    """external-dns's order of two targets: addresses first, in address order, then text."""
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return (1, 0, 0, target)
    return (0, address.version, int(address), "")


def _rank(endpoints: list[Endpoint]) -> tuple[int, tuple[tuple[int, int, int, str], ...], str]:
    """external-dns's ``Targets.IsLess`` as a sort key, then the resource name for ties.

    It compares the count first, then the targets sorted as text, element by
    element; the resource name stands in for its input order on a tie.
    """
    targets = sorted(t for e in endpoints for t in e.targets)
    return (len(targets), tuple(_target_key(t) for t in targets), endpoints[0].source.resource)


@dataclass(slots=True)
class _Current:
    """What the snapshot holds at one name, with ownership worked out."""

    rrsets: dict[str, RRset] = field(default_factory=dict)
    ours: dict[str, Claim] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)  # type -> why not ours
    #: Types ours by migration: their ownership TXT still names the old owner.
    taken: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Want:
    """One desired record set at its name, beside what the zone holds there."""

    ep: Endpoint
    cur: _Current
    target: RRset  # as it is to be published (values canonical, TTL settled)
    #: Types at the name the change removes: our set of this type (an update),
    #: or the sets a CNAME cannot stand beside (a type change).
    replaces: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.ep.name

    @property
    def type(self) -> str:
        return self.ep.type

    @property
    def resource(self) -> str:
        return self.ep.source.resource

    @property
    def current(self) -> RRset | None:
        return self.cur.rrsets.get(self.ep.type)

    @property
    def settled(self) -> bool:
        """Ours, as wanted, under its typed ownership name: nothing to do.

        A legacy-only claim is rewritten even when the record is right, as
        external-dns forces an update when the typed TXT is missing; so is a
        record taken over from the owner we migrate from.
        """
        claim = self.cur.ours.get(self.ep.type)
        if claim is None or claim.legacy or self.ep.type in self.cur.taken:
            return False
        return self.current == self.target


class _Planner:
    def __init__(
        self,
        snapshot: ZoneSnapshot,
        registry: Registry,
        options: PlanOptions,
        nearby: Nearby,
    ) -> None:
        self.snapshot = snapshot
        self.nearby = nearby
        self.zone = snapshot.zone
        self.registry = registry
        self.options = options
        self.changes: list[Change] = []
        self.conflicts: list[Conflict] = []
        self.skipped: list[Skipped] = []
        self.orphans: list[Owned] = []
        self.by_name: dict[str, _Current] = defaultdict(_Current)
        self.owned_count = 0
        self.orphan_count = 0  # ownership records of ours marking no record
        self.desired_count = 0
        #: Ownership TXT names the desired records need -> the record: no
        #: CNAME may be planned there, and no orphan is deleted there.
        self.txt_wanted: dict[str, RecordKey] = {}
        #: Names whose winner asked for a CNAME beside other types: still
        #: wanted, so nothing there is deleted under sync.
        self.unplannable: set[str] = set()
        #: Ownership TXT name -> the existing record sets it may claim.  A
        #: name several records share (``*.x`` and its wildcard replacement)
        #: is never cleaned up for one of them.
        self.holders: dict[str, set[RecordKey]] = defaultdict(set)
        #: TXT names some change of this plan already writes or deletes at:
        #: two messages must not both carry the RRset as a prerequisite.
        self.txt_touched: set[str] = set()
        #: Every type at each name, managed or not (CNAME exclusivity).
        self.types_at: dict[str, set[str]] = defaultdict(set)
        #: Names whose TXT record set holds registry values (ownership records).
        self.heritage_txt: set[str] = set()
        #: Record sets ours by migration -> the old owner's claim.
        self.taken: dict[RecordKey, Claim] = {}
        #: Desired record sets that could not be planned (a bad value, say):
        #: what is there stays as it is -- neither updated, deleted nor listed.
        self.held: set[RecordKey] = set()
        for key, raw in snapshot.rrsets.items():
            self._read(key, raw)
        for key in nearby.records:
            # Another zone's apex record: its external-dns ownership name is here.
            for txt_name in registry.claim_names(key.name, key.type, zone=self.zone):
                if txt_name is not None:
                    self.holders[txt_name].add(key)

    def _read(self, key: RecordKey, raw: RRset) -> None:
        """Note one record set of the snapshot: ours, or why it is not."""
        self.types_at[key.name].add(key.type)
        if key.type not in self.options.managed_types:
            return
        rrset = self._published(raw)
        if rrset is None:
            return
        cur = self.by_name[key.name]
        cur.rrsets[key.type] = rrset
        for txt_name in self.registry.claim_names(key.name, key.type, zone=self.zone):
            if txt_name is not None:
                self.holders[txt_name].add(key)
        why = self._never_ours(key, raw, rrset)
        if why is not None:
            cur.foreign[key.type] = why
            return
        claims = self.registry.claims(self.snapshot, key.name, key.type, self.nearby.txt)
        mine = self.registry.owns(claims)
        taken = None if mine is not None else self._taken_over(claims)
        if taken is not None:
            cur.taken.add(key.type)
            self.taken[key] = taken
        claim = mine or taken
        if claim is not None:
            cur.ours[key.type] = claim
            self.owned_count += 1
        elif claims:
            # Name an owner other than us: claims[0] may be our own claim
            # beside another owner's.
            deciding = self.registry.effective(claims)
            others = [c for c in deciding if c.owner != self.registry.owner_id]
            cur.foreign[key.type] = f"owned by {others[0].owner!r}" + self._not_taken(others[0])
        else:
            cur.foreign[key.type] = "not managed by external-dns or dnssync (no ownership record)"

    def _taken_over(self, claims: list[Claim]) -> Claim | None:
        """The old owner's claim on a record migration takes over, if it does.

        Every deciding claim names the owner we migrate from (or us), and each
        of the old owner's names a resource the target reads now: a record of
        an object that is gone, or of another cluster still using that owner
        id, stays that owner's.
        """
        old = self.options.migrate_from_owner
        deciding = self.registry.effective(claims)
        theirs = [c for c in deciding if c.owner == old]
        if (
            not old
            or not theirs
            or any(c.owner not in (old, self.registry.owner_id) for c in deciding)
        ):
            return None
        if any(c.resource not in self.options.live_resources for c in theirs):
            return None
        return theirs[0]

    def _not_taken(self, claim: Claim) -> str:
        """Why migration leaves a claim of the old owner alone ("" if it is not one)."""
        if not self.options.migrate_from_owner or claim.owner != self.options.migrate_from_owner:
            return ""
        resource = claim.resource or "none"
        return f" (not taken over: its resource {resource} is not among the target's objects)"

    def _never_ours(self, key: RecordKey, raw: RRset, rrset: RRset) -> str | None:
        """Why a record set is never ours to change, whatever its ownership says."""
        if not self.options.domain_filter.match(key.name):
            return "outside the domain filter"
        if key.name == self.zone and not TYPES[key.type].at_apex:
            return f"the zone apex's {key.type} records are the zone's own"
        if rrset is not raw:
            # Deleting or replacing it would take the ownership values along.
            return "its record set holds ownership records too"
        return None

    def _published(self, raw: RRset) -> RRset | None:
        """The record set as published: a TXT set without its registry values.

        Ownership records are no TXT records of anyone's; None when nothing
        else is there.
        """
        if raw.type != "TXT":
            return raw
        values = tuple(v for v in raw.values if self.registry.labels_of(v) is None)
        if len(values) == len(raw.values):
            return raw
        self.heritage_txt.add(raw.name)
        return RRset(raw.name, raw.type, raw.ttl, values) if values else None

    # --- desired side ----------------------------------------------------

    def winners(self, desired: Iterable[Endpoint]) -> dict[str, list[Endpoint]]:
        """One object per name; report the others as conflicts."""
        per_name: dict[str, dict[str, list[Endpoint]]] = defaultdict(lambda: defaultdict(list))
        for given in desired:
            ep = self._admit(given)
            if ep is None:
                continue
            group = per_name[ep.name][ep.source.resource]
            same = next((i for i, e in enumerate(group) if e.type == ep.type), None)
            if same is None:
                group.append(ep)
            else:
                # One object, one name, one type twice: merge, independent of order.
                merged = tuple(sorted(set(group[same].targets) | set(ep.targets)))
                ttls = [t for t in (group[same].ttl, ep.ttl) if t is not None]
                group[same] = replace(ep, targets=merged, ttl=min(ttls) if ttls else None)
        out: dict[str, list[Endpoint]] = {}
        self.desired_count = sum(len(eps) for c in per_name.values() for eps in c.values())
        for name in sorted(per_name):
            claimants = per_name[name]
            eps = self._pick(name, claimants)
            types = {e.type for e in eps}
            if "CNAME" in types and len(types) > 1:
                resource = eps[0].source.resource
                for e in eps:
                    self.skipped.append(
                        Skipped(e.key, resource, "a CNAME cannot stand next to other types")
                    )
                # Still wanted, so not deleted under sync: else, with a
                # conflict, the loser would take the name in the next round.
                self.unplannable.add(name)
                continue
            out[name] = eps
        return out

    def _pick(self, name: str, claimants: dict[str, list[Endpoint]]) -> list[Endpoint]:
        """The winning object's endpoints at ``name``; the others reported as a conflict."""
        if len(claimants) == 1:
            (eps,) = claimants.values()
            return eps
        current = self.by_name.get(name)
        holders = {c.resource for c in current.ours.values()} if current else set()
        keep = sorted(r for r in claimants if r in holders)
        if keep:
            winner, reason = keep[0], "already owns the name"
        else:
            winner = min(claimants, key=lambda r: _rank(claimants[r]))
            reason = "fewer targets, then lower targets (addresses first), as external-dns"
        losers = tuple(sorted(r for r in claimants if r != winner))
        self.conflicts.append(Conflict(name, winner, losers, reason))
        return claimants[winner]

    def _admit(self, ep: Endpoint) -> Endpoint | None:
        """The endpoint with canonical values, or None (skipped, saying why)."""
        reason = next((why for rule in _DESIRED_RULES if (why := rule(self, ep))), None)
        if reason is None:
            try:
                ep = replace(ep, targets=parse_values(ep.type, ep.targets))
            except InvalidInput as err:
                reason = str(err)
            else:
                reason = next((why for rule in _VALUE_RULES if (why := rule(self, ep))), None)
            if reason is not None:
                self.held.add(ep.key)
        if reason is None:
            return ep
        self.skipped.append(Skipped(ep.key, ep.source.resource, reason))
        return None

    def ttl(self, ep: Endpoint, current: RRset | None) -> int:
        o = self.options
        if ep.ttl is None:
            if current is not None and o.min_ttl <= current.ttl <= o.max_ttl:
                return current.ttl
            return min(max(o.default_ttl, o.min_ttl), o.max_ttl)
        return min(max(ep.ttl, o.min_ttl), o.max_ttl)

    # --- per name ----------------------------------------------------------

    def owned(self, rrset: RRset, claim: Claim) -> Owned:
        return Owned(rrset, claim.ownership, claim.resource)

    def plan_name(self, name: str, eps: list[Endpoint]) -> None:
        """The one emitter: each wanted record set through the checks, then one change."""
        cur = self.by_name.get(name) or _Current()
        old: list[Owned] = []
        new: list[Owned] = []
        blocked = False
        for ep in sorted(eps, key=lambda e: e.type):
            want = self._want(ep, cur)
            failed = self._check(_EVERY, want)
            if failed is None and want.current is not None and want.settled:
                continue
            if failed is None:
                failed = self._check(_UPDATE if want.current is not None else _CREATE, want)
            if failed is not None:
                check, why = failed
                self.skipped.append(Skipped(ep.key, want.resource, why))
                blocked = blocked or check.holds_name
                continue
            for t in want.replaces:
                if all(o.rrset.type != t for o in old):
                    old.append(self.owned(cur.rrsets[t], cur.ours[t]))
            ownership = self._ownership(name, ep.type, want.resource)
            new.append(self._new(want.target, ownership, want.resource))
        self._unwanted(name, cur, {e.type for e in eps}, old, blocked=blocked)
        if old or new:
            self._emit(name, old, new)

    def _want(self, ep: Endpoint, cur: _Current) -> _Want:
        current = cur.rrsets.get(ep.type)
        target = RRset.of(ep.name, ep.type, self.ttl(ep, current), ep.targets)
        if current is not None and ep.type in cur.ours:
            # An update replaces exactly the record set of ours of this type.
            replaces: tuple[str, ...] = (ep.type,)
        else:
            # A type change: CNAME and any other type never stand together.
            replaces = tuple(
                t for t in sorted(cur.rrsets) if t != ep.type and "CNAME" in (t, ep.type)
            )
        return _Want(ep, cur, target, replaces)

    def _check(self, checks: tuple[_NameCheck, ...], want: _Want) -> tuple[_NameCheck, str] | None:
        """The first check ``want`` fails, with its reason."""
        for check in checks:
            why = check.test(self, want)
            if why is not None:
                return check, why
        return None

    def _unwanted(
        self, name: str, cur: _Current, wanted: set[str], old: list[Owned], *, blocked: bool
    ) -> None:
        """Ours at ``name`` that nothing wants any more: deleted under sync, else orphans.

        Not while a wanted record set there could not be planned: the name is
        still in use, and what it needs may be what is there.
        """
        replaced = {o.rrset.type for o in old}
        for type_, claim in sorted(cur.ours.items()):
            if type_ in wanted or type_ in replaced or RecordKey(name, type_) in self.held:
                continue
            item = self.owned(cur.rrsets[type_], claim)
            if self.options.policy is Policy.SYNC and not blocked:
                old.append(item)
            else:
                self.orphans.append(item)

    def _placement(self, name: str, type_: str) -> str | None:
        """Why a record of ``type_`` cannot stand at ``name`` with its ownership record."""
        try:
            txt_name = self.registry.txt_name(name, type_, zone=self.zone)
        except InvalidName as e:
            # e.g. a 63-character first label leaves no room for "cname-".
            return f"no valid ownership name: {e}"
        if TYPES[type_].delegates and txt_name != name and in_zone(txt_name, name):
            # Below a delegation the zone is no longer authoritative.
            return f"its ownership record {txt_name} would lie below the delegation"
        if type_ == "TXT" and name in self.txt_wanted:
            # That record's ownership value would land in this record set.
            return f"the name is the ownership record name of {self.txt_wanted[name]}"
        unmanaged_cname = "CNAME" not in self.by_name.get(name, _Current()).rrsets
        if type_ != "CNAME" and unmanaged_cname and "CNAME" in self.types_at.get(name, ()):
            return "a CNAME record stands there, and nothing may stand next to it"
        return None

    def _name_in_use(self, name: str, cur: _Current, replaced: Sequence[str]) -> bool:
        """Whether data other than our record sets being replaced is at ``name``."""
        if name in self.snapshot.other_names:
            return True
        if any(t != "TXT" and t not in replaced for t in self.types_at.get(name, ())):
            return True
        txt = self.snapshot.get(name, "TXT")
        if txt is None:
            return False
        # Only legacy ownership TXTs of our replaced record sets may stay in
        # the way: they are deleted in the same message.
        leaving = {
            cur.ours[t].ownership.value
            for t in replaced
            if t in cur.ours and cur.ours[t].ownership.name == name
        }
        return not set(txt.values) <= leaving

    def _txt_blocked(self, txt_name: str) -> str | None:
        """Why no ownership TXT can be added at ``txt_name``, if none can.

        A server silently ignores a TXT added at a name holding a CNAME (RFC
        2136 3.4.2.2): the record would be written without its ownership
        record, and nobody's from then on.  A TXT record set of ours there
        would hold an ownership value beside its published ones, and be
        nobody's to change from then on (nor could this plan delete it, its
        values having changed): the record waits until that one is gone.
        """
        if self.snapshot.get(txt_name, "CNAME") is not None:
            return f"its ownership record name {txt_name} holds a CNAME"
        if "TXT" in self.by_name.get(txt_name, _Current()).ours:
            return f"its ownership record name {txt_name} holds a TXT record of ours"
        return None

    def _new(self, rrset: RRset, ownership: Ownership, resource: str) -> Owned:
        return Owned(rrset, ownership, resource, self.options.ownership_ttl)

    def _ownership(self, name: str, type_: str, resource: str) -> Ownership:
        return self.registry.ownership(name, type_, zone=self.zone, resource=resource)

    def _stale_claim(self, name: str, type_: str) -> str | None:
        """Why the ownership record's place is taken, for a record we create."""
        txt_name = self.registry.txt_name(name, type_, zone=self.zone)
        for claim in self.registry.claims(self.snapshot, name, type_):
            if claim.ownership.name == txt_name and claim.owner != self.registry.owner_id:
                return f"ownership record {txt_name} belongs to owner {claim.owner!r}"
        return None

    def delete_name(self, name: str, cur: _Current) -> None:
        items = [
            self.owned(cur.rrsets[t], c)
            for t, c in sorted(cur.ours.items())
            if RecordKey(name, t) not in self.held
        ]
        if not items:
            return
        if self.options.policy is Policy.SYNC and name not in self.unplannable:
            self._emit(name, items, [])
        else:
            self.orphans.extend(items)

    def _emit(self, name: str, old: list[Owned], new: list[Owned]) -> None:
        """The one place a change is built: its records, ownership and prerequisites.

        Prerequisites say what the change was planned on: our record sets and
        every ownership TXT RRset it edits exactly as read, and absent what it
        creates -- so a concurrent writer makes the message fail instead of
        being overwritten.
        """
        snap = self.snapshot
        require: dict[RecordKey, RRset] = {}
        absent: list[RecordKey] = []
        leftovers = self._leftovers(name, old, new)
        for o in old:
            require[o.rrset.key] = o.rrset
        old_types = {o.rrset.type for o in old}
        old_owners = {o.owner for o in old}
        for n in new:
            if n.rrset.type not in old_types:
                absent.append(n.rrset.key)
        txt_names = {o.owner.name for o in (*old, *new)} | {o.name for o in leftovers}
        for txt_name in sorted(txt_names):
            txt = snap.get(txt_name, "TXT")
            if txt is not None:
                require[txt.key] = txt
            elif any(n.owner.name == txt_name and n.owner not in old_owners for n in new):
                absent.append(RecordKey(txt_name, "TXT"))
        self.txt_touched |= txt_names
        if not old and any(n.rrset.type == "CNAME" for n in new):
            absent = [RecordKey(name, "ANY"), *[k for k in absent if k.name != name]]
        action = Action.CREATE if not old else Action.DELETE if not new else Action.UPDATE
        self.changes.append(
            Change(
                action,
                name,
                tuple(old),
                tuple(new),
                tuple(require[k] for k in sorted(require)),
                tuple(absent),
                tuple(leftovers),
            )
        )

    def _leftovers(self, name: str, old: list[Owned], new: list[Owned]) -> list[Ownership]:
        """Values of ours at the ownership names of the record sets changed here
        that mark nothing afterwards: a record keeps at most one value of ours,
        and none survives a delete (or a manual record created there later
        would read as ours)."""
        keep = {o.owner for o in (*old, *new)}
        changing = {o.rrset.key for o in (*old, *new)}
        out: list[Ownership] = []
        for type_ in sorted({o.rrset.type for o in (*old, *new)}):
            for txt_name in self.registry.claim_names(name, type_, zone=self.zone):
                if txt_name is None or self.holders.get(txt_name, set()) - changing:
                    continue
                for c in self._ours_at(txt_name):
                    if c.ownership not in keep and c.ownership not in out:
                        out.append(c.ownership)
        return out

    def _ours_at(self, txt_name: str) -> list[Claim]:
        mine = self.registry.owner_id
        return [c for c in self.registry.claims_at(self.snapshot, txt_name) if c.owner == mine]

    def orphan_records(self) -> None:
        """Ownership records of ours that mark no record: deleted under sync, else listed.

        Only at names the registry maps back to records of managed types
        (other types are not read, so their records may exist unseen), that no
        existing or desired record uses and no change of this plan edits.
        """
        managed = self.options.managed_types
        for key in sorted(self.snapshot.rrsets):
            txt_name = key.name
            if key.type != "TXT" or txt_name in self.holders or txt_name in self.txt_wanted:
                continue
            if txt_name in self.txt_touched:
                continue
            ours = self._ours_at(txt_name)
            if not ours:
                continue
            typed, legacy = self.registry.records_of(txt_name, zone=self.zone)
            if legacy is None and not (typed and all(t in managed for _, t in typed)):
                continue
            marked = [r for r, _ in typed] + ([legacy] if legacy else [])
            if not all(self.options.domain_filter.match(r) for r in marked):
                continue  # it marks names outside the domain filter: not ours to touch
            self.orphan_count += 1
            rrset = self.snapshot.rrsets[key]
            if self.options.policy is Policy.SYNC:
                leftovers = tuple(c.ownership for c in ours)
                self.changes.append(
                    Change(Action.DELETE, txt_name, require=(rrset,), leftovers=leftovers)
                )
                self.txt_touched.add(txt_name)
                continue
            for c in ours:
                txt = RRset(txt_name, "TXT", rrset.ttl, (c.ownership.value,))
                self.orphans.append(Owned(txt, c.ownership, c.resource))

    # --- all ---------------------------------------------------------------

    def run(self, desired: Iterable[Endpoint]) -> Plan:
        winners = self.winners(desired)
        for name, eps in winners.items():
            for e in eps:
                try:
                    txt_name = self.registry.txt_name(name, e.type, zone=self.zone)
                except InvalidName:
                    continue
                self.txt_wanted.setdefault(txt_name, e.key)
        for name, eps in winners.items():
            self.plan_name(name, eps)
        for name in sorted(self.by_name):
            if name not in winners:
                self.delete_name(name, self.by_name[name])
        self.orphan_records()
        return self.gate()

    def gate(self) -> Plan:
        o = self.options
        # An orphaned ownership record counts as one owned record set: losing
        # many of them at once is as suspicious as losing their records.
        touched = sum(len(c.old) or int(not c.new) for c in self.changes)
        owned = self.owned_count + self.orphan_count
        refused = ""
        changes = tuple(self.changes)
        if (
            o.max_change_ratio is not None
            and not o.force
            and touched > o.safety_floor
            and touched > o.max_change_ratio * owned
        ):
            refused = (
                f"the plan would delete or rewrite {touched} of {owned} owned record "
                f"sets in {self.zone}, more than the allowed {o.max_change_ratio:.0%}; "
                "check the sources, then force it if it is intended"
            )
            changes = tuple(c for c in changes if c.action is Action.CREATE)
        return Plan(
            self.zone,
            changes,
            tuple(self.conflicts),
            # Sorted, so the plan does not depend on the order of the desired endpoints.
            tuple(sorted(self.skipped, key=lambda s: (s.key, s.resource, s.reason))),
            tuple(self.orphans),
            refused,
            owned=self.owned_count,
            desired=self.desired_count,
            taken_over=tuple(o for c in changes for o in c.old if o.rrset.key in self.taken),
        )


# --- what a desired record set must be to be planned -------------------------
#
# Each rule names why an endpoint cannot be planned, or returns None.  The
# first list runs on the endpoint as given; the second on its canonical values,
# and holds what is there (a fault in a source never deletes a record).

_Rule = Callable[[_Planner, Endpoint], str | None]


def _outside_zone(p: _Planner, ep: Endpoint) -> str | None:
    return None if in_zone(ep.name, p.zone) else f"outside zone {p.zone}"


def _outside_filter(p: _Planner, ep: Endpoint) -> str | None:
    return None if p.options.domain_filter.match(ep.name) else "outside the domain filter"


def _unmanaged(p: _Planner, ep: Endpoint) -> str | None:
    if ep.type in p.options.managed_types:
        return None
    if ep.type not in TYPES:
        return f"type {ep.type} is not supported ({', '.join(TYPES)} are)"
    return f"type {ep.type} is not managed (managed_record_types lists the types to manage)"


def _target_count(p: _Planner, ep: Endpoint) -> str | None:
    # The converters never produce these; the planner does not rely on it (a
    # record without targets would leave its TXT alone, a two-target CNAME
    # would be rewritten every pass).
    if not ep.targets:
        return "has no targets"
    if TYPES[ep.type].single and len(ep.targets) != 1:
        return f"needs exactly one {ep.type} target"
    return None


def _apex(p: _Planner, ep: Endpoint) -> str | None:
    if ep.name != p.zone or TYPES[ep.type].at_apex:
        return None
    return (
        f"{ep.type} records at the zone apex are the zone's own; dnssync publishes "
        f"{ep.type} only below the apex (delegations)"
    )


_DESIRED_RULES: tuple[_Rule, ...] = (
    _outside_zone,
    _outside_filter,
    _unmanaged,
    _target_count,
    _apex,
)


def _acme_txt(p: _Planner, ep: Endpoint) -> str | None:
    if ep.type == "TXT" and is_acme_name(ep.name):
        return "TXT records at _acme-challenge and _dnssync-acme names are the ACME side's"
    return None


def _forged_ownership(p: _Planner, ep: Endpoint) -> str | None:
    # A published value the registry would read as an ownership record could
    # claim other records.
    if ep.type == "TXT" and any(p.registry.labels_of(v) is not None for v in ep.targets):
        return "a TXT value may not be an ownership record (heritage=external-dns,...)"
    return None


def _ownership_set(p: _Planner, ep: Endpoint) -> str | None:
    if ep.type == "TXT" and ep.name in p.heritage_txt:
        return "its TXT record set holds ownership records; a published value would mix with them"
    return None


_VALUE_RULES: tuple[_Rule, ...] = (_acme_txt, _forged_ownership, _ownership_set)


# --- what a record set must meet at its name to be planned -------------------
#
# The emitter (_Planner.plan_name) runs _EVERY, then _UPDATE for a type we
# own there or _CREATE for a new one; the first check that names a reason
# skips the record set.  A check that ``holds_name`` also keeps everything of
# ours at the name in place this pass: the name is still wanted, and a fault
# in the zone (not the policy) is what stopped it.


@dataclass(frozen=True, slots=True)
class _NameCheck:
    test: Callable[[_Planner, _Want], str | None]
    holds_name: bool = True


def _misplaced(p: _Planner, w: _Want) -> str | None:
    return p._placement(w.name, w.type)


def _not_ours(p: _Planner, w: _Want) -> str | None:
    return w.cur.foreign.get(w.type)


def _create_only_update(p: _Planner, w: _Want) -> str | None:
    if p.options.policy is not Policy.CREATE_ONLY:
        return None
    if w.current != w.target:
        what = "differs"
    elif w.type in w.cur.taken:
        what = f"is owner {w.cur.ours[w.type].owner!r}'s, to be taken over"
    else:
        what = "has only a legacy ownership record"
    return f"{what}, but the policy is create-only"


def _typed_name_taken(p: _Planner, w: _Want) -> str | None:
    # Moving a legacy claim to its typed name adds a TXT there.
    claim = w.cur.ours[w.type]
    txt_name = p.registry.txt_name(w.name, w.type, zone=p.zone)
    return None if txt_name == claim.ownership.name else p._txt_blocked(txt_name)


def _beside_foreign(p: _Planner, w: _Want) -> str | None:
    foreign = [t for t in w.replaces if t in w.cur.foreign]
    if not foreign:
        return None
    return f"a CNAME cannot stand next to the {'/'.join(foreign)} record there, which is not ours"


def _cname_name_in_use(p: _Planner, w: _Want) -> str | None:
    if w.type == "CNAME" and p._name_in_use(w.name, w.cur, w.replaces):
        return "a CNAME cannot stand next to the other records there"
    return None


def _cname_at_ownership_name(p: _Planner, w: _Want) -> str | None:
    # The TXT of a record this plan writes goes here; a CNAME would make that
    # TXT (or this CNAME) fail on the server.
    if w.type == "CNAME" and w.name in p.txt_wanted:
        return f"the name is the ownership record name of {p.txt_wanted[w.name]}"
    return None


def _ownership_name_blocked(p: _Planner, w: _Want) -> str | None:
    return p._txt_blocked(p.registry.txt_name(w.name, w.type, zone=p.zone))


def _create_only_type_change(p: _Planner, w: _Want) -> str | None:
    if w.replaces and p.options.policy is Policy.CREATE_ONLY:
        return "type change needs an update; policy is create-only"
    return None


def _stale_claim(p: _Planner, w: _Want) -> str | None:
    return p._stale_claim(w.name, w.type)


_EVERY: tuple[_NameCheck, ...] = (_NameCheck(_misplaced), _NameCheck(_not_ours))
_UPDATE: tuple[_NameCheck, ...] = (
    _NameCheck(_create_only_update, holds_name=False),
    _NameCheck(_typed_name_taken),
)
_CREATE: tuple[_NameCheck, ...] = (
    _NameCheck(_beside_foreign),
    _NameCheck(_cname_name_in_use),
    _NameCheck(_cname_at_ownership_name),
    _NameCheck(_ownership_name_blocked),
    _NameCheck(_create_only_type_change, holds_name=False),
    _NameCheck(_stale_claim),
)


def holds(change: Change, snapshot: ZoneSnapshot) -> bool:
    """Whether ``snapshot`` already shows what ``change`` brings about.

    Its new record sets exactly (values and TTL) with their ownership values,
    and none of what it removes.  After an unknown outcome this tells a
    change that landed late from one a concurrent writer blocked.
    """
    new_keys = {n.rrset.key for n in change.new}
    new_owners = {n.owner for n in change.new}
    for n in change.new:
        txt = snapshot.get(n.owner.name, "TXT")
        if snapshot.get(n.rrset.name, n.rrset.type) != n.rrset:
            return False
        if txt is None or n.owner.value not in txt.values:
            return False
    for o in change.old:
        if o.rrset.key not in new_keys and snapshot.get(o.rrset.name, o.rrset.type) is not None:
            return False
    for gone in (*(o.owner for o in change.old), *change.leftovers):
        txt = snapshot.get(gone.name, "TXT")
        if gone not in new_owners and txt is not None and gone.value in txt.values:
            return False
    return True


def plan(
    desired: Iterable[Endpoint],
    snapshot: ZoneSnapshot,
    registry: Registry,
    options: PlanOptions = PlanOptions(),
    nearby: Nearby | None = None,
) -> Plan:
    """Compute the changes that bring ``snapshot`` to ``desired``.

    ``nearby`` is what the target's other zones hold at the names
    external-dns gives zone apexes (:func:`nearby`).
    """
    return _Planner(snapshot, registry, options, nearby or Nearby()).run(desired)


def apex_neighbours(
    zones: Sequence[str], registry: Registry, types: Iterable[str]
) -> dict[str, set[str]]:
    """For each zone, the target's other zones :func:`nearby` needs to read.

    external-dns's ownership name for a zone's apex may lie in another zone of
    the target (a parent); that zone and this one each need the other's view.
    """
    out: dict[str, set[str]] = {z: set() for z in zones}
    for zone in zones:
        for type_ in sorted(set(types)):
            name = registry.outside_apex_name(zone, type_, zone=zone)
            holder = zone_for(name, zones) if name is not None else None
            if holder is not None and holder != zone:
                out[zone].add(holder)
                out[holder].add(zone)
    return out


def nearby(
    zone: str,
    zones: Sequence[str],
    snapshots: Mapping[str, ZoneSnapshot],
    registry: Registry,
    types: Iterable[str],
) -> Nearby:
    """What the other zones in ``snapshots`` hold that ``zone``'s ownership depends on.

    The TXT record sets at external-dns's names for ``zone``'s apex, and the
    record sets at other apexes whose external-dns names lie in ``zone``
    (each name in the longest of the target's ``zones`` holding it).
    """
    txt: dict[RecordKey, RRset] = {}
    records: set[RecordKey] = set()
    for other, snap in snapshots.items():
        if other == zone:
            continue
        for type_ in sorted(set(types)):
            mine = registry.outside_apex_name(zone, type_, zone=zone)
            rrset = snap.get(mine, "TXT") if mine and zone_for(mine, zones) == other else None
            if rrset is not None:
                txt[rrset.key] = rrset
            theirs = registry.outside_apex_name(other, type_, zone=other)
            placed = theirs is not None and zone_for(theirs, zones) == zone
            if placed and snap.get(other, type_) is not None:
                records.add(RecordKey(other, type_))
    return Nearby(txt, frozenset(records))


def neighbourhood(
    names: Iterable[str],
    snapshot: ZoneSnapshot,
    registry: Registry,
    desired: Callable[[str], bool],
) -> tuple[frozenset[str], ZoneSnapshot]:
    """The names a plan of ``names`` alone must see, and the snapshot cut to them.

    A record's plan reads its ownership names, and an ownership name's plan
    (an orphan?) reads every record it may mark: from ``names``, each name
    changed or holding something (in the zone, or ``desired``) brings in
    those of its neighbours, until none is new.  Planning the cut snapshot with the desired
    endpoints at the returned names gives, for those names, the changes a
    plan of the whole zone gives -- provided the zone was planned to the end
    before (the state a service reaches between two events).
    """
    zone, rrsets = snapshot.zone, snapshot.rrsets

    def holds(name: str) -> bool:
        if name in snapshot.other_names or desired(name):
            return True
        return any(RecordKey(name, t) in rrsets for t in TYPES)

    changed = {n for n in names if in_zone(n, zone)}
    seen: set[str] = set()
    todo = list(changed)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in changed and not holds(name):
            continue  # nothing there, before or after: nothing it marks can have moved
        for type_ in TYPES:
            todo.extend(n for n in registry.claim_names(name, type_, zone=zone) if n)
        todo.extend(registry.may_mark(name, zone=zone, types=TYPES))
    cut = {k: v for n in seen for t in TYPES if (v := rrsets.get(k := RecordKey(n, t)))}
    others = frozenset(n for n in seen if n in snapshot.other_names)
    return frozenset(seen), ZoneSnapshot(zone, snapshot.serial, cut, others)
