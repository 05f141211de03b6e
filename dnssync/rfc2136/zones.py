"""Zone snapshots kept cheap: SOA check, then IXFR, then AXFR.

A :class:`ZoneReader` holds the last verified state of one zone.  A read
(bounded as a whole by the transfer timeout) asks for the SOA serial first:
unchanged means the cached snapshot is still the truth and nothing is
transferred.  A changed serial brings an IXFR from the cached serial
(servers without IXFR answer with the full zone, which is taken as such),
and any IXFR failure falls back to a full AXFR.  Any error inside a
transfer fails the read: a partial zone is never planned on.

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

log = logging.getLogger(__name__)
_KEEP = {wire.A: "A", wire.AAAA: "AAAA", wire.CNAME: "CNAME", wire.TXT: "TXT"}


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
        serial = await self.client.soa_serial(self.zone)
        cached = self._snapshot
        if cached is not None and self._state is not None:
            if serial == cached.serial and not self._stale:
                return Read(cached, "none")
            if serial != cached.serial:
                try:
                    return await self._ixfr(cached.serial)
                except (TransferFailed, ServerRefused, DNSTimeout) as e:
                    log.info("IXFR of %s failed (%s); falling back to AXFR", self.zone, e)
        return await self._axfr()

    async def _ixfr(self, serial: int) -> Read:
        assert self._state is not None
        result = await self.client.transfer(self.zone, serial=serial)
        if result.kind == "uptodate":
            return await self._axfr() if self._stale else Read(self._require_cached(), "none")
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

    async def _axfr(self) -> Read:
        result = await self.client.transfer(self.zone)
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
        snapshot = state.snapshot(self.zone, serial)
        self._state = state
        self._snapshot = snapshot
        self._stale = False
        return Read(snapshot, kind, nbytes)

    def _require_cached(self) -> ZoneSnapshot:
        if self._snapshot is None:
            raise DNSError("no cached snapshot", zone=self.zone)
        return self._snapshot
