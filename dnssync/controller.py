"""Reconciling one target: read each zone, plan, apply, report.

A :class:`Target` is built once from its :class:`~dnssync.config.TargetConfig`
(clients, zone readers with their caches, registry, planner options) and then
reconciled as often as needed: by the CLI once, by the service on every
change and on a period.  An UPDATE that timed out has an unknown outcome: the
zone is re-read and the plan recomputed before anything is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dnssync import retry
from dnssync.config import TargetConfig
from dnssync.dns import applier
from dnssync.dns.client import Client, Timeouts
from dnssync.dns.updates import describe
from dnssync.dns.zones import Read, SnapshotStore, ZoneReader
from dnssync.domainfilter import DomainFilter
from dnssync.errors import (
    ConfigError,
    DNSError,
    DnssyncError,
    DNSTimeout,
    InvalidInput,
    ServerRefused,
)
from dnssync.model import (
    DERIVED,
    Change,
    Endpoint,
    Nearby,
    ObjectRef,
    Plan,
    Policy,
    Skipped,
    ZoneSnapshot,
)
from dnssync.names import zone_for
from dnssync.plan import (
    PlanOptions,
    apex_neighbours,
    holds,
    nearby,
    neighbourhood,
    plan,
    split_by_zone,
)
from dnssync.registry import Registry, RegistryOptions, decode_aes_key
from dnssync.sources.convert import SourceOptions
from dnssync.sources.reverse import reverse_endpoints
from dnssync.sources.selector import parse_filter

if TYPE_CHECKING:  # the one-shot CLI never loads aiohttp or prometheus-client
    from prometheus_client import Counter

    from dnssync.http import Health
    from dnssync.metrics import Metrics

log = logging.getLogger(__name__)

#: How often an apply whose outcome is unknown is re-planned and retried.
UNKNOWN_OUTCOME_RETRIES = 2
#: Reads tried after an unknown outcome (each with the client's own retries).
UNKNOWN_OUTCOME_READS = 5
#: A change is planned at its own names while they number at most this many,
#: or one in this many of the zone's record sets; beyond, a whole plan is cheaper.
ALONE_MIN = 64
ALONE_SHARE = 20


@dataclass(slots=True)
class ZoneResult:
    """What one reconcile did to one zone."""

    zone: str
    plan: Plan | None = None
    transfer: str = ""  # none / ixfr / axfr
    applied: applier.ApplyResult | None = None
    error: DnssyncError | None = None
    #: Planned at some names only (the counts in ``plan`` are theirs, not the zone's).
    partial: bool = False
    #: An UPDATE's outcome was unknown: the zone was read and planned again.
    reread: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not (self.applied and self.applied.rejected)


@dataclass(slots=True)
class TargetResult:
    target: str
    zones: list[ZoneResult] = field(default_factory=list)
    outside: list[Skipped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(z.ok for z in self.zones)

    @property
    def pending(self) -> int:
        return sum(len(z.plan.changes) for z in self.zones if z.plan is not None)


def refusal_hint(target: str, *, cli: bool) -> str:
    """How to get past the safety gate, for the CLI or the service's log."""
    switch = f"or raise max_change_ratio of target {target} (null turns the gate off)"
    if cli:
        return f"--force applies it, {switch}"
    return f"`dnssync sync --once --force` applies it once, {switch}"


def source_options(cfg: TargetConfig) -> SourceOptions:
    return SourceOptions(
        annotation_filter=parse_filter(cfg.annotation_filter) if cfg.annotation_filter else None,
        default_targets=cfg.default_targets,
        ingress_tls_hosts=cfg.ingress_tls_hosts,
        publish_internal=cfg.publish_internal,
        annotation_prefix=cfg.annotation_prefix,
    )


def domain_filter(cfg: TargetConfig) -> DomainFilter:
    try:
        return DomainFilter(
            cfg.domain_filter,
            cfg.exclude_domains,
            cfg.regex_domain_filter,
            cfg.regex_domain_exclusion,
        )
    except ConfigError as e:
        raise ConfigError(f"target {cfg.name}: {e}") from None


class Target:
    """The live parts of one configured target."""

    def __init__(self, cfg: TargetConfig, *, store: SnapshotStore | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.name
        timeouts = Timeouts(query=cfg.server.timeout, transfer=cfg.server.transfer_timeout)
        key = cfg.key.tsig() if cfg.key else None
        hosts = cfg.server.addresses()
        label = f"target {cfg.name} ({', '.join(f'{h}:{p}' for h, p in hosts)})"
        self.client = Client.for_server(cfg.server, key, timeouts=timeouts, label=label)
        self.transfer_client = (
            self.client
            if cfg.transfer_key is None
            else Client.for_server(
                cfg.server, cfg.transfer_key.tsig(), timeouts=timeouts, label=label, gss=False
            )
        )
        self.readers = {z: ZoneReader(self.transfer_client, z, store) for z in cfg.zones}
        try:
            aes = cfg.txt_encrypt_key
            self.registry = Registry(
                RegistryOptions(
                    owner_id=cfg.owner_id,
                    prefix=cfg.txt_prefix,
                    suffix=cfg.txt_suffix,
                    wildcard_replacement=cfg.txt_wildcard_replacement,
                    encryption_key=decode_aes_key(aes.get_secret_value()) if aes else None,
                )
            )
        except ConfigError as e:
            raise ConfigError(f"target {cfg.name}: {e}") from None
        self.plan_options = PlanOptions(
            policy=cfg.policy,
            default_ttl=cfg.ttl.default,
            min_ttl=cfg.ttl.min,
            max_ttl=cfg.ttl.max,
            max_change_ratio=cfg.max_change_ratio,
            safety_floor=cfg.safety_floor,
            ownership_ttl=cfg.ttl.min if cfg.ttl.ownership == "min" else None,
            managed_types=frozenset(cfg.managed_record_types),
            domain_filter=domain_filter(cfg),
            migrate_from_owner=cfg.migrate_from_txt_owner,
        )
        #: Zones each zone's plan reads too: external-dns names an apex's
        #: ownership TXT outside its zone, maybe in another zone of the target.
        self.neighbours = apex_neighbours(cfg.zones, self.registry, cfg.managed_record_types)
        self.source_options = source_options(cfg)
        # The last pass that found nothing to do: inputs version, serials, result.
        self._idle: tuple[int, dict[str, int], TargetResult] | None = None
        #: Per zone, our last write there (until the next read of it): the serial it
        #: was planned on, the messages that landed, the names they wrote at, and
        #: whether it did all it planned (no outcome in doubt, nothing skipped).
        self._written: dict[str, tuple[int, int, frozenset[str], bool]] = {}

    async def reconcile(
        self,
        endpoints: Iterable[Endpoint],
        *,
        apply: bool,
        force: bool = False,
        complete: bool = True,
        version: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> TargetResult:
        """Plan every zone of the target and, if ``apply``, carry the plans out.

        ``complete=False`` says some sources failed to convert (a broken
        manifest, a bad annotation): their records are missing from
        ``endpoints`` by accident, not by intent, so nothing is deleted in
        this pass, whatever the policy.  ``version`` identifies the inputs:
        when neither they nor any zone's serial changed since a pass that
        found nothing to do, this pass costs one SOA query per zone.
        """
        if version is not None and not force:
            idle = await self._still_idle(version)
            if idle is not None:
                return idle
        endpoints = list(endpoints)
        derived = reverse_endpoints(endpoints, self.cfg.create_ptr)
        by_zone, outside = split_by_zone([*endpoints, *derived], self.cfg.zones)
        # A reverse name in no zone of the target: it serves only the reverse
        # zones it is given, and nobody asked for that name by hand.
        outside = [ep for ep in outside if ep.source != DERIVED]
        result = TargetResult(
            self.name,
            outside=[
                Skipped(
                    ep.key,
                    ep.source.resource,
                    f"not inside any zone of target {self.name} ({', '.join(self.cfg.zones)})",
                )
                for ep in outside
            ],
        )
        options = replace(self.plan_options, force=force) if force else self.plan_options
        if options.migrate_from_owner:
            live = frozenset(ep.source.resource for ep in endpoints) - {""}
            options = replace(options, live_resources=live)
        if not complete and options.policy is Policy.SYNC:
            log.warning("target %s: input errors: holding deletes this pass", self.name)
            options = replace(options, policy=Policy.UPSERT_ONLY)
        for zone, eps in by_zone.items():
            zr = ZoneResult(zone)
            result.zones.append(zr)
            try:
                await self._zone(zr, eps, options, apply=apply, progress=progress)
            except DnssyncError as e:
                log.error("target %s zone %s: %s", self.name, zone, e)
                zr.error = e
        quiet = result.ok and not result.pending and all(z.plan for z in result.zones)
        self._idle = None
        if version is not None and quiet:
            serials = {z: r.cached.serial for z, r in self.readers.items() if r.cached}
            if len(serials) == len(self.readers):
                self._idle = (version, serials, result)
        return result

    async def reconcile_names(
        self, names: set[str], feed: NameFeed, *, apply: bool, version: int
    ) -> TargetResult | None:
        """Plan and apply only what ``names`` (and the zone's own news) touch.

        For a target whose last pass left every zone as planned: each zone is
        read (an SOA query; an IXFR brings the names someone changed), and the
        names, their ownership neighbours and the endpoints there are planned
        alone -- the same changes a whole plan gives (:func:`neighbourhood`).
        None where that cannot stand in for a whole pass: a zone read in full
        or not at all, apex ownership across zones, reverse records, a
        migration, a plan beyond the safety floor (the gate needs the whole
        zone's count), or inputs that moved while the zones were read.
        """
        cfg = self.cfg
        if any(self.neighbours.values()) or cfg.create_ptr or self.plan_options.migrate_from_owner:
            return None
        options = replace(self.plan_options, max_change_ratio=None)
        planned: list[tuple[ZoneResult, int, set[str]]] = []
        for zone, reader in self.readers.items():
            try:
                read = await reader.read()
            except DnssyncError:
                return None  # the whole pass says so, per zone
            if read.changed is None:
                return None
            local = {n for n in names | self._news(zone, read) if zone_for(n, cfg.zones) == zone}
            if not local:
                continue
            if len(local) > max(ALONE_MIN, len(read.snapshot.rrsets) // ALONE_SHARE):
                return None  # a big change: a whole plan is cheaper
            zr = ZoneResult(zone, transfer=read.transfer, partial=True)
            zr.plan = self._plan_at(zone, local, read.snapshot, feed, options)
            touched = sum(len(c.old) or int(not c.new) for c in zr.plan.changes)
            if self.plan_options.max_change_ratio is not None and touched > options.safety_floor:
                return None
            planned.append((zr, read.snapshot.serial, local))
        if feed.version != version:
            return None  # planned on endpoints newer than the pass's inputs: take it whole
        self._idle = None
        result = TargetResult(self.name, zones=[zr for zr, _, _ in planned])
        for zr, serial, local in planned:
            await self._apply_partial(zr, serial, local, feed, options, version, apply=apply)
        return result

    def _news(self, zone: str, read: Read) -> frozenset[str]:
        """The names the read says moved, less or more our own last write to ``zone``.

        That write is all the news when the serial moved by exactly its
        messages from the one it was planned on (the server counts each UPDATE
        once): no one else wrote in between.  Otherwise its names are news too:
        someone else may have undone it, and a server that condenses the
        IXFR's deltas into one shows no name whose record came and went.  So
        are they where its plan skipped something (what it cleared may let a
        skipped record follow now) or an outcome was in doubt.
        """
        changed = read.changed or frozenset()
        ours = self._written.pop(zone, None)
        if ours is None or read.transfer != "ixfr":
            return changed
        serial, landed, names, exact = ours
        if exact and read.snapshot.serial == (serial + landed) % 2**32:
            return changed - names
        return changed | names

    def _plan_at(
        self,
        zone: str,
        local: set[str],
        snapshot: ZoneSnapshot,
        feed: NameFeed,
        options: PlanOptions,
    ) -> Plan:
        cut, sub = neighbourhood(local, snapshot, self.registry, feed.wants)
        eps = [e for e in feed.at(cut) if zone_for(e.name, self.cfg.zones) == zone]
        return plan(eps, sub, self.registry, options)

    async def _apply_partial(
        self,
        zr: ZoneResult,
        serial: int,
        local: set[str],
        feed: NameFeed,
        options: PlanOptions,
        version: int,
        *,
        apply: bool,
    ) -> None:
        async def again(snapshot: ZoneSnapshot) -> Plan:
            # After an unknown outcome: the same names, on the zone read again.
            if feed.version != version:
                raise DNSError("the inputs moved during a retry; the next pass plans them whole")
            return self._plan_at(zr.zone, local, snapshot, feed, options)

        assert zr.plan is not None
        try:
            await self._carry_out(zr, again, apply=apply, planned=(zr.plan, serial))
        except DnssyncError as e:
            log.error("target %s zone %s: %s", self.name, zr.zone, e)
            zr.error = e

    async def _still_idle(self, version: int) -> TargetResult | None:
        if self._idle is None or self._idle[0] != version:
            return None
        _, serials, last = self._idle
        for zone, reader in self.readers.items():
            read = await reader.read()
            if read.transfer != "none" or read.snapshot.serial != serials[zone]:
                return None
        for zr in last.zones:
            zr.transfer = "none"
        return last

    async def _zone(
        self,
        zr: ZoneResult,
        eps: list[Endpoint],
        options: PlanOptions,
        *,
        apply: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        async def whole(snapshot: ZoneSnapshot) -> Plan:
            near = await self._nearby(zr.zone, snapshot)
            return plan(eps, snapshot, self.registry, options, near)

        await self._carry_out(zr, whole, apply=apply, progress=progress)

    async def _carry_out(
        self,
        zr: ZoneResult,
        planner: Callable[[ZoneSnapshot], Awaitable[Plan]],
        *,
        apply: bool,
        progress: Callable[[int], None] | None = None,
        planned: tuple[Plan, int] | None = None,
    ) -> None:
        """Read, plan and apply one zone; after an unknown outcome, read and plan again.

        ``planned``: the plan already made on the read just made, and its serial.
        """
        reader = self.readers[zr.zone]
        total = applier.ApplyResult()
        uncertain = False
        serial = 0
        for attempt in range(UNKNOWN_OUTCOME_RETRIES + 1):
            if planned is not None and attempt == 0:
                zr.plan, serial = planned
            else:
                read = await (self._reread(reader) if uncertain else reader.read())
                self._written.pop(zr.zone, None)  # this read has it
                serial = read.snapshot.serial
                zr.transfer = read.transfer if attempt == 0 else zr.transfer
                if total.unknown:
                    # The message that timed out may have landed: what it brought
                    # about is applied, and the new plan no longer holds it.
                    landed = [c for c in total.unknown if holds(c, read.snapshot)]
                    total.applied.extend(landed)
                    total.settled += len(landed)
                    total.unknown = []
                zr.plan = await planner(read.snapshot)
            if not apply or not zr.plan.changes:
                break
            try:
                await applier.apply(
                    self.client,
                    zr.zone,
                    zr.plan.changes,
                    progress=progress,
                    settle=self._settler(reader) if uncertain else None,
                    into=total,
                )
            except DNSTimeout:
                reader.mark_written()
                if attempt == UNKNOWN_OUTCOME_RETRIES:
                    raise
                uncertain = zr.reread = True
                log.warning("zone %s: UPDATE outcome unknown; re-reading before retrying", zr.zone)
                continue
            reader.mark_written()
            break
        if total.messages:
            zr.applied = total
            exact = not uncertain and zr.plan is not None and not zr.plan.skipped
            names = {n for c in (*total.applied, *total.unknown) for n in _names_of(c)}
            self._written[zr.zone] = (serial, total.landed, frozenset(names), exact)

    async def _nearby(self, zone: str, snapshot: ZoneSnapshot) -> Nearby | None:
        """The other zones' view :func:`~dnssync.plan.nearby` takes (none for most targets)."""
        others = self.neighbours.get(zone)
        if not others:
            return None
        snapshots = {zone: snapshot}
        for other in sorted(others):
            snapshots[other] = (await self.readers[other].read()).snapshot
        types = self.plan_options.managed_types
        return nearby(zone, self.cfg.zones, snapshots, self.registry, types)

    @staticmethod
    async def _reread(reader: ZoneReader) -> Read:
        """A read after an unknown outcome: the server may still be busy or
        stopped, so the read itself is tried again (capped, jittered)."""
        return await retry.attempts(reader.read, attempts=UNKNOWN_OUTCOME_READS)

    def _settler(self, reader: ZoneReader) -> Callable[[], Awaitable[ZoneSnapshot]]:
        async def settle() -> ZoneSnapshot:
            reader.mark_written()
            return (await self._reread(reader)).snapshot

        return settle


# --- the service loop ---------------------------------------------------------


class EndpointFeed(Protocol):
    """Where a target's desired endpoints come from (watches or manifests)."""

    def endpoints(self) -> list[Endpoint]: ...

    def errors(self) -> list[InvalidInput]: ...

    def invalid(self) -> Mapping[Any, Sequence[InvalidInput]]:
        """The objects (ObjectRef keys) or manifest documents (str keys) with errors."""
        ...

    @property
    def version(self) -> int:
        """Changes whenever endpoints() or errors() may have."""
        ...

    async def wait(self, timeout: float | None = None) -> set[ObjectRef]: ...


@runtime_checkable
class NameFeed(Protocol):
    """A feed that knows which names its changes touched: a pass plans only those."""

    @property
    def version(self) -> int: ...

    def take_names(self) -> set[str]: ...

    def wants(self, name: str) -> bool: ...

    def at(self, names: Iterable[str]) -> list[Endpoint]: ...


class Recorder(Protocol):
    """Tells users about their objects (Kubernetes Events); never waits."""

    def record(self, ref: str, *, reason: str, message: str, warning: bool) -> None: ...


class Leadership(Protocol):
    def is_leader(self) -> bool: ...


class AlwaysLeader:
    """Without a cluster there is one replica, and it writes."""

    def is_leader(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class LoopOptions:
    debounce: float = 0.02  # gather a burst of watch events into one pass
    interval: float = 60.0  # periodic resync (SOA check) when nothing happens
    full_read_every: float = 3600.0  # drop caches and AXFR, repairing drift
    backoff_max: float = 60.0


class Loop:
    """Reconciles one target whenever its feed changes, and on a period."""

    def __init__(
        self,
        target: Target,
        feed: EndpointFeed,
        *,
        metrics: Metrics,
        health: Health,
        leadership: Leadership | None = None,
        recorder: Recorder | None = None,
        options: LoopOptions = LoopOptions(),
        clock: Callable[[], float] = time.monotonic,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self.target = target
        self.feed = feed
        self.metrics = metrics
        self._switches: dict[tuple[str, str], int] = {}  # per host and count: already counted
        self.health = health
        self.leadership = leadership or AlwaysLeader()
        self.recorder = recorder
        #: Told (never awaited) after a pass that put the feed's current inputs in DNS.
        self.on_applied = on_applied
        self.options = options
        self.clock = clock
        self.failures = 0
        self._told: dict[tuple[str, str], str] = {}
        self._refused: dict[str, str] = {}  # zone -> the refusal last logged
        self._logged: set[str] = set()  # invalid-input texts already logged
        self._poke = asyncio.Event()
        #: The last pass left DNS as planned: the next change may be planned alone.
        self._settled = False
        health.expect_target(target.name)

    def poke(self) -> None:
        """Run a pass now (e.g. this replica just became the leader)."""
        self._poke.set()

    def _timeout(self) -> float:
        if not self.failures:
            return self.options.interval
        # Capped, jittered backoff: one target's outage never speeds up or
        # delays the others, each loop waits on its own.
        return retry.Backoff(initial=1.0, cap=self.options.backoff_max).delay(self.failures)

    async def run(self, stopping: asyncio.Event) -> None:
        """Until ``stopping``: a pass finishes before the loop looks at it."""
        last_full = self.clock()
        first = True
        while not stopping.is_set():
            if not first:
                changed = await _first_of(self.feed.wait(self._timeout()), stopping, self._poke)
                if stopping.is_set():
                    return
                self._poke.clear()
                if changed and self.options.debounce:
                    await asyncio.sleep(self.options.debounce)
            else:
                changed = set()
            first = False
            if self.clock() - last_full >= self.options.full_read_every:
                for reader in self.target.readers.values():
                    reader.forget()
                last_full = self.clock()
            await self.once(changed=bool(changed))

    async def once(self, *, changed: bool = False) -> TargetResult | None:
        """One pass (reads always; writes only as leader).

        ``changed``: woken by the feed. Then, where the last pass left DNS as
        planned, only the names the changes touched are planned
        (:meth:`Target.reconcile_names`); otherwise, and on every periodic
        pass, the whole target.
        """
        leader = self.leadership.is_leader()
        self.metrics.leader.set(1 if leader else 0)
        errors = self.feed.errors()
        version = self.feed.version
        complete = not any(e.partial for e in errors)
        feed = self.feed
        names = feed.take_names() if isinstance(feed, NameFeed) else None
        started = self.clock()
        settled, self._settled = self._settled, False
        try:
            result = None
            alone = changed and settled and complete and leader
            if alone and isinstance(feed, NameFeed) and names is not None:
                result = await self.target.reconcile_names(names, feed, apply=True, version=version)
            if result is None:
                result = await self.target.reconcile(
                    self.feed.endpoints(), apply=leader, complete=complete, version=version
                )
        except DnssyncError as e:  # a target-wide failure (e.g. bad key)
            self.failures += 1
            self.health.reconciled(self.target.name, ok=False, error=str(e))
            log.error("target %s: %s", self.target.name, e)
            return None
        elapsed = self.clock() - started
        log.debug(
            "target %s: %s pass in %.1f ms",
            self.target.name,
            "partial" if any(z.partial for z in result.zones) else "whole",
            elapsed * 1000,
        )
        self._settled = (
            leader and complete and _in_dns(result) and not any(z.reread for z in result.zones)
        )
        self._observe(result, elapsed)
        self._log_pass(result, errors)
        if result.ok:
            self.failures = 0
            self.health.reconciled(self.target.name, ok=True)
        else:
            self.failures += 1
            failing = "; ".join(f"{z.zone}: {z.error}" for z in result.zones if z.error)
            self.health.reconciled(self.target.name, ok=False, error=failing or "changes rejected")
        self._invalid(errors, tell=leader)
        if self.recorder is not None and leader:
            self._tell(result)
        # Inputs changed during the pass: the generations now are not the applied ones.
        if (
            self.on_applied is not None
            and leader
            and _in_dns(result)
            and self.feed.version == version
        ):
            self.on_applied()
        return result

    def _log_pass(self, result: TargetResult, errors: list[InvalidInput]) -> None:
        """One line per applied zone and per new refusal (input errors: ``_invalid``)."""
        name = self.target.name
        for zr in result.zones:
            if zr.applied is not None and zr.applied.applied:
                a = zr.applied
                log.info(
                    "target %s: applied %d change(s) in %d message(s) to zone %s",
                    name,
                    len(a.applied),
                    a.messages,
                    zr.zone,
                )
            for rej in zr.applied.rejected if zr.applied is not None else ():
                log.warning("target %s zone %s: rejected: %s", name, zr.zone, rej)
            if zr.plan is None:
                continue
            self._log_refusal(zr.zone, zr.plan.refused)

    def _log_refusal(self, zone: str, reason: str) -> None:
        name = self.target.name
        self.metrics.plan_refused.labels(name, zone).set(1 if reason else 0)
        self.health.refused(name, zone, reason)
        if reason and self._refused.get(zone) != reason:
            log.error(
                "target %s zone %s: plan refused by the safety gate: %s; %s",
                name,
                zone,
                reason,
                refusal_hint(name, cli=False),
            )
        elif not reason and zone in self._refused:
            log.info("target %s zone %s: the plan passes the safety gate again", name, zone)
        if reason:
            self._refused[zone] = reason
        else:
            self._refused.pop(zone, None)

    def _observe(self, result: TargetResult, elapsed: float) -> None:
        m = self.metrics
        name = self.target.name
        self._observe_hosts()
        for zr in result.zones:
            labels = (name, zr.zone)
            m.reconcile_seconds.labels(*labels).observe(elapsed / max(1, len(result.zones)))
            if zr.transfer:
                m.transfers.labels(*labels, zr.transfer).inc()
            if zr.error is not None:
                m.reconcile_errors.labels(*labels).inc()
                m.dns_errors.labels(*labels, _error_code(zr.error)).inc()
                continue
            if zr.plan is not None and not zr.partial:
                p = zr.plan
                m.conflicts.labels(*labels).set(len(p.conflicts))
                m.skipped.labels(*labels).set(len(p.skipped))
                m.orphans.labels(*labels).set(len(p.orphans))
                m.records_owned.labels(*labels).set(p.owned)
                m.records_desired.labels(*labels).set(p.desired)
            if zr.applied is not None:
                for change in zr.applied.applied:
                    m.changes.labels(*labels, change.action.value).inc()
                for rej in zr.applied.rejected:
                    m.rejected.labels(*labels).inc()
                    m.dns_errors.labels(*labels, rej.error.rcode).inc()
            if zr.ok:
                m.last_success.labels(*labels).set(time.time())

    def _observe_hosts(self) -> None:
        """Per primary: in use or passed over, failovers away from it, and the transfers
        and UPDATEs it answered, since last time."""
        m, name = self.metrics, self.target.name
        for h in self.target.client.health():
            host = f"{h.host}:{h.port}"
            m.server_up.labels(name, host).set(1 if h.up else 0)
            self._count(m.server_failovers.labels(name, host), (host, "switch"), h.switches)
            self._count(m.server_requests.labels(name, host, "update"), (host, "upd"), h.updates)
        for h in self.target.transfer_client.health():
            host = f"{h.host}:{h.port}"
            xfr = m.server_requests.labels(name, host, "transfer")
            self._count(xfr, (host, "xfr"), h.transfers)

    def _count(self, counter: Counter, key: tuple[str, str], total: int) -> None:
        """Move a Prometheus counter up to ``total``, a count the client keeps."""
        seen = self._switches.get(key, 0)
        if total > seen:
            counter.inc(total - seen)
            self._switches[key] = total

    def _invalid(self, errors: list[InvalidInput], *, tell: bool) -> None:
        """Invalid objects: a log line each (once per text), a gauge, a Warning Event."""
        objects = self.feed.invalid()
        self.metrics.invalid_objects.labels(self.target.name).set(len(objects))
        texts = {str(e) for e in errors}
        for text in sorted(texts - self._logged):
            log.warning("target %s: invalid input ignored: %s", self.target.name, text)
        self._logged = texts
        if self.recorder is None or not tell:
            return
        for ref, problems in objects.items():
            if isinstance(ref, ObjectRef):
                self._note(ref.resource, "Invalid", _annotated(problems), True)

    def _note(self, ref: str, reason: str, message: str, warning: bool) -> None:
        """One Event per distinct message per object and reason."""
        assert self.recorder is not None
        if self._told.get((ref, reason)) == message:
            return
        self._told[(ref, reason)] = message
        self.recorder.record(ref, reason=reason, message=message, warning=warning)

    def _tell(self, result: TargetResult) -> None:
        """Kubernetes Events, once per distinct message per object."""
        assert self.recorder is not None
        notes: list[tuple[str, str, str, bool]] = []
        for zr in result.zones:
            if zr.applied is not None:
                for change in zr.applied.applied:
                    if change.resource:
                        notes.append(
                            (
                                change.resource,
                                "Published",
                                f"{describe(change)} in {zr.zone}",
                                False,
                            )
                        )
                for rej in zr.applied.rejected:
                    if rej.change.resource:
                        notes.append((rej.change.resource, "Refused", str(rej), True))
            if zr.plan is not None:
                for c in zr.plan.conflicts:
                    for loser in c.losers:
                        notes.append(
                            (loser, "Conflict", f"{c.name} is published for {c.winner}", True)
                        )
                for s in zr.plan.skipped:
                    notes.append((s.resource, "Skipped", f"{s.key}: {s.reason}", True))
        for ref, reason, message, warning in notes:
            self._note(ref, reason, message, warning)


def _names_of(change: Change) -> set[str]:
    """The owner names a change writes at: its record's and its ownership records'."""
    owners = (*change.old, *change.new)
    return {change.name, *(o.owner.name for o in owners), *(o.name for o in change.leftovers)}


def _in_dns(result: TargetResult) -> bool:
    """Whether a pass left every zone as planned: no error, rejection or refusal."""
    return result.ok and all(z.plan is not None and not z.plan.refused for z in result.zones)


def _annotated(problems: Iterable[InvalidInput]) -> str:
    """The problems, each after the field it is in (``annotation ...: why``)."""
    parts = []
    for p in problems:
        place = p.where.split(": ", 1)[1] if ": " in p.where else ""
        parts.append(f"{place}: {p.message}" if place else p.message)
    return "; ".join(parts)


def _error_code(error: DnssyncError) -> str:
    if isinstance(error, ServerRefused):
        return error.tsig_error or error.rcode
    if isinstance(error, DNSTimeout):
        return "TIMEOUT"
    return type(error).__name__.upper()


async def _first_of(wait: Awaitable[set[ObjectRef]], *events: asyncio.Event) -> set[ObjectRef]:
    """The feed's changes, or nothing if one of ``events`` is set first."""
    feed_task = asyncio.ensure_future(wait)
    others = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait({feed_task, *others}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (feed_task, *others):
            if not t.done():
                t.cancel()
        await asyncio.gather(feed_task, *others, return_exceptions=True)
    if feed_task.done() and not feed_task.cancelled() and feed_task.exception() is None:
        return feed_task.result()
    return set()
