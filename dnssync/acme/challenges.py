"""Watches cert-manager Challenges: presents early, removes what we left behind.

A :class:`ChallengeWatcher` keeps a cache of the DNS-01 Challenges
(``acme.cert-manager.io/v1``) whose solver is our webhook (``groupName`` and
``solverName`` match), fed by the shared list+watch
:class:`~dnssync.kube.informer.Informer` (resourceVersion, bookmarks,
``timeoutSeconds``, relist on 410, capped jittered backoff).  It only ever
*reads* Challenges: it never writes their status and adds no finalizers --
cert-manager owns both.

**Early presentation.** A live Challenge (not being deleted, state not
valid / invalid / errored / expired) gets its value presented as soon as it
is seen, so cert-manager's Present call through the webhook finds the work
done (the solver's Present is idempotent: it re-adds nothing).

**Stale values: how dnssync knows what it wrote.**  TXT values carry no
author, and other ACME clients (certbot, lego, another cert-manager) write at
the same ``_acme-challenge`` names.  dnssync therefore writes each value
together with an *ownership marker* in the same, atomic UPDATE -- a TXT
record ``_dnssync-acme.<record>`` whose text is
``heritage=dnssync,dnssync/owner=<owner_id>,dnssync/value=<value>`` (see
:mod:`dnssync.acme.records`).  A value is a removal candidate only when such
a marker with *our* owner id names it exactly; a value without our marker is
never touched, whoever wrote it.  A candidate is removed when no live
Challenge needs its value and that has been so for ``grace`` seconds in a
row (covering the lag between a webhook Present and the watch event of its
Challenge), by one UPDATE that deletes the value and its marker under the
prerequisite that the marker set is exactly as just read -- a concurrent
Present or clean-up makes it fail, and it is retried on a later pass.
With markers switched off (keys restricted to ``_acme-challenge`` names) the
proof is this process's own journal of values it presented, so only those
are ever removed.

Records checked: the (CNAME-resolved) record of every Challenge seen since
start, the records in the solver's journal, and -- with ``scan_zones`` -- any
record with our markers found by transferring the configured zones (so
leftovers from before a restart are found too).

Writes happen only while ``is_leader()`` says so; metrics (pending
Challenges, their age) are served by every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dnssync.acme.payload import Challenge, parse_challenge
from dnssync.acme.records import StaleTracker
from dnssync.acme.solver import Placement, Solver
from dnssync.errors import ConfigError, DnssyncError
from dnssync.kube.informer import Informer
from dnssync.kube.resources import CHALLENGES
from dnssync.retry import Backoff, Pulse

log = logging.getLogger(__name__)

AGE_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_PRESENT_CONCURRENCY = 16
_RETRY_CAP = 300.0
_RETRY = Backoff(initial=2.0, cap=_RETRY_CAP)


@dataclass(slots=True)
class PassResult:
    """What one reconcile pass did (for logs and tests)."""

    presented: list[str] = field(default_factory=list)  # Challenge refs
    present_errors: list[str] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (record, value)
    kept: int = 0  # our values still needed or inside the grace period
    check_errors: list[str] = field(default_factory=list)


class ChallengeWatcher:
    """Cache of our Challenges; early presents; stale-value removal; metrics."""

    def __init__(
        self,
        solver: Solver,
        api: Any,
        *,
        group_name: str,
        solver_name: str,
        namespaces: Iterable[str] = (),
        present_early: bool = True,
        grace: float = 600.0,
        resync: float = 60.0,
        scan_zones: bool = False,
        debounce: float = 0.1,
        watch_timeout: int = 300,
        api_grace: float = 120.0,
        is_leader: Callable[[], bool] = lambda: True,
        registry: CollectorRegistry | None = None,
        pulse: Pulse | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.solver = solver
        self.api = api
        self.group = group_name
        self.solver_name = solver_name
        self.namespaces = tuple(namespaces)
        self.present_early = present_early
        self.resync = resync
        self.scan_zones = scan_zones
        self.debounce = debounce
        self.watch_timeout = watch_timeout
        self.api_grace = api_grace
        self.pulse = pulse
        self.is_leader = is_leader
        self._clock = clock
        self._wall = wall_clock
        self._challenges: dict[str, Challenge] = {}
        self._namespace_of: dict[str, str] = {}
        self._invalid: set[str] = set()
        # Record names (as in Challenges) -> last time a Challenge named them.
        self._records: dict[str, float] = {}
        self._presented: dict[str, str] = {}  # uid -> key presented early
        self._retry_at: dict[str, tuple[int, float]] = {}  # uid -> (failures, when)
        self._tracker = StaleTracker(grace)
        self._wake = asyncio.Event()
        self.synced = asyncio.Event()
        self.informers: list[Informer] = []
        self._early = Counter(
            "dnssync_acme_early_presents",
            "Challenge values presented before cert-manager asked, by result",
            ["result"],
            registry=registry,
        )
        self._removed = Counter(
            "dnssync_acme_stale_values_removed",
            "TXT values dnssync wrote and no live Challenge needed, removed",
            registry=registry,
        )
        if registry is not None:
            registry.register(_PendingCollector(self))

    # --- Sink (fed by the informers) -----------------------------------------

    def upsert(self, kind: str, obj: Mapping[str, Any]) -> object:
        meta = obj.get("metadata") or {}
        key = _key(meta)
        try:
            ch = parse_challenge(obj, group_name=self.group, solver_name=self.solver_name)
        except DnssyncError as e:
            if key not in self._invalid:
                log.warning("ignoring %s", e)
                self._invalid.add(key)
            ch = None
        if ch is None:
            self._drop(key)
            return None
        self._invalid.discard(key)
        self._challenges[key] = ch
        self._namespace_of[key] = ch.namespace
        self._records[ch.record] = self._clock()
        return ch

    def delete(self, kind: str, obj: Mapping[str, Any]) -> object:
        key = _key(obj.get("metadata") or {})
        ch = self._challenges.get(key)
        if ch is not None:
            self._records[ch.record] = self._clock()
        self._drop(key)
        return None

    def replace(
        self, kind: str, objs: Iterable[Mapping[str, Any]], *, namespace: str | None = None
    ) -> None:
        for key in [k for k, ns in self._namespace_of.items() if namespace in (None, ns)]:
            ch = self._challenges.get(key)
            if ch is not None:
                self._records[ch.record] = self._clock()
            self._drop(key)
        for obj in objs:
            self.upsert(kind, obj)

    def _drop(self, key: str) -> None:
        self._challenges.pop(key, None)
        self._namespace_of.pop(key, None)
        self._presented.pop(key, None)
        self._retry_at.pop(key, None)

    # --- views -----------------------------------------------------------------

    @property
    def challenges(self) -> list[Challenge]:
        return list(self._challenges.values())

    def pending(self) -> list[Challenge]:
        """Our Challenges cert-manager still works on."""
        return [c for c in self._challenges.values() if c.live]

    def pending_ages(self) -> list[float]:
        now = self._wall()
        return [max(0.0, now - c.created) for c in self.pending() if c.created is not None]

    # --- running ---------------------------------------------------------------

    async def run(self) -> None:
        """Watch and reconcile until cancelled (raises ConfigError on RBAC/CRD problems)."""
        self.informers = [
            Informer(
                self.api,
                CHALLENGES,
                self,
                namespace=ns,
                watch_timeout=self.watch_timeout,
                grace=self.api_grace,
                on_change=self._wake.set,
                pulse=self.pulse,
            )
            for ns in (self.namespaces or (None,))
        ]
        async with asyncio.TaskGroup() as tg:
            for informer in self.informers:
                tg.create_task(informer.run(), name=f"informer {informer.name}")
            tg.create_task(self._loop(), name="challenge-watcher")

    async def _loop(self) -> None:
        for informer in self.informers:
            await informer.synced.wait()
        self.synced.set()
        next_stale = self._clock()
        while True:
            now = self._clock()
            stale = now >= next_stale
            if stale:
                next_stale = now + self.resync
            try:
                result = await self.reconcile(stale=stale)
            except DnssyncError as e:
                log.warning("challenge watcher pass failed: %s", e)
            else:
                if result.presented or result.removed or result.present_errors:
                    log.info(
                        "challenges: presented early %d, removed %d stale value(s), %d error(s)",
                        len(result.presented),
                        len(result.removed),
                        len(result.present_errors) + len(result.check_errors),
                    )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_stale - self._clock())):
                    await self._wake.wait()
            await asyncio.sleep(self.debounce)

    async def reconcile(self, *, stale: bool = True) -> PassResult:
        """One pass: present early what is missing; with ``stale``, remove leftovers."""
        result = PassResult()
        if not self.is_leader():
            return result
        if self.present_early:
            await self._present_early(result)
        if stale:
            await self._remove_stale(result)
        return result

    async def _present_early(self, result: PassResult) -> None:
        now = self._clock()
        todo = [
            c
            for c in self.pending()
            if self._presented.get(c.uid) != c.key and self._retry_at.get(c.uid, (0, 0.0))[1] <= now
        ]
        if not todo:
            return
        limit = asyncio.Semaphore(_PRESENT_CONCURRENCY)

        async def one(ch: Challenge) -> None:
            async with limit:
                try:
                    placement = await self.solver.present(
                        ch.record, ch.key, options=ch.options, wait=False
                    )
                except DnssyncError as e:
                    failures = self._retry_at.get(ch.uid, (0, 0.0))[0] + 1
                    delay = _RETRY.delay(failures)
                    self._retry_at[ch.uid] = (failures, self._clock() + delay)
                    self._early.labels("error").inc()
                    result.present_errors.append(f"{ch.ref}: {e}")
                    log.warning("early present for Challenge %s failed: %s", ch.ref, e)
                    return
                self._presented[ch.uid] = ch.key
                self._retry_at.pop(ch.uid, None)
                self._records[placement.record] = self._clock()
                self._early.labels("success").inc()
                result.presented.append(ch.ref)

        async with asyncio.TaskGroup() as tg:
            for ch in todo:
                tg.create_task(one(ch))

    async def _placements(self, result: PassResult) -> dict[str, Placement]:
        """Every record to check, CNAME-resolved, keyed by the final record name."""
        out: dict[str, Placement] = {}
        for placement in list(self.solver.written.values()):
            out[placement.record] = placement
        if self.scan_zones:
            try:
                for placement in await self.solver.marked_records():
                    out.setdefault(placement.record, placement)
            except DnssyncError as e:
                result.check_errors.append(f"zone scan: {e}")
                log.warning("challenge watcher: zone scan failed: %s", e)
        for record in list(self._records):
            try:
                placement = await self.solver.resolve(record)
            except DnssyncError as e:
                result.check_errors.append(f"{record}: {e}")
                continue
            out.setdefault(placement.record, placement)
        return out

    async def _remove_stale(self, result: PassResult) -> None:
        needed = frozenset(c.key for c in self.pending())
        owner = self.solver.owner
        now = self._clock()
        for record, placement in (await self._placements(result)).items():
            try:
                held = await self.solver.held(placement)
            except DnssyncError as e:
                result.check_errors.append(f"{record}: {e}")
                continue
            if owner is not None:
                ours = held.ours(owner)
            else:
                ours = frozenset(v for (r, v) in self.solver.written if r == record)
            due = self._tracker.observe(record, ours, needed, now)
            result.kept += len(ours) - len(due)
            if not due:
                continue
            try:
                if owner is not None:
                    done = await self.solver.remove_stale(placement, due, markers_read=held.markers)
                else:
                    for value in due:
                        await self.solver.remove_unmarked(placement, value)
                    done = True
            except DnssyncError as e:
                result.check_errors.append(f"{record}: {e}")
                log.warning("removing stale values at %s failed: %s", record, e)
                continue
            if not done:
                log.info("stale values at %s changed meanwhile; next pass", record)
                continue
            self._tracker.forget(record)
            self._removed.inc(len(due))
            result.removed.extend((record, v) for v in sorted(due))
            log.info("removed %d stale value(s) dnssync wrote at %s", len(due), record)
        self._forget_old_records(now)

    def _forget_old_records(self, now: float) -> None:
        # Names of Challenges long gone, whose values were removed or never
        # ours, need no more queries (the grace period, twice, to be safe).
        live = {c.record for c in self._challenges.values()}
        horizon = max(2 * self._tracker.grace, 2 * self.resync)
        tracked = {r for (r, _v) in self._tracker.pending()}
        for record, seen in list(self._records.items()):
            if record not in live and record not in tracked and now - seen > horizon:
                del self._records[record]


def _key(meta: Mapping[str, Any]) -> str:
    uid = meta.get("uid")
    if isinstance(uid, str) and uid:
        return uid
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class _PendingCollector(Collector):
    """Pending Challenges and their ages, computed at scrape time."""

    def __init__(self, watcher: ChallengeWatcher) -> None:
        self.watcher = watcher

    def collect(self) -> Iterator[Metric]:
        ages = sorted(self.watcher.pending_ages())
        count = len(self.watcher.pending())
        yield GaugeMetricFamily(
            "dnssync_acme_challenges_pending",
            "cert-manager Challenges for our solver that are not finished",
            value=count,
        )
        yield GaugeMetricFamily(
            "dnssync_acme_challenge_oldest_pending_age_seconds",
            "Age of the oldest pending Challenge (0 when none)",
            value=ages[-1] if ages else 0.0,
        )
        buckets = [(str(b), float(sum(1 for a in ages if a <= b))) for b in AGE_BUCKETS]
        buckets.append(("+Inf", float(len(ages))))
        yield GaugeHistogramMetricFamily(
            "dnssync_acme_challenges_pending_age_seconds",
            "Pending Challenges by age",
            buckets=buckets,
            gsum_value=sum(ages),
        )


def from_config(
    solver: Solver,
    api: Any,
    *,
    is_leader: Callable[[], bool] = lambda: True,
    registry: CollectorRegistry | None = None,
    api_grace: float = 120.0,
    pulse: Pulse | None = None,
) -> ChallengeWatcher:
    """A watcher set up from ``solver.cfg`` (the acme section)."""
    cfg = solver.cfg
    if api is None:
        raise ConfigError("acme.challenges needs Kubernetes access (kubernetes.kubeconfig)")
    return ChallengeWatcher(
        solver,
        api,
        group_name=cfg.webhook.group_name,
        solver_name=cfg.webhook.solver_name,
        namespaces=cfg.challenges.namespaces,
        present_early=cfg.challenges.present_early,
        grace=cfg.challenges.grace,
        resync=cfg.challenges.resync,
        scan_zones=cfg.challenges.scan_zones,
        is_leader=is_leader,
        registry=registry,
        api_grace=api_grace,
        pulse=pulse,
    )
