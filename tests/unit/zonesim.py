"""An in-memory RFC 2136 server over a :class:`~dnssync.model.ZoneSnapshot`.

Each planned :class:`~dnssync.model.Change` is encoded by the real builder
(:func:`dnssync.dns.updates.encode`), decoded by dnspython, then
processed the way an authoritative server processes one UPDATE message
(RFC 2136 section 3):

* **Prerequisites** (3.2), all checked before anything is written:
  class ANY/type ANY "name in use" (else NXDOMAIN), class ANY/type T "RRset
  exists" (else NXRRSET), class NONE/type ANY "name not in use" (else
  YXDOMAIN), class NONE/type T "RRset does not exist" (else YXRRSET), and zone
  class "RRset exists, value dependent": the whole RRset at (name, type) must
  hold exactly the listed values (else NXRRSET).  A name is in use when any
  record is there, of a read type or of any other (``other_names``).
* **Updates** (3.4.2), in message order: zone class adds a record -- a CNAME
  at a name with other data is ignored, other data at a CNAME name is
  ignored, a CNAME replaces a CNAME (3.4.2.2); an RRset has one TTL, the last
  added wins (as BIND and Knot do) -- class ANY deletes an RRset (type ANY:
  every RRset at the name), class NONE deletes one record.

A message is atomic: a failed prerequisite leaves the zone untouched.  Every
applied message bumps the serial by one.
"""

from __future__ import annotations

from collections.abc import Iterable

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.update

from dnssync.dns import updates
from dnssync.model import READ_TYPES, Change, RecordKey, RRset, ZoneSnapshot
from dnssync.names import from_dns, in_zone
from dnssync.rtypes import TYPES

_ANY = dns.rdataclass.ANY
_NONE = dns.rdataclass.NONE
_IN = dns.rdataclass.IN


class UpdateRejected(Exception):
    """The server refused one message; ``rcode`` is what it would answer."""

    def __init__(self, change: Change, rcode: str, detail: str) -> None:
        super().__init__(f"{rcode}: {detail} ({updates.describe(change)})")
        self.change = change
        self.rcode = rcode
        self.detail = detail


def value_of(rd: dns.rdata.Rdata) -> str:
    """The canonical text dnssync uses for one record's data (dnssync.rtypes)."""
    rtype = TYPES.get(dns.rdatatype.to_text(rd.rdtype))
    if rtype is None:
        return rd.to_text()
    data = rd.to_wire()
    assert data is not None

    def read(pos: int) -> tuple[str, int]:
        name, used = dns.name.from_wire(data, pos)
        return ("" if name == dns.name.root else from_dns(name)), pos + used

    return rtype.decode(data, 0, len(data), read)


class _Zone:
    """The mutable zone one message works on."""

    def __init__(self, snapshot: ZoneSnapshot) -> None:
        self.zone = snapshot.zone
        self.sets: dict[RecordKey, tuple[int, set[str]]] = {
            k: (r.ttl, set(r.values)) for k, r in snapshot.rrsets.items()
        }
        self.other_names = set(snapshot.other_names)

    def types_at(self, name: str) -> set[str]:
        return {k.type for k in self.sets if k.name == name}

    def in_use(self, name: str) -> bool:
        return name in self.other_names or bool(self.types_at(name))

    def add(self, name: str, type_: str, ttl: int, value: str) -> None:
        if type_ not in READ_TYPES:
            if "CNAME" not in self.types_at(name):
                self.other_names.add(name)
            return
        others = self.types_at(name) - {"CNAME"}
        if type_ == "CNAME":
            if others or name in self.other_names:
                return  # 3.4.2.2: a CNAME next to other data is ignored
            self.sets[RecordKey(name, type_)] = (ttl, {value})  # CNAME replaces CNAME
            return
        if "CNAME" in self.types_at(name):
            return  # 3.4.2.2: other data at a CNAME name is ignored
        _, values = self.sets.get(RecordKey(name, type_), (ttl, set()))
        self.sets[RecordKey(name, type_)] = (ttl, values | {value})

    def delete_rrset(self, name: str, type_: str) -> None:
        if type_ == "ANY":
            for key in [k for k in self.sets if k.name == name]:
                del self.sets[key]
            if name != self.zone:  # SOA and NS at the apex survive (3.4.2.3)
                self.other_names.discard(name)
            return
        if type_ not in READ_TYPES:
            raise NotImplementedError(f"the simulator holds no {type_} data to delete")
        self.sets.pop(RecordKey(name, type_), None)

    def delete_value(self, name: str, type_: str, value: str) -> None:
        if type_ not in READ_TYPES:
            raise NotImplementedError(f"the simulator holds no {type_} data to delete")
        key = RecordKey(name, type_)
        if key not in self.sets:
            return
        ttl, values = self.sets[key]
        values = values - {value}
        if values:
            self.sets[key] = (ttl, values)
        else:
            del self.sets[key]

    def snapshot(self, serial: int) -> ZoneSnapshot:
        rrsets = {
            k: RRset.of(k.name, k.type, ttl, sorted(values))
            for k, (ttl, values) in sorted(self.sets.items())
        }
        return ZoneSnapshot(self.zone, serial, rrsets, frozenset(self.other_names))


def _check_prerequisites(
    zone: _Zone, change: Change, prerequisites: Iterable[dns.rrset.RRset]
) -> None:
    """Raise :class:`UpdateRejected` unless every prerequisite holds (RFC 2136 3.2)."""
    exact: dict[RecordKey, set[str]] = {}
    for rr in prerequisites:
        name, type_ = from_dns(rr.name), dns.rdatatype.to_text(rr.rdtype)
        if not in_zone(name, zone.zone):
            raise UpdateRejected(change, "NOTZONE", f"{name} is outside {zone.zone}")
        if rr.ttl != 0:
            raise UpdateRejected(change, "FORMERR", f"prerequisite {name} {type_} has TTL {rr.ttl}")
        key = RecordKey(name, type_)
        if rr.deleting == _ANY:
            if type_ == "ANY" and not zone.in_use(name):
                raise UpdateRejected(change, "NXDOMAIN", f"{name} is not in use")
            if type_ != "ANY" and key not in zone.sets:
                raise UpdateRejected(change, "NXRRSET", f"{key} does not exist")
        elif rr.deleting == _NONE:
            if type_ == "ANY" and zone.in_use(name):
                raise UpdateRejected(change, "YXDOMAIN", f"{name} is in use")
            if type_ != "ANY" and key in zone.sets:
                raise UpdateRejected(change, "YXRRSET", f"{key} exists")
        elif rr.rdclass == _IN:
            exact.setdefault(key, set()).update(value_of(rd) for rd in rr)
        else:
            raise UpdateRejected(change, "FORMERR", f"prerequisite class {rr.rdclass}")
    for key, values in exact.items():
        held = zone.sets.get(key, (0, set()))[1]
        if held != values:
            raise UpdateRejected(
                change, "NXRRSET", f"{key} holds {sorted(held)}, expected {sorted(values)}"
            )


def apply_change(snapshot: ZoneSnapshot, change: Change) -> ZoneSnapshot:
    """Process ``change`` as one UPDATE message; raise :class:`UpdateRejected` on a failure."""
    msg = dns.message.from_wire(updates.encode([change], snapshot.zone, msg_id=1))
    assert isinstance(msg, dns.update.UpdateMessage)
    (zone_rr,) = msg.zone
    if from_dns(zone_rr.name) != snapshot.zone or zone_rr.rdtype != dns.rdatatype.SOA:
        raise UpdateRejected(change, "NOTAUTH", f"zone {zone_rr.name} is not {snapshot.zone}")
    zone = _Zone(snapshot)
    _check_prerequisites(zone, change, msg.prerequisite)
    for rr in msg.update:  # prescan (3.4.1.3): names inside the zone, deletes with TTL 0
        if not in_zone(from_dns(rr.name), zone.zone):
            raise UpdateRejected(change, "NOTZONE", f"{rr.name} is outside {zone.zone}")
        if rr.deleting is not None and rr.ttl != 0:
            raise UpdateRejected(change, "FORMERR", f"delete of {rr.name} has TTL {rr.ttl}")
    for rr in msg.update:
        name, type_ = from_dns(rr.name), dns.rdatatype.to_text(rr.rdtype)
        if rr.deleting == _ANY:
            zone.delete_rrset(name, type_)
        elif rr.deleting == _NONE:
            for rd in rr:
                zone.delete_value(name, type_, value_of(rd))
        else:
            for rd in rr:
                zone.add(name, type_, rr.ttl, value_of(rd))
    return zone.snapshot(snapshot.serial + 1)


def apply(snapshot: ZoneSnapshot, changes: Iterable[Change]) -> ZoneSnapshot:
    """Apply every change in order, one message each; the first failure raises."""
    for change in changes:
        snapshot = apply_change(snapshot, change)
    return snapshot


def apply_each(
    snapshot: ZoneSnapshot, changes: Iterable[Change]
) -> tuple[ZoneSnapshot, tuple[UpdateRejected, ...]]:
    """Apply every change that the server accepts; return the zone and the refusals."""
    rejected: list[UpdateRejected] = []
    for change in changes:
        try:
            snapshot = apply_change(snapshot, change)
        except UpdateRejected as e:
            rejected.append(e)
    return snapshot, tuple(rejected)


def zone_of(
    zone: str,
    rrsets: Iterable[RRset],
    other_names: Iterable[str] = (),
    *,
    serial: int = 1,
) -> ZoneSnapshot:
    """A snapshot holding ``rrsets`` (and the apex in ``other_names``, for its SOA).

    RRsets with one key are merged (first TTL kept); a CNAME beside other
    data raises, as no server would hold such a zone.
    """
    z = _Zone(ZoneSnapshot(zone, serial, {}, frozenset({zone, *other_names})))
    for r in rrsets:
        ttl, values = z.sets.get(r.key, (r.ttl, set()))
        z.sets[r.key] = (ttl, values | set(r.values))
    for key in z.sets:
        if key.type == "CNAME" and (len(z.types_at(key.name)) > 1 or key.name in z.other_names):
            raise ValueError(f"{key.name} holds a CNAME beside other data")
    return z.snapshot(serial)


def written(
    zone: str,
    records: Iterable[tuple[str, str, int, str]],
    other_names: Iterable[str] = (),
    *,
    serial: int = 1,
) -> ZoneSnapshot:
    """The zone a server holds after ``(name, type, ttl, value)`` adds in order.

    Adds follow :meth:`_Zone.add` (CNAME conflicts ignored, last TTL wins), so
    any sequence gives a zone a real server could hold.
    """
    z = _Zone(ZoneSnapshot(zone, serial, {}, frozenset({zone})))
    for name in other_names:
        z.add(name, "HINFO", 300, '"cpu" "os"')  # a type dnssync does not read
    for name, type_, ttl, value in records:
        z.add(name, type_, ttl, value)
    return z.snapshot(serial)
