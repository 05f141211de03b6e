"""Frozen value types that flow through dnssync.

Sources produce :class:`Endpoint` s (what the cluster wants), the zone reader
produces a :class:`ZoneSnapshot` (what the server has), the planner turns both
into a :class:`Plan` of :class:`Change` s, and the update builder turns
changes into RFC 2136 messages.  Names are canonical (see :mod:`dnssync.names`);
record values are canonical text, as :mod:`dnssync.rtypes` defines it per type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from dnssync.rtypes import TYPES

#: Record types dnssync manages unless told otherwise (external-dns's
#: ``--managed-record-types`` default); :data:`dnssync.rtypes.TYPES` lists all it can.
MANAGED_TYPES: frozenset[str] = frozenset({"A", "AAAA", "CNAME"})
#: Types the zone reader keeps the values of: every type dnssync can publish
#: (TXT among them, which also carries the ownership records).
READ_TYPES: frozenset[str] = frozenset(TYPES)


class Policy(StrEnum):
    """What the planner may do, as external-dns defines it."""

    SYNC = "sync"  # create, update, delete
    UPSERT_ONLY = "upsert-only"  # create, update
    CREATE_ONLY = "create-only"  # create


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class RecordKey(NamedTuple):
    """One RRset's identity: owner name and type.

    A named tuple rather than a dataclass: it is the key of every zone
    dictionary, and tuple hashing and comparison run in C.
    """

    name: str
    type: str

    def __str__(self) -> str:
        return f"{self.name} {self.type}"


@dataclass(frozen=True, slots=True)
class RRset:
    """A record set: ``values`` are sorted, unique, canonical text."""

    name: str
    type: str
    ttl: int
    values: tuple[str, ...]

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.name, self.type)

    @staticmethod
    def of(name: str, type_: str, ttl: int, values: tuple[str, ...] | list[str]) -> RRset:
        return RRset(name, type_, ttl, tuple(sorted(set(values))))


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """The Kubernetes object (or manifest) an endpoint came from."""

    kind: str  # lower case, as in external-dns's resource label: service, ingress
    namespace: str
    name: str

    @property
    def resource(self) -> str:
        """external-dns's ``resource`` label value: ``ingress/ns/name``.

        Empty for :data:`DERIVED` records, which no one object asks for.
        """
        return f"{self.kind}/{self.namespace}/{self.name}" if self.kind else ""

    def __str__(self) -> str:
        return self.resource


#: The source of records dnssync derives from others (the reverse records of
#: ``create_ptr``): several objects may share one, so it names none, and its
#: ownership TXT carries no ``resource`` label -- as external-dns writes it.
DERIVED = ObjectRef("", "", "")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One desired record set, and the object that asks for it."""

    name: str
    type: str
    targets: tuple[str, ...]
    source: ObjectRef
    ttl: int | None = None
    #: The ``record-type`` annotation's say on a reverse (PTR) record for an
    #: A/AAAA: True for ``ptr``, False for any other value, None when absent
    #: (the target's ``create_ptr`` decides).
    ptr: bool | None = None

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.name, self.type)


@dataclass(frozen=True, slots=True)
class Ownership:
    """An ownership TXT record: its name and exact value (as written)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Owned:
    """An RRset together with the ownership record that marks it ours."""

    rrset: RRset
    owner: Ownership
    resource: str = ""
    #: TTL the ownership TXT is written with; None: the record's own TTL.
    txt_ttl: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One atomic step at one name.

    ``old`` are record sets we own now and remove or replace; ``new`` are the
    record sets there must be afterwards.  A type change (CNAME -> A) is one
    change with different types in ``old`` and ``new``, so it travels in one
    message and converges under upsert-only too.  The planner fills in the
    prerequisites from what it read, so a concurrent writer makes the message
    fail instead of being overwritten.
    """

    action: Action
    name: str
    old: tuple[Owned, ...] = ()
    new: tuple[Owned, ...] = ()
    #: RRsets that must be exactly as read (RFC 2136 value-dependent prerequisite).
    require: tuple[RRset, ...] = ()
    #: RRsets that must not exist; type ``ANY`` means the name must not be in use.
    require_absent: tuple[RecordKey, ...] = ()
    #: Further ownership values of ours at this change's ownership names that
    #: mark nothing once it is applied (left by a record deleted by hand, a
    #: crash, an earlier resource): removed in the same message, so a record
    #: never carries two of our values and none is left to claim a record
    #: someone creates there later.  A change with nothing else removes an
    #: orphaned ownership record (ours, no record): ``name`` is its TXT name.
    leftovers: tuple[Ownership, ...] = ()

    @property
    def resource(self) -> str:
        for o in self.new or self.old:
            if o.resource:
                return o.resource
        return ""


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two or more objects want one name; ``winner`` got it."""

    name: str
    winner: str
    losers: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A desired record that was not planned, and why."""

    key: RecordKey
    resource: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What one reconcile of one zone would do."""

    zone: str
    changes: tuple[Change, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    orphans: tuple[Owned, ...] = ()
    refused: str = ""  # non-empty when the safety gate refused the changes
    owned: int = 0  # record sets of ours in the zone as read
    desired: int = 0  # endpoints inside the zone
    #: Record sets of the owner migrated from whose ownership the changes
    #: rewrite to ours (or that they delete, under sync).
    taken_over: tuple[Owned, ...] = ()

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)


@dataclass(frozen=True, slots=True, eq=False)
class ZoneSnapshot:
    """What a zone held at one serial, limited to :data:`READ_TYPES`.

    ``other_names`` holds the owner names of records of every other type
    (the apex always, for its SOA), so CNAME exclusivity can be checked
    without keeping those records.
    """

    zone: str
    serial: int
    rrsets: Mapping[RecordKey, RRset] = field(default_factory=dict)
    other_names: frozenset[str] = frozenset()

    def get(self, name: str, type_: str) -> RRset | None:
        return self.rrsets.get(RecordKey(name, type_))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ZoneSnapshot):
            return NotImplemented
        return (self.zone, self.serial, dict(self.rrsets), self.other_names) == (
            other.zone,
            other.serial,
            dict(other.rrsets),
            other.other_names,
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Nearby:
    """What the target's other zones hold that ownership in one zone depends on.

    external-dns names a zone apex's ownership TXT outside the zone
    (``extdns-a-example.com`` for ``example.com``).  When the target also
    serves the zone holding that name (a parent zone), the TXT record sets
    there are in ``txt``: read only, since one UPDATE message edits one zone.
    ``records`` are the record sets at the apexes of the target's other zones
    whose external-dns ownership names lie in this zone, so their TXTs here
    mark records that exist.
    """

    txt: Mapping[RecordKey, RRset] = field(default_factory=dict)
    records: frozenset[RecordKey] = frozenset()
