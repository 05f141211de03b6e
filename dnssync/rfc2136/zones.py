"""Zone snapshots kept cheap: SOA check, then IXFR, then AXFR.

A :class:`ZoneReader` holds the last verified state of one zone.  A read
(bounded as a whole by the transfer timeout) asks for the SOA serial first:
unchanged means the cached snapshot is still the truth and nothing is
transferred.  A changed serial brings an IXFR from the cached serial
(servers without IXFR answer with the full zone, which is taken as such),
and any IXFR failure falls back to a full AXFR.  Any error inside a
transfer fails the read: a partial zone is never planned on.

With reads spread over several hosts (``server.read: round-robin``) one read
(SOA and transfer) stays on one host, the read right after our own write goes
where writes go (read-your-writes), and a host whose serial is behind the one
already read is lagging: the read goes to the write host instead, and the
snapshot never moves back.

Only :data:`~dnssync.model.READ_TYPES` keep their values; other records
only mark their owner name as in use (CNAME exclusivity needs that).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass

from dnssync.errors import DNSError, DNSTimeout, ServerRefused, TransferFailed
from dnssync.model import RecordKey, RRset, ZoneSnapshot
from dnssync.rfc2136 import wire
from dnssync.rfc2136.client import Client
from dnssync.rfc2136.transport import Host
from dnssync.rtypes import TYPES

log = logging.getLogger(__name__)
_KEEP = {t.code: t.name for t in TYPES.values()}


@dataclass(frozen=True, slots=True)
class Read:
    """The result of one read: the snapshot and how it was obtained."""

    snapshot: ZoneSnapshot
    transfer: str  # "none", "ixfr" or "axfr"
    nbytes: int = 0


class _State:
    """The mutable working copy a snapshot is cut from."""

    __slots__ = ("others", "sets", "ttls")

    def __init__(self) -> None:
        self.sets: dict[RecordKey, set[str]] = {}
        self.ttls: dict[RecordKey, int] = {}
        self.others: Counter[str] = Counter()

    def copy(self) -> _State:
        new = _State()
        new.sets = {k: set(v) for k, v in self.sets.items()}
        new.ttls = dict(self.ttls)
        new.others = Counter(self.others)
        return new

    def add(self, rec: wire.Record) -> None:
        type_ = _KEEP.get(rec.rdtype)
        if type_ is None or rec.value is None:
            self.others[rec.name] += 1
            return
        key = RecordKey(rec.name, type_)
        values = self.sets.get(key)
        if values is None:
            self.sets[key] = {rec.value}
        else:
            values.add(rec.value)
        self.ttls[key] = rec.ttl

    def remove(self, rec: wire.Record) -> None:
        type_ = _KEEP.get(rec.rdtype)
        if type_ is None or rec.value is None:
            left = self.others[rec.name] - 1
            if left > 0:
                self.others[rec.name] = left
            else:
                self.others.pop(rec.name, None)
            return
        key = RecordKey(rec.name, type_)
        values = self.sets.get(key)
        if values is not None:
            values.discard(rec.value)
            if not values:
                del self.sets[key]
                self.ttls.pop(key, None)

    def snapshot(self, zone: str, serial: int) -> ZoneSnapshot:
        ttls = self.ttls
        rrsets = {
            key: RRset(key.name, key.type, ttls[key], tuple(sorted(values)))
            for key, values in self.sets.items()
        }
        others = set(self.others)
        others.add(zone)
        return ZoneSnapshot(zone, serial, rrsets, frozenset(others))


def serial_behind(serial: int, than: int) -> bool:
    """Whether ``serial`` is older than ``than`` in serial arithmetic (RFC 1982)."""
    return serial != than and (than - serial) % 2**32 < 2**31


class ZoneReader:
    """Reads one zone from one server, remembering the last verified state."""

    def __init__(self, client: Client, zone: str) -> None:
        self.client = client
        self.zone = zone
        self._state: _State | None = None
        self._snapshot: ZoneSnapshot | None = None
        self._stale = False

    @property
    def cached(self) -> ZoneSnapshot | None:
        return self._snapshot

    def mark_written(self) -> None:
        """We changed the zone: don't trust an unchanged serial next time.

        Some servers keep the serial on UPDATE (PowerDNS without
        SOA-EDIT-DNSUPDATE); the next read then transfers in full.
        """
        self._stale = True

    def forget(self) -> None:
        """Drop the cache: the next read is a full AXFR (drift repair)."""
        self._state = None
        self._snapshot = None

    async def read(self) -> Read:
        """The zone as the server has it now; a transfer only if it changed.

        The whole read (SOA, IXFR, the AXFR fallback, every retry) takes at
        most the client's transfer timeout.
        """
        limit = self.client.timeouts.transfer
        try:
            async with asyncio.timeout(limit):
                return await self._read()
        except TimeoutError:
            raise DNSTimeout(
                f"reading the zone took longer than {limit:g} s",
                server=self.client.label,
                zone=self.zone,
            ) from None

    async def _read(self) -> Read:
        start = None if self._stale else self.client.read_start()
        serial = await self.client.soa_serial(self.zone, start=start)
        cached = self._snapshot
        if start is not None and cached is not None and serial_behind(serial, cached.serial):
            log.info(
                "zone %s: serial %d at %s is behind %d read before; reading where writes go",
                self.zone,
                serial,
                start.name,
                cached.serial,
            )
            start = None
            serial = await self.client.soa_serial(self.zone)
        if cached is not None and self._state is not None:
            if serial == cached.serial and not self._stale:
                return Read(cached, "none")
            if serial != cached.serial:
                try:
                    return await self._ixfr(cached.serial, start)
                except (TransferFailed, ServerRefused, DNSTimeout) as e:
                    log.info("IXFR of %s failed (%s); falling back to AXFR", self.zone, e)
        return await self._axfr(start)

    async def _ixfr(self, serial: int, start: Host | None) -> Read:
        assert self._state is not None
        result = await self.client.transfer(self.zone, serial=serial, start=start)
        if result.kind == "uptodate":
            if self._stale:
                return await self._axfr(start)
            return Read(self._require_cached(), "none")
        if result.kind == "axfr":
            # The server answered the IXFR with the whole zone (PowerDNS does).
            return self._install_full(result.full, result.serial, "axfr", result.nbytes)
        state = self._state.copy()
        for deleted, added in result.deltas:
            for rec in deleted:
                state.remove(rec)
            for rec in added:
                state.add(rec)
        return self._install(state, result.serial, "ixfr", result.nbytes)

    async def _axfr(self, start: Host | None) -> Read:
        result = await self.client.transfer(self.zone, start=start)
        return self._install_full(result.full, result.serial, "axfr", result.nbytes)

    def _install_full(
        self, records: list[wire.Record], serial: int, kind: str, nbytes: int
    ) -> Read:
        state = _State()
        add = state.add
        for rec in records:
            add(rec)
        return self._install(state, serial, kind, nbytes)

    def _install(self, state: _State, serial: int, kind: str, nbytes: int) -> Read:
        cached = self._snapshot
        if self.client.hosts.spread and cached and serial_behind(serial, cached.serial):
            # A retry moved the transfer to a host that lags: never plan on older data.
            raise TransferFailed(
                f"transfer at serial {serial}, behind {cached.serial} read before "
                "(a lagging server)",
                server=self.client.label,
                zone=self.zone,
            )
        snapshot = state.snapshot(self.zone, serial)
        self._state = state
        self._snapshot = snapshot
        self._stale = False
        return Read(snapshot, kind, nbytes)

    def _require_cached(self) -> ZoneSnapshot:
        if self._snapshot is None:
            raise DNSError("no cached snapshot", zone=self.zone)
        return self._snapshot
