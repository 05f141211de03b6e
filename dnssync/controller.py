"""Reconciling one target: read each zone, plan, apply, report.

A :class:`Target` is built once from its :class:`~dnssync.config.TargetConfig`
(clients, zone readers with their caches, registry, planner options) and then
reconciled as often as needed: by the CLI once, by the service on every
change and on a period.  An UPDATE that timed out has an unknown outcome: the
zone is re-read and the plan recomputed before anything is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from dnssync.config import TargetConfig
from dnssync.errors import DnssyncError, DNSTimeout
from dnssync.model import Endpoint, Plan, Skipped
from dnssync.plan import PlanOptions, plan, split_by_zone
from dnssync.registry import Registry, RegistryOptions
from dnssync.rfc2136 import applier
from dnssync.rfc2136.client import Client, Timeouts
from dnssync.rfc2136.zones import ZoneReader
from dnssync.sources.annotations import SourceOptions, parse_filter

log = logging.getLogger(__name__)

#: How often an apply whose outcome is unknown is re-planned and retried.
UNKNOWN_OUTCOME_RETRIES = 2


@dataclass(slots=True)
class ZoneResult:
    """What one reconcile did to one zone."""

    zone: str
    plan: Plan | None = None
    transfer: str = ""  # none / ixfr / axfr
    applied: applier.ApplyResult | None = None
    error: DnssyncError | None = None

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


def source_options(cfg: TargetConfig) -> SourceOptions:
    return SourceOptions(
        annotation_filter=parse_filter(cfg.annotation_filter) if cfg.annotation_filter else None,
        default_targets=cfg.default_targets,
        ingress_tls_hosts=cfg.ingress_tls_hosts,
        publish_internal=cfg.publish_internal,
    )


class Target:
    """The live parts of one configured target."""

    def __init__(self, cfg: TargetConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        timeouts = Timeouts(query=cfg.server.timeout, transfer=cfg.server.transfer_timeout)
        key = cfg.key.tsig() if cfg.key else None
        label = f"target {cfg.name} ({cfg.server.host}:{cfg.server.port})"
        self.client = Client(
            cfg.server.host, cfg.server.port, key=key, timeouts=timeouts, label=label
        )
        xfr_key = cfg.transfer_key.tsig() if cfg.transfer_key else key
        self.transfer_client = (
            self.client
            if cfg.transfer_key is None
            else Client(
                cfg.server.host, cfg.server.port, key=xfr_key, timeouts=timeouts, label=label
            )
        )
        self.readers = {z: ZoneReader(self.transfer_client, z) for z in cfg.zones}
        self.registry = Registry(
            RegistryOptions(
                owner_id=cfg.owner_id,
                prefix=cfg.txt_prefix,
                suffix=cfg.txt_suffix,
                wildcard_replacement=cfg.txt_wildcard_replacement,
                encryption_key=cfg.encryption_key(),
            )
        )
        self.plan_options = PlanOptions(
            policy=cfg.policy,
            default_ttl=cfg.ttl.default,
            min_ttl=cfg.ttl.min,
            max_ttl=cfg.ttl.max,
            max_change_ratio=cfg.max_change_ratio,
        )
        self.source_options = source_options(cfg)

    async def reconcile(
        self,
        endpoints: Iterable[Endpoint],
        *,
        apply: bool,
        force: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> TargetResult:
        """Plan every zone of the target and, if ``apply``, carry the plans out."""
        by_zone, outside = split_by_zone(endpoints, self.cfg.zones)
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
        for zone, eps in by_zone.items():
            zr = ZoneResult(zone)
            result.zones.append(zr)
            try:
                await self._zone(zr, eps, options, apply=apply, progress=progress)
            except DnssyncError as e:
                log.error("target %s zone %s: %s", self.name, zone, e)
                zr.error = e
        return result

    async def _zone(
        self,
        zr: ZoneResult,
        eps: list[Endpoint],
        options: PlanOptions,
        *,
        apply: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        reader = self.readers[zr.zone]
        for attempt in range(UNKNOWN_OUTCOME_RETRIES + 1):
            read = await reader.read()
            zr.transfer = read.transfer if attempt == 0 else zr.transfer
            zr.plan = plan(eps, read.snapshot, self.registry, options)
            if not apply or not zr.plan.changes:
                return
            try:
                applied = await applier.apply(
                    self.client, zr.zone, zr.plan.changes, progress=progress
                )
            except DNSTimeout:
                reader.mark_written()
                if attempt == UNKNOWN_OUTCOME_RETRIES:
                    raise
                log.warning("zone %s: UPDATE outcome unknown; re-reading before retrying", zr.zone)
                continue
            reader.mark_written()
            zr.applied = applied
            return
