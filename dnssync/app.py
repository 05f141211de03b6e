"""``dnssync run``: the whole service in one TaskGroup of named tasks.

Config enters once; from it come the targets, the sources (Kubernetes
informers or a manifests directory), leader election, the HTTP server for
probes and metrics, one reconcile loop per target, and the ACME side
(webhook on every replica, Challenge watcher writing only as leader).  SIGTERM (or SIGINT)
sets ``stopping``: each loop finishes the pass it is in -- an UPDATE in
flight completes -- and returns; then the rest is cancelled and the process
exits 0.  A task that fails for good (a permanent Kubernetes error, say)
ends the group, and with it the process, with a clear message: watchers
never die quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from dnssync.config import Config
from dnssync.controller import EndpointFeed, Leadership, Loop, LoopOptions, Target
from dnssync.http import Health, make_app, serve
from dnssync.metrics import Metrics

log = logging.getLogger(__name__)


class App:
    """The assembled service; ``run()`` until stopped."""

    def __init__(self, cfg: Config, *, metrics: Metrics | None = None) -> None:
        self.cfg = cfg
        self.metrics = metrics or Metrics()
        self.health = Health(grace=cfg.reconcile.readiness_grace)
        self.stopping = asyncio.Event()
        self.targets = [Target(t) for t in cfg.targets]
        self.loops: list[Loop] = []
        self.http_port = 0

    def stop(self) -> None:
        self.stopping.set()

    def _leadership_changed(self, leading: bool) -> None:
        self.metrics.leader.set(1 if leading else 0)
        if leading:
            for lp in self.loops:
                lp.poke()

    async def run(self) -> None:
        cfg = self.cfg
        # Listening first: a port in use fails before any client or task exists.
        runner = await serve(make_app(self.health, self.metrics), cfg.http.host, cfg.http.port)
        # The bound port (the config may ask for 0: any free one).
        self.http_port = int(runner.addresses[0][1]) if runner.addresses else cfg.http.port
        try:
            await self._run()
        finally:
            await runner.cleanup()

    async def _run(self) -> None:
        cfg = self.cfg
        loop_options_base = cfg.reconcile
        _log_start(cfg, self.http_port)
        uses_kube = cfg.manifests is None and bool(cfg.targets)
        api = None
        feeds: dict[str, EndpointFeed] = {}
        leadership: Leadership | None = None
        recorder = None
        background: list[tuple[str, Coroutine[Any, Any, None]]] = []
        if uses_kube:
            from dnssync.events import KubeRecorder
            from dnssync.leader import LeaderElector, LeaseOptions
            from dnssync.sources.index import ObjectIndex
            from dnssync.sources.kube import RESOURCES, Informer, api_client

            api = await api_client(cfg.kubernetes.kubeconfig, context=cfg.kubernetes.context)
            index = ObjectIndex()
            kinds = sorted({k for t in cfg.targets for k in t.sources})
            for target in self.targets:
                feeds[target.name] = index.view(target.source_options, target.cfg.sources)
            namespaces: list[str | None] = list(cfg.kubernetes.namespaces) or [None]
            for kind in kinds:
                for ns in namespaces:
                    informer = Informer(
                        api,
                        RESOURCES[kind],
                        index,
                        namespace=ns,
                        watch_timeout=cfg.kubernetes.watch_timeout,
                        inactivity=cfg.kubernetes.watch_timeout + 30,
                    )
                    self.health.source_synced(informer.name, False)
                    background.append((f"informer {informer.name}", self._inform(informer)))
            le = cfg.leader_election
            if le.enabled:
                elector = LeaderElector(
                    api,
                    LeaseOptions(
                        name=le.lease_name,
                        namespace=le.namespace,
                        duration=le.duration,
                        renew_deadline=le.renew_deadline,
                        retry_period=le.retry_period,
                    ),
                    on_change=self._leadership_changed,
                )
                leadership = elector
                background.append(("leader election", elector.run(self.stopping)))
            if cfg.kubernetes.events:
                recorder = KubeRecorder(api)
        else:
            from dnssync.sources.manifests import ManifestFeed

            assert cfg.manifests is not None
            for target in self.targets:
                feeds[target.name] = ManifestFeed(
                    cfg.manifests, target.source_options, poll=cfg.reconcile.manifests_poll
                )
        if cfg.acme is not None:
            from dnssync.acme import service as acme_service

            is_leader = leadership.is_leader if leadership is not None else (lambda: True)
            background.append(
                (
                    "acme",
                    acme_service.run(
                        cfg, api=api, registry=self.metrics.registry, is_leader=is_leader
                    ),
                )
            )
        try:
            for target in self.targets:
                self.loops.append(
                    Loop(
                        target,
                        feeds[target.name],
                        metrics=self.metrics,
                        health=self.health,
                        leadership=leadership,
                        recorder=recorder,
                        options=LoopOptions(
                            debounce=loop_options_base.debounce,
                            interval=target.cfg.interval,
                            full_read_every=loop_options_base.full_read_every,
                            backoff_max=loop_options_base.backoff_max,
                        ),
                    )
                )
            async with asyncio.TaskGroup() as tg:
                bg = [tg.create_task(coro, name=name) for name, coro in background]
                if uses_kube:
                    await self._synced()
                loops = [
                    tg.create_task(lp.run(self.stopping), name=f"reconcile {lp.target.name}")
                    for lp in self.loops
                ]
                # Without targets (an ACME-only replica) nothing else ends the run.
                await asyncio.gather(*loops, self.stopping.wait())
                # Loops are done (stopping): the watchers and the lease go now;
                # the elector releases its lease on the way out.
                for task in bg:
                    task.cancel()
        finally:
            if api is not None:
                await api.close()

    async def _inform(self, informer: Any) -> None:
        async def mark() -> None:
            await informer.synced.wait()
            self.health.source_synced(informer.name, True)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(mark(), name=f"{informer.name} synced")
            await informer.run()

    async def _synced(self) -> None:
        """Reconcile only once every informer has listed (no partial desired set)."""
        while not all(self.health.sources.values()):
            if self.stopping.is_set():
                return
            await asyncio.sleep(0.01)


def _log_start(cfg: Config, port: int) -> None:
    """One line per target, one for the sources, the ACME side and the HTTP server."""
    if cfg.manifests is not None:
        sources = f"manifests {cfg.manifests} (polled every {cfg.reconcile.manifests_poll:g} s)"
    else:
        namespaces = ", ".join(cfg.kubernetes.namespaces) or "all namespaces"
        sources = f"Kubernetes API ({namespaces})"
    for t in cfg.targets:
        log.info(
            "target %s: server %s:%d, zones %s, policy %s, sources %s from %s, owner %s",
            t.name,
            t.server.host,
            t.server.port,
            ", ".join(t.zones),
            t.policy.value,
            "+".join(t.sources),
            sources,
            t.owner_id,
        )
    if cfg.acme is not None:
        log.info("acme: %s", describe_acme(cfg))
    log.info("http: listening on %s:%d (/healthz /readyz /metrics)", cfg.http.host, port)


def describe_acme(cfg: Config) -> str:
    """The ACME side in one line: servers and zones, webhook address, watcher."""
    acme = cfg.acme
    if acme is None:
        return "off"
    servers = "; ".join(
        f"{s.name} {s.server.host}:{s.server.port} ({', '.join(s.zones) or 'zones by SOA'})"
        for s in acme.servers
    )
    w = acme.webhook
    hook = f"webhook on {w.host}:{w.port}" if w.enabled else "webhook off"
    watcher = "Challenge watcher on" if acme.challenges.enabled else "Challenge watcher off"
    return f"servers {servers}; {hook}; {watcher}"


def run(cfg: Config) -> int:
    """Run the service until SIGTERM/SIGINT; 0 on a clean stop."""

    async def main() -> None:
        app = App(cfg)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, app.stop)
        await app.run()

    asyncio.run(main())
    return 0
