"""Pure builder: planned changes -> RFC 2136 UPDATE messages.

Each :class:`~dnssync.model.Change` travels whole in one message: its record
sets, their ownership TXT records and the prerequisites the planner derived
from what it read (exact RRsets present, RRsets or names absent).  The server
applies a message atomically, so a record never exists without its ownership
record, and a concurrent writer makes the message fail (NXRRSET / YXRRSET /
YXDOMAIN) instead of being overwritten.

Messages are cut by encoded size, not by record count: a change's size is
estimated from its wire form with the zone name compressed away, and a
message is closed before it would pass ``max_bytes`` (60 KB leaves room for
the TSIG record under the 65,535-byte cap).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import dns.rdata
import dns.rdataclass
import dns.rdatatype

from dnssync.model import Change
from dnssync.names import in_zone
from dnssync.rtypes import TYPES, name_wire

MAX_MESSAGE = 60_000
_HEADER_STRUCT = struct.Struct("!HHHHHH")
_RR_HEADER = struct.Struct("!HHIH")
_COUNTS = struct.Struct("!HHH")
_UPDATE_FLAGS = 5 << 11  # opcode UPDATE
_ZONE_TAIL = struct.pack("!HH", dns.rdatatype.SOA, dns.rdataclass.IN)
_TXT = dns.rdatatype.TXT
_ANY = dns.rdataclass.ANY
_TYPE = {**{t.name: t.code for t in TYPES.values()}, "ANY": int(dns.rdatatype.ANY)}
_HEADER = 12 + 6  # DNS header + zone section (compressed name + type/class)
_RR_FIXED = 10  # type, class, ttl, rdlength
_POINTER_REACH = 0x3FFF  # compression pointers have 14 bits
_IN = dns.rdataclass.IN
_NONE = dns.rdataclass.NONE


def rdata(type_: str, value: str) -> dns.rdata.Rdata:
    """The dnspython rdata for a canonical value (for callers that build dnspython messages)."""
    data = rdata_wire(type_, value)
    return dns.rdata.from_wire(_IN, dns.rdatatype.RdataType(_TYPE[type_]), data, 0, len(data))


def _rdata_size(type_: str, value: str) -> int:
    if type_ == "A":
        return 4
    if type_ == "AAAA":
        return 16
    return len(rdata_wire(type_, value))


def _name_size(name: str, zone: str) -> int:
    # Every name is inside the zone, and the zone name is in the zone
    # section: dnspython compresses it to a 2-byte pointer.
    if name == zone:
        return 2
    return len(name) - len(zone) + 2


def change_size(change: Change, zone: str, *, offset: int = 0) -> int:
    """Upper estimate of the bytes ``change`` adds to an UPDATE message.

    A name is written in full the first time and as a 2-byte pointer after
    that -- but pointers reach back only 16 KB, so past ``offset`` 16,383
    a repeated name is written in full again.
    """
    seen: set[str] = set()
    reach = offset < _POINTER_REACH

    def name(n: str) -> int:
        if n in seen and reach:
            return 2
        seen.add(n)
        return _name_size(n, zone)

    size = 0
    for rrset in change.require:
        for v in rrset.values:
            size += name(rrset.name) + _RR_FIXED + _rdata_size(rrset.type, v)
    for key in change.require_absent:
        size += name(key.name) + _RR_FIXED
    for owned in change.old:
        size += name(owned.rrset.name) + _RR_FIXED
        owner = owned.owner
        size += name(owner.name) + _RR_FIXED + _rdata_size("TXT", owner.value)
    for owned in change.new:
        rr = owned.rrset
        for v in rr.values:
            size += name(rr.name) + _RR_FIXED + _rdata_size(rr.type, v)
        owner = owned.owner
        size += name(owner.name) + _RR_FIXED + _rdata_size("TXT", owner.value)
    for leftover in change.leftovers:
        size += name(leftover.name) + _RR_FIXED + _rdata_size("TXT", leftover.value)
    return size


def batches(
    changes: Sequence[Change], zone: str, *, max_bytes: int = MAX_MESSAGE
) -> list[list[Change]]:
    """Cut ``changes`` into groups whose messages stay under ``max_bytes``.

    A single change larger than the limit gets a message of its own (the
    server or the encoder will then say it is too big, naming it).
    """
    out: list[list[Change]] = []
    current: list[Change] = []
    size = _HEADER + len(zone) + 2
    base = size
    for change in changes:
        n = change_size(change, zone, offset=size)
        if current and size + n > max_bytes:
            out.append(current)
            current = []
            size = base
        current.append(change)
        size += n
    if current:
        out.append(current)
    return out


class _Encoder:
    """Writes one UPDATE message's wire form, compressing repeated names.

    dnspython's message objects cost ~100 us per record to build and render;
    this writes the same bytes directly.  Names are canonical (lower-case
    ASCII); one holding an escape goes through dnspython.
    """

    __slots__ = ("buf", "offsets")

    def __init__(self, zone: str, msg_id: int) -> None:
        self.buf = bytearray(_HEADER_STRUCT.pack(msg_id, _UPDATE_FLAGS, 1, 0, 0, 0))
        self.offsets: dict[str, int] = {}
        self.name(zone)
        self.buf += _ZONE_TAIL

    def name(self, name: str) -> None:
        buf = self.buf
        offsets = self.offsets
        if "\\" in name:
            buf += name_wire(name)
            return
        rest = name
        while rest:
            at = offsets.get(rest)
            if at is not None:
                buf += (0xC000 | at).to_bytes(2, "big")
                return
            if len(buf) < 0x3FFF:
                offsets[rest] = len(buf)
            label, _, rest = rest.partition(".")
            data = label.encode("ascii")
            buf.append(len(data))
            buf += data
        buf.append(0)

    def rr(self, name: str, rdtype: int, rdclass: int, ttl: int, rdata: bytes) -> None:
        self.name(name)
        self.buf += _RR_HEADER.pack(rdtype, rdclass, ttl, len(rdata))
        self.buf += rdata

    def finish(self, prereqs: int, updates: int) -> bytes:
        _COUNTS.pack_into(self.buf, 6, prereqs, updates, 0)
        return bytes(self.buf)


def rdata_wire(type_: str, value: str) -> bytes:
    """The RDATA bytes of a canonical value."""
    return TYPES[type_].wire(value)


#: One RR of an UPDATE in wire terms: name, type, class, TTL, RDATA.
WireRR = tuple[str, str, int, int, bytes]
IN = int(_IN)
NONE = int(_NONE)
ANY = int(_ANY)


def encode_rrs(
    zone: str, *, msg_id: int, prerequisites: Iterable[WireRR], updates: Iterable[WireRR]
) -> bytes:
    """An unsigned UPDATE message from RRs already in wire terms.

    For small hand-built messages (ACME's); planned changes go through
    :func:`encode`, which derives these RRs from a plan.
    """
    enc = _Encoder(zone, msg_id)
    counts = []
    for section in (prerequisites, updates):
        n = 0
        for name, type_, rdclass, ttl, data in section:
            enc.rr(name, _TYPE[type_], rdclass, ttl, data)
            n += 1
        counts.append(n)
    return enc.finish(counts[0], counts[1])


def query_wire(qname: str, rdtype: int, *, msg_id: int) -> bytes:
    """A non-recursive query (RD clear, no EDNS) for ``qname``, class IN.

    The same bytes as dnspython's ``make_query(...).to_wire()`` without RD, in a
    tenth of its time: Present's read-back is on cert-manager's critical path.
    """
    enc = _Encoder.__new__(_Encoder)
    enc.buf = bytearray(_HEADER_STRUCT.pack(msg_id, 0, 1, 0, 0, 0))
    enc.offsets = {}
    enc.name(qname)
    enc.buf += struct.pack("!HH", rdtype, dns.rdataclass.IN)
    return bytes(enc.buf)


def encode(changes: Iterable[Change], zone: str, *, msg_id: int) -> bytes:
    """One unsigned UPDATE message carrying ``changes`` with their prerequisites.

    Prerequisites of every change come first (the prerequisite section),
    then every change's updates, in order.  Identical RRs are written once.
    """
    changes = list(changes)
    enc = _Encoder(zone, msg_id)
    seen: set[tuple[str, int, int, bytes]] = set()

    def once(name: str, rdtype: int, rdclass: int, ttl: int, data: bytes) -> int:
        key = (name, rdtype, rdclass, data)
        if key in seen:
            return 0
        seen.add(key)
        enc.rr(name, rdtype, rdclass, ttl, data)
        return 1

    prereqs = 0
    for change in changes:
        for rrset in change.require:
            # Value-dependent "RRset exists": class IN, TTL 0 (RFC 2136 2.4.2).
            t = _TYPE[rrset.type]
            for v in rrset.values:
                prereqs += once(rrset.name, t, _IN, 0, rdata_wire(rrset.type, v))
        for key in change.require_absent:
            # "RRset does not exist" / "Name is not in use": class NONE.
            prereqs += once(key.name, _TYPE[key.type], _NONE, 0, b"")
    seen.clear()
    updates = 0
    for change in changes:
        old_owners = {o.owner for o in change.old}
        new_owners = {o.owner for o in change.new}
        for owned in change.old:
            # Delete the RRset (class ANY), and our ownership value (class NONE).
            updates += once(owned.rrset.name, _TYPE[owned.rrset.type], _ANY, 0, b"")
            # An ownership record outside the zone is external-dns's name for
            # the apex, read from the target's parent zone: this message
            # cannot edit that zone, whose own plan cleans it up.
            if owned.owner not in new_owners and in_zone(owned.owner.name, zone):
                data = rdata_wire("TXT", owned.owner.value)
                updates += once(owned.owner.name, _TXT, _NONE, 0, data)
        for owned in change.new:
            rr = owned.rrset
            t = _TYPE[rr.type]
            for v in rr.values:
                updates += once(rr.name, t, _IN, rr.ttl, rdata_wire(rr.type, v))
            if owned.owner not in old_owners:
                data = rdata_wire("TXT", owned.owner.value)
                txt_ttl = rr.ttl if owned.txt_ttl is None else owned.txt_ttl
                updates += once(owned.owner.name, _TXT, _IN, txt_ttl, data)
        for leftover in change.leftovers:
            # One value each (class NONE): other owners' and users' values stay.
            if leftover not in new_owners:
                data = rdata_wire("TXT", leftover.value)
                updates += once(leftover.name, _TXT, _NONE, 0, data)
    return enc.finish(prereqs, updates)


def describe(change: Change) -> str:
    """A short text naming the change, for errors and reports."""
    types = sorted({o.rrset.type for o in change.new + change.old})
    if not types and change.leftovers:
        types = ["TXT"]  # an orphaned ownership record
    resource = f" ({change.resource})" if change.resource else ""
    return f"{change.action.value} {change.name} {'/'.join(types)}{resource}"
