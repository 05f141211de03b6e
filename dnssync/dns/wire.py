"""Fast parsing of zone-transfer messages (pure).

AXFR parsing is the main CPU cost of a reconcile: dnspython builds a Name, an
Rdata and an RRset object for every record (about 40 us each).  dnssync only
needs the owner name and type of every record, and the values of the types it
publishes (each decoded by its :data:`dnssync.rtypes.TYPES` entry), so this
module walks the wire format directly, decodes compressed names once per
offset, and leaves the rest of the records unparsed.  A closing TSIG record is read into a
:class:`~dnssync.dns.tsig.TsigRecord` for :mod:`dnssync.dns.tsig`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rcode

from dnssync.dns.tsig import TsigRecord
from dnssync.rtypes import BY_CODE, RdataError

A = 1
CNAME = 5
SOA = 6
TXT = 16
AAAA = 28
TSIG = 250
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_SERIAL = struct.Struct("!I")
# Bytes that may appear in a label printed as is; anything else makes the
# name go through dnspython's escaping so that text stays unambiguous.
_PLAIN = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*/")


class WireError(ValueError):
    """The message is not valid DNS wire format."""


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record: ``value`` (canonical text) is set for the types of
    :data:`dnssync.rtypes.TYPES` only."""

    name: str
    rdtype: int
    ttl: int
    value: str | None
    serial: int = 0  # SOA only


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed transfer message."""

    id: int
    rcode: int
    records: tuple[Record, ...]
    tsig: TsigRecord | None  # None: unsigned

    @property
    def rcode_text(self) -> str:
        return dns.rcode.to_text(dns.rcode.Rcode(self.rcode))


class _Names:
    """Decodes compressed names, remembering each offset's text."""

    __slots__ = ("cache", "wire")

    def __init__(self, wire: bytes) -> None:
        self.wire = wire
        self.cache: dict[int, str] = {}

    def read(self, pos: int) -> tuple[str, int]:
        """Return the name at ``pos`` and the offset just past it."""
        wire = self.wire
        cache = self.cache
        labels: list[tuple[int, str]] = []
        end = -1
        hops = 0
        suffix = ""
        while True:
            if pos in cache:
                suffix = cache[pos]
                if end < 0:
                    end = pos + 2 if wire[pos] >= 0xC0 else self._skip(pos)
                break
            try:
                length = wire[pos]
            except IndexError:
                raise WireError("name runs past the end of the message") from None
            if length == 0:
                if end < 0:
                    end = pos + 1
                break
            if length >= 0xC0:
                if end < 0:
                    end = pos + 2
                hops += 1
                if hops > 127:
                    raise WireError("compression loop")
                pointer = ((length & 0x3F) << 8) | wire[pos + 1]
                if pointer >= pos:
                    raise WireError("forward compression pointer")
                pos = pointer
                continue
            if length > 63:
                raise WireError("bad label type")
            raw = wire[pos + 1 : pos + 1 + length]
            if len(raw) != length:
                raise WireError("label runs past the end of the message")
            if all(b in _PLAIN for b in raw):
                text = raw.decode("ascii").lower()
            else:
                text = dns.name.Name([raw]).to_text(omit_final_dot=True).lower()
            labels.append((pos, text))
            pos += 1 + length
        # Fill the cache for every label start seen, from the end backwards.
        name = suffix
        for start, text in reversed(labels):
            name = f"{text}.{name}" if name else text
            cache[start] = name
        return name, end

    def _skip(self, pos: int) -> int:
        wire = self.wire
        while True:
            length = wire[pos]
            if length == 0:
                return pos + 1
            if length >= 0xC0:
                return pos + 2
            pos += 1 + length


def parse(wire: bytes) -> Message:
    """Parse one transfer (or any) message; values only for planned types.

    Outside bytes: whatever they hold, the only exception is :class:`WireError`.
    """
    try:
        return _parse(wire)
    except WireError:
        raise
    except (IndexError, struct.error, ValueError, dns.exception.DNSException) as e:
        # Hostile or broken input the checks above did not name (a pointer
        # past the end, a truncated SOA): one error kind for the caller.
        raise WireError(f"malformed message ({type(e).__name__})") from None


def _parse(wire: bytes) -> Message:
    if len(wire) < 12:
        raise WireError("message shorter than a DNS header")
    msg_id, flags, qd, an, ns, ar = _HEADER.unpack_from(wire, 0)
    names = _Names(wire)
    pos = 12
    for _ in range(qd):
        _, pos = names.read(pos)
        pos += 4
    records: list[Record] = []
    append = records.append
    tsig: TsigRecord | None = None
    total = an + ns + ar
    unpack_rr = _RR.unpack_from
    read_name = names.read
    by_code = BY_CODE
    for index in range(total):
        rr_start = pos
        owner, pos = names.read(pos)
        try:
            rdtype, _, ttl, rdlen = unpack_rr(wire, pos)
        except struct.error:
            raise WireError("record header runs past the end of the message") from None
        pos += 10
        end = pos + rdlen
        if end > len(wire):
            raise WireError(f"record {owner} runs past the end of the message")
        if index < an:
            rtype = by_code.get(rdtype)
            if rtype is not None:
                try:
                    value = rtype.decode(wire, pos, end, read_name)
                except RdataError as e:
                    raise WireError(f"{rtype.name} record {owner}: {e}") from None
                append(Record(owner, rdtype, ttl, value))
            elif rdtype == SOA:
                _, p = names.read(pos)
                _, p = names.read(p)
                if p + 20 != end:
                    raise WireError(f"SOA record {owner} has {rdlen} bytes")
                (serial,) = _SERIAL.unpack_from(wire, p)
                append(Record(owner, SOA, ttl, None, serial))
            else:
                append(Record(owner, rdtype, ttl, None))
        elif rdtype == TSIG and index == total - 1 and ar:  # RFC 8945 §5.1: last additional
            algorithm, p = names.read(pos)
            if p > end:
                raise WireError("TSIG algorithm name runs past its record")
            tsig = TsigRecord.from_rdata(owner, algorithm, wire[p:end], rr_start)
        pos = end
    if pos != len(wire):
        raise WireError("trailing bytes after the last record")
    rcode = flags & 0xF
    return Message(msg_id, rcode, tuple(records), tsig)


class TransferAssembler:
    """Follows an AXFR or IXFR answer record by record and says when it ends.

    An AXFR (or an IXFR the server answers in full) is ``SOA, records, SOA``;
    an incremental IXFR is ``SOA(new)`` then sequences of
    ``SOA(old) deletions SOA(next) additions`` and a closing ``SOA(new)``; an
    up-to-date IXFR is a lone SOA.  Serials are compared for equality only:
    servers do not bump them by one per change (Technitium bumps per record).
    """

    def __init__(self, zone: str, *, serial: int | None) -> None:
        self.zone = zone
        self.asked_serial = serial
        self.serial: int | None = None
        self.full: list[Record] = []
        self.deltas: list[tuple[list[Record], list[Record]]] = []
        self.mode = ""  # "" until known, then "full", "incremental" or "uptodate"
        self.done = False
        self._seen = 0
        self._adding = False

    def feed(self, records: tuple[Record, ...]) -> bool:
        """Take the answer records of one message; True when the answer is complete."""
        for rec in records:
            if self.done:
                raise WireError(f"records after the end of the transfer of {self.zone}")
            self._take(rec)
        lone_soa = not self.done and self._seen == 1 and self.asked_serial is not None
        if lone_soa:
            # RFC 1995: a lone SOA means nothing newer than the serial asked
            # for.  Another serial there (a zone re-created with a lower
            # one) cannot be diffed: the caller falls back to AXFR.
            if self.serial != self.asked_serial:
                raise WireError(f"IXFR of {self.zone} answered with a lone SOA of another serial")
            self.mode = "uptodate"
            self.done = True
        return self.done

    def _take(self, rec: Record) -> None:
        self._seen += 1
        if self._seen == 1:
            if rec.rdtype != SOA or rec.name != self.zone:
                raise WireError(f"transfer of {self.zone} does not start with its SOA")
            self.serial = rec.serial
            return
        if self._seen == 2:
            if self.asked_serial is not None and rec.rdtype == SOA:
                self.mode = "incremental"
                self.deltas.append(([], []))
                self._adding = False
                return
            self.mode = "full"
        if self.mode == "full":
            if rec.rdtype == SOA:
                if rec.serial != self.serial:
                    raise WireError(f"transfer of {self.zone} ends with a different serial")
                self.done = True
                return
            self.full.append(rec)
            return
        if rec.rdtype == SOA:
            if self._adding and rec.serial == self.serial:
                self.done = True
            elif self._adding:
                self.deltas.append(([], []))
                self._adding = False
            else:
                self._adding = True
            return
        deleted, added = self.deltas[-1]
        (added if self._adding else deleted).append(rec)
