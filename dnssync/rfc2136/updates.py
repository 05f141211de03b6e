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

from collections.abc import Iterable, Sequence

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rrset
import dns.update

from dnssync.model import Change, RRset

MAX_MESSAGE = 60_000
_HEADER = 12 + 6  # DNS header + zone section (compressed name + type/class)
_RR_FIXED = 10  # type, class, ttl, rdlength
_POINTER_REACH = 0x3FFF  # compression pointers have 14 bits
_IN = dns.rdataclass.IN
_NONE = dns.rdataclass.NONE


def _txt_strings(value: str) -> list[bytes]:
    data = value.encode("utf-8", "surrogateescape")
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


def rdata(type_: str, value: str) -> dns.rdata.Rdata:
    """The dnspython rdata for a canonical value (no text parsing: fast)."""
    if type_ == "A":
        return dns.rdtypes.IN.A.A(_IN, dns.rdatatype.A, value)
    if type_ == "TXT":
        return dns.rdtypes.ANY.TXT.TXT(_IN, dns.rdatatype.TXT, _txt_strings(value))
    if type_ == "CNAME":
        return dns.rdtypes.ANY.CNAME.CNAME(_IN, dns.rdatatype.CNAME, dns.name.from_text(value))
    if type_ == "AAAA":
        return dns.rdtypes.IN.AAAA.AAAA(_IN, dns.rdatatype.AAAA, value)
    return dns.rdata.from_text(_IN, type_, value)


def _rdata_size(type_: str, value: str) -> int:
    if type_ == "A":
        return 4
    if type_ == "AAAA":
        return 16
    if type_ == "TXT":
        data = len(value.encode("utf-8", "surrogateescape"))
        return data + max(1, (data + 254) // 255)
    return len(value) + 2  # a name, uncompressed: never an underestimate


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


def _add_values(
    msg: dns.update.UpdateMessage,
    section: list[dns.rrset.RRset],
    rrset: RRset,
    ttl: int,
    *,
    deleting: dns.rdataclass.RdataClass | None = None,
) -> None:
    name = dns.name.from_text(rrset.name)
    rdtype = dns.rdatatype.RdataType.make(rrset.type)
    # As dnspython's own delete(): zone class, with ``deleting`` marking the
    # RR as "delete this RR from an RRset" (class NONE) when set.
    target = msg.find_rrset(section, name, _IN, rdtype, dns.rdatatype.NONE, deleting, True, True)
    for value in rrset.values:
        target.add(rdata(rrset.type, value), ttl)


def build(changes: Iterable[Change], zone: str) -> dns.update.UpdateMessage:
    """One UPDATE message carrying ``changes`` with their prerequisites.

    The message is unsigned: the client signs it when sending.
    """
    msg = dns.update.UpdateMessage(dns.name.from_text(zone))
    for change in changes:
        for rrset in change.require:
            # Value-dependent "RRset exists": class IN, TTL 0 (RFC 2136 2.4.2).
            _add_values(msg, msg.prerequisite, rrset, 0)
        for key in change.require_absent:
            if key.type == "ANY":
                msg.absent(dns.name.from_text(key.name))
            else:
                msg.absent(dns.name.from_text(key.name), key.type)
        old_owners = {o.owner for o in change.old}
        new_owners = {o.owner for o in change.new}
        for owned in change.old:
            msg.delete(dns.name.from_text(owned.rrset.name), owned.rrset.type)
            if owned.owner not in new_owners:
                txt = RRset(owned.owner.name, "TXT", 0, (owned.owner.value,))
                _add_values(msg, msg.update, txt, 0, deleting=_NONE)
        for owned in change.new:
            _add_values(msg, msg.update, owned.rrset, owned.rrset.ttl)
            if owned.owner not in old_owners:
                txt = RRset(owned.owner.name, "TXT", owned.rrset.ttl, (owned.owner.value,))
                _add_values(msg, msg.update, txt, owned.rrset.ttl)
    return msg


def describe(change: Change) -> str:
    """A short text naming the change, for errors and reports."""
    types = sorted({o.rrset.type for o in change.new + change.old})
    resource = f" ({change.resource})" if change.resource else ""
    return f"{change.action.value} {change.name} {'/'.join(types)}{resource}"
