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

With a :class:`SnapshotStore` (the one-shot CLI's state directory) the
verified state also outlives the process: a later run starts from it, so
an unchanged zone costs one SOA query and a changed one an IXFR from the
stored serial.  The stored state is used only at its own serial, and it is
dropped as soon as we write to the zone (a server may keep its serial on
UPDATE); a damaged file is a fresh transfer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnssync import statefile
from dnssync.dns import wire
from dnssync.dns.client import Client
from dnssync.dns.transport import Host
from dnssync.errors import DNSError, DNSTimeout, ServerRefused, TransferFailed
from dnssync.model import RecordKey, RRset, ZoneSnapshot
from dnssync.rtypes import TYPES

log = logging.getLogger(__name__)
_KEEP = {t.code: t.name for t in TYPES.values()}


@dataclass(frozen=True, slots=True)
class Read:
    """The result of one read: the snapshot and how it was obtained."""

    snapshot: ZoneSnapshot
    transfer: str  # "none", "ixfr" or "axfr"
    nbytes: int = 0
    #: The names whose records moved since the read before: none after an
    #: unchanged serial, the IXFR's names, None (unknown) after an AXFR.
    changed: frozenset[str] | None = None


class _State:
    """The zone as last verified: the snapshot's record sets, and how many
    records of other types each name has.

    The record sets are the very dictionary the snapshot hands out, never
    changed once handed out: a change builds the next one (copying the
    dictionary, rebuilding the sets it touched), so holding a zone costs its
    snapshot and nothing beside it.
    """

    __slots__ = ("others", "rrsets")

    def __init__(
        self, rrsets: dict[RecordKey, RRset] | None = None, others: Counter[str] | None = None
    ) -> None:
        self.rrsets: dict[RecordKey, RRset] = {} if rrsets is None else rrsets
        self.others: Counter[str] = Counter() if others is None else others

    @classmethod
    def of(cls, records: Iterable[wire.Record]) -> _State:
        """The state a full transfer's records describe."""
        values: dict[RecordKey, tuple[str, ...] | set[str]] = {}
        ttls: dict[RecordKey, int] = {}
        others: Counter[str] = Counter()
        for rec in records:
            type_ = _KEEP.get(rec.rdtype)
            if type_ is None or rec.value is None:
                others[rec.name] += 1
                continue
            key = RecordKey(rec.name, type_)
            values[key] = _changed(values.get(key, ()), rec.value, True)
            ttls[key] = rec.ttl
        rrsets = {k: RRset(k.name, k.type, ttls[k], _sorted(v)) for k, v in values.items()}
        return cls(rrsets, others)

    def moved(self, deltas: Iterable[tuple[list[wire.Record], list[wire.Record]]]) -> _Moved:
        """This state after an IXFR's deltas, applied in order; this one is left as it was."""
        # The touched sets as they are becoming: a tuple while small (most
        # sets hold one value; a set object is four times its size), a set
        # once large (so a thousand values added at one name stay linear).
        work: dict[RecordKey, tuple[str, ...] | set[str]] = {}
        ttls: dict[RecordKey, int] = {}
        others = self.others  # copied before the first change
        names: set[str] = set()
        others_moved = False
        rrsets = self.rrsets
        for deleted, added in deltas:
            for recs, adding in ((deleted, False), (added, True)):
                for rec in recs:
                    names.add(rec.name)
                    type_ = _KEEP.get(rec.rdtype)
                    if type_ is None or rec.value is None:
                        if not others_moved:
                            others, others_moved = Counter(others), True
                        _count(others, rec.name, adding)
                        continue
                    key = RecordKey(rec.name, type_)
                    values = work.get(key)
                    if values is None:
                        old = rrsets.get(key)
                        values = old.values if old else ()
                        if old:
                            ttls[key] = old.ttl
                    if adding:
                        ttls[key] = rec.ttl
                    work[key] = _changed(values, rec.value, adding)
        after = dict(rrsets)
        for key, values in work.items():
            if values:
                after[key] = RRset(key.name, key.type, ttls[key], _sorted(values))
            else:
                after.pop(key, None)
        return _Moved(_State(after, others), frozenset(names), others_moved)

    def snapshot(self, zone: str, serial: int) -> ZoneSnapshot:
        return ZoneSnapshot(zone, serial, self.rrsets, frozenset({*self.others, zone}))

    def to_json(self) -> Iterator[str]:
        """The JSON object :meth:`from_json` reads, a thousand record sets at a time
        (dumped whole it was ~50 MiB at 100k records)."""
        yield '{"others":' + statefile.dumps(sorted(self.others.items())) + ',"sets":['
        yield from statefile.members(
            [r.name, r.type, r.ttl, r.values] for r in self.rrsets.values()
        )
        yield "]}"

    @classmethod
    def from_json(cls, data: Any) -> _State:
        """The state :meth:`to_json` wrote; raises ValueError on anything else."""
        state = cls()
        kept = frozenset(_KEEP.values())
        try:
            for name, type_, ttl, values in data["sets"]:
                ok = type(name) is str and type_ in kept and type(ttl) is int
                if not ok or not values or not all(type(v) is str for v in values):
                    raise ValueError("bad record set")
                state.rrsets[RecordKey(name, type_)] = RRset(
                    name, type_, ttl, tuple(sorted(set(values)))
                )
            for name, count in data["others"]:
                if type(name) is not str or type(count) is not int or count < 1:
                    raise ValueError("bad name")
                state.others[name] = count
        except (KeyError, TypeError) as e:
            raise ValueError(f"bad state: {e}") from None
        return state


_SMALL = 16  # values a touched set keeps as a tuple


def _changed(
    values: tuple[str, ...] | set[str], value: str, adding: bool
) -> tuple[str, ...] | set[str]:
    """``values`` with ``value`` added or deleted (a set changed in place)."""
    if isinstance(values, set):
        if adding:
            values.add(value)
        else:
            values.discard(value)
        return values
    if (value in values) == adding:  # already there, or already gone
        return values
    if len(values) >= _SMALL:
        return _changed(set(values), value, adding)
    return (*values, value) if adding else tuple(v for v in values if v != value)


def _sorted(values: tuple[str, ...] | set[str]) -> tuple[str, ...]:
    if type(values) is tuple and len(values) < 2:
        return values  # most sets: no new tuple
    return tuple(sorted(values))


def _count(others: Counter[str], name: str, adding: bool) -> None:
    """One record of another type at ``name`` added or deleted (never below none)."""
    if adding:
        others[name] += 1
    elif others[name] > 1:
        others[name] -= 1
    else:
        others.pop(name, None)


@dataclass(frozen=True, slots=True)
class _Moved:
    """A state after an IXFR: the new state, the names it touched, whether
    records of other types moved (then the snapshot's other names are recounted)."""

    state: _State
    names: frozenset[str]
    others: bool


class SnapshotStore:
    """Verified zone states on disk: one file per server, key and zone.

    A file names its server (addresses, TLS), TSIG key, zone and serial, and
    is trusted only when all of them match (see :mod:`dnssync.statefile`
    for damage and atomic writes).
    """

    FORMAT = 1

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "zones"

    def _path(self, identity: list[str]) -> Path:
        return self.directory / f"{statefile.file_key(*identity)}.json"

    def load(self, identity: list[str]) -> tuple[int, _State] | None:
        path = self._path(identity)
        data = statefile.read(path, "zone snapshot")
        if data is None:
            return None
        try:
            if data.get("format") != self.FORMAT or data.get("identity") != identity:
                raise ValueError("written for another server, zone or format")
            serial = data["serial"]
            if type(serial) is not int:
                raise ValueError("bad serial")
            return serial, _State.from_json(data["state"])
        except (AttributeError, KeyError, ValueError) as e:
            log.warning("state: zone snapshot %s is damaged (%s); transferring afresh", path, e)
            return None

    def save(self, identity: list[str], serial: int, state: _State) -> None:
        head = statefile.dumps({"format": self.FORMAT, "identity": identity, "serial": serial})
        body = itertools.chain([head[:-1] + ',"state":'], state.to_json(), ["}"])
        statefile.write_chunks(self._path(identity), body, "zone snapshot")

    def discard(self, identity: list[str]) -> None:
        statefile.remove(self._path(identity), "zone snapshot")


def serial_behind(serial: int, than: int) -> bool:
    """Whether ``serial`` is older than ``than`` in serial arithmetic (RFC 1982)."""
    return serial != than and (than - serial) % 2**32 < 2**31


class ZoneReader:
    """Reads one zone from one server, remembering the last verified state."""

    def __init__(self, client: Client, zone: str, store: SnapshotStore | None = None) -> None:
        self.client = client
        self.zone = zone
        self._state: _State | None = None
        self._snapshot: ZoneSnapshot | None = None
        self._stale = False
        self._store = store
        self._restored = store is None

    def _identity(self) -> list[str]:
        c = self.client
        key = c.key.name.to_text(omit_final_dot=True).lower() if c.key else ""
        hosts = ",".join(h.name for h in c.hosts)
        return [f"{'tls://' if c.tls else ''}{hosts}", key, self.zone]

    @property
    def cached(self) -> ZoneSnapshot | None:
        return self._snapshot

    def mark_written(self) -> None:
        """We changed the zone: don't trust an unchanged serial next time.

        Some servers keep the serial on UPDATE (PowerDNS without
        SOA-EDIT-DNSUPDATE); the next read then transfers in full.  The
        stored state is dropped too: a later run must not trust it.
        """
        self._stale = True
        if self._store is not None:
            self._store.discard(self._identity())

    async def persist(self) -> None:
        """Bring the stored state up to date after our own writes (an IXFR of
        them where the server bumps its serial), so the next run's unchanged
        zone costs one SOA query.  Best effort: a failure leaves no state."""
        if self._store is None or not self._stale:
            return
        try:
            await self.read()
        except DNSError as e:
            log.info("zone %s: not kept for the next run (%s)", self.zone, e)

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
        if not self._restored:
            self._restore()
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
                return Read(cached, "none", changed=frozenset())
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
            return Read(self._require_cached(), "none", changed=frozenset())
        if result.kind == "axfr":
            # The server answered the IXFR with the whole zone (PowerDNS does).
            return self._install_full(result.full, result.serial, "axfr", result.nbytes)
        cached = self._require_cached()
        self._not_behind(result.serial, cached)
        # The deltas are whole before this point: a change costs its records,
        # not the zone's (beside one copy of the dictionary of record sets).
        moved = self._state.moved(result.deltas)
        nbytes, serial_now = result.nbytes, result.serial
        del result  # its records, before the new state is stored
        state = moved.state
        names = cached.other_names
        if moved.others:
            names = frozenset({*state.others, self.zone})
        snapshot = ZoneSnapshot(self.zone, serial_now, state.rrsets, names)
        return self._installed(state, snapshot, "ixfr", nbytes, moved.names)

    async def _axfr(self, start: Host | None) -> Read:
        result = await self.client.transfer(self.zone, start=start)
        return self._install_full(result.full, result.serial, "axfr", result.nbytes)

    def _install_full(
        self, records: list[wire.Record], serial: int, kind: str, nbytes: int
    ) -> Read:
        return self._install(_State.of(records), serial, kind, nbytes)

    def _restore(self) -> None:
        """Start from the stored state, if any (once, before the first transfer)."""
        self._restored = True
        assert self._store is not None
        found = self._store.load(self._identity())
        if found is not None and self._snapshot is None:
            serial, state = found
            self._state = state
            self._snapshot = state.snapshot(self.zone, serial)

    def _install(self, state: _State, serial: int, kind: str, nbytes: int) -> Read:
        self._not_behind(serial, self._snapshot)
        return self._installed(state, state.snapshot(self.zone, serial), kind, nbytes, None)

    def _not_behind(self, serial: int, cached: ZoneSnapshot | None) -> None:
        if self.client.hosts.spread and cached and serial_behind(serial, cached.serial):
            # A retry moved the transfer to a host that lags: never plan on older data.
            raise TransferFailed(
                f"transfer at serial {serial}, behind {cached.serial} read before "
                "(a lagging server)",
                server=self.client.label,
                zone=self.zone,
            )

    def _installed(
        self,
        state: _State,
        snapshot: ZoneSnapshot,
        kind: str,
        nbytes: int,
        changed: frozenset[str] | None,
    ) -> Read:
        self._state = state
        self._snapshot = snapshot
        self._stale = False
        if self._store is not None:
            self._store.save(self._identity(), snapshot.serial, state)
        return Read(snapshot, kind, nbytes, changed)

    def _require_cached(self) -> ZoneSnapshot:
        if self._snapshot is None:
            raise DNSError("no cached snapshot", zone=self.zone)
        return self._snapshot
