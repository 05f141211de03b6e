"""``dnssync run``: the whole service in one TaskGroup of named tasks.

Config enters once; from it come the targets, the sources (Kubernetes
informers or a manifests directory), leader election, the HTTP server for
probes and metrics, one reconcile loop per target, and the ACME side
(webhook on every replica, Challenge watcher writing only as leader).
SIGTERM (or SIGINT) sets ``stopping``: each loop finishes the pass it is in
-- an UPDATE in flight completes -- and returns; leader election releases
the Lease (before the API client closes, so a follower takes over at once);
then the rest is cancelled and the process exits 0.  A task that fails for
good (a lasting Kubernetes refusal, say) ends the group, and with it the
process, with a clear message: watchers never die quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from dnssync.config import Config
from dnssync.controller import EndpointFeed, Loop, LoopOptions, Recorder, Target
from dnssync.errors import InvalidInput, KubeError
from dnssync.http import Health, make_app, serve
from dnssync.kinds import WATCHED, with_needs
from dnssync.metrics import Metrics
from dnssync.model import Endpoint
from dnssync.retry import Pulse

if TYPE_CHECKING:
    from dnssync.sources.index import EndpointView, ObjectIndex

log = logging.getLogger(__name__)


Factory = Callable[[], Coroutine[Any, Any, None]]


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
        self.api: Any = None
        #: Shared by every informer of ``self.api`` (sources and Challenges).
        self.pulse = Pulse()
        self.elector: Any = None  # a LeaderElector when leader election runs
        self.recorder: Recorder | None = None
        #: Per target: told after a pass that put its inputs in DNS (status writes).
        self.applied: dict[str, Callable[[], None]] = {}
        #: Run when the service stops (a manifests feed's file watch).
        self._closing: list[Callable[[], Awaitable[None]]] = []

    def stop(self) -> None:
        self.stopping.set()

    def _leadership_changed(self, leading: bool) -> None:
        self.metrics.leader.set(1 if leading else 0)
        if leading:
            for lp in self.loops:
                lp.poke()

    def _kube_state(self, component: str) -> Callable[[KubeError | None], None]:
        """What a Kubernetes component reports goes to /readyz and the metrics."""
        failing = self.metrics.kube_failing.labels(component)
        failing.set(0)

        def report(error: KubeError | None) -> None:
            self.health.state(component, None if error is None else str(error))
            failing.set(0 if error is None else 1)
            if error is not None:
                self.metrics.kube_errors.labels(component, type(error).__name__).inc()

        return report

    async def _kube(
        self, feeds: dict[str, EndpointFeed], background: list[tuple[str, Factory]]
    ) -> None:
        """Informers, leader election and the Event recorder, sharing one API client."""
        from dnssync.kube.client import api_client
        from dnssync.kube.events import EventRecorder
        from dnssync.kube.informer import Informer
        from dnssync.kube.resources import RESOURCES
        from dnssync.sources.index import ObjectIndex, trim

        cfg = self.cfg
        kcfg = cfg.kubernetes
        self.api = api = await api_client(kcfg.kubeconfig, context=kcfg.context)
        index = ObjectIndex()
        views = {t.name: index.view(t.source_options, t.cfg.source_refs) for t in self.targets}
        feeds.update(views)
        namespaces: list[str | None] = list(kcfg.namespaces) or [None]
        for kind in with_needs(k for t in cfg.targets for k in t.source_refs):
            for ns in namespaces if WATCHED[kind].namespaced else [None]:
                label = RESOURCES[kind].plural + (f" in {ns}" if ns else "")
                informer = Informer(
                    api,
                    RESOURCES[kind],
                    index,
                    namespace=ns,
                    watch_timeout=kcfg.watch_timeout,
                    inactivity=kcfg.watch_timeout + 30,
                    grace=kcfg.refusal_grace,
                    on_state=self._kube_state(f"source {label}"),
                    shrink=trim,
                    pulse=self.pulse,
                )
                self.health.source_synced(informer.name, False)
                background.append((f"informer {informer.name}", partial(self._inform, informer)))
        self._elect(api, background)
        self._status(api, index, views, background)
        if kcfg.events:
            events = self.metrics.events
            recorder = EventRecorder(
                api,
                lookup=index.objects.get,
                qps=kcfg.events_qps,
                burst=kcfg.events_burst,
                on_result=lambda result: events.labels(result).inc(),
            )
            self.recorder = recorder
            background.append(("events", recorder.run))

    def _status(
        self,
        api: Any,
        index: ObjectIndex,
        views: dict[str, EndpointView],
        background: list[tuple[str, Factory]],
    ) -> None:
        """``status.observedGeneration`` for the kinds that want it (DNSEndpoints)."""
        from dnssync.kube.status import WRITES_STATUS, StatusWriter

        wanting = [t for t in self.targets if t.cfg.source_refs & WRITES_STATUS]
        if not wanting:
            return
        writer = StatusWriter(api, lookup=index.objects.get)
        for target in wanting:
            self.applied[target.name] = partial(writer.applied, views[target.name].refs)
        background.append(("status", writer.run))

    def _elect(self, api: Any, background: list[tuple[str, Factory]]) -> None:
        from dnssync.kube.leader import LeaderElector, LeaseOptions

        le = self.cfg.leader_election
        if not le.enabled:
            return
        self.elector = LeaderElector(
            api,
            LeaseOptions(
                name=le.lease_name,
                namespace=le.namespace,
                duration=le.duration,
                renew_deadline=le.renew_deadline,
                retry_period=le.retry_period,
            ),
            on_change=self._leadership_changed,
            on_state=self._kube_state("leader election"),
        )
        background.append(("leader election", partial(self.elector.run, self.stopping)))

    def _loop(self, target: Target, feed: EndpointFeed) -> Loop:
        base = self.cfg.reconcile
        return Loop(
            target,
            feed,
            metrics=self.metrics,
            health=self.health,
            leadership=self.elector,
            recorder=self.recorder,
            options=LoopOptions(
                debounce=base.debounce,
                interval=target.cfg.interval,
                full_read_every=base.full_read_every,
                backoff_max=base.backoff_max,
            ),
            on_applied=self.applied.get(target.name),
        )

    async def run(self) -> None:
        cfg = self.cfg
        # The port first: a port in use is one clear line, before anything started.
        runner = await serve(make_app(self.health, self.metrics), cfg.http.host, cfg.http.port)
        # The bound port (the config may ask for 0: any free one).
        self.http_port = int(runner.addresses[0][1]) if runner.addresses else cfg.http.port
        _log_start(cfg, self.http_port)
        uses_kube = cfg.manifests is None and bool(cfg.targets)
        feeds: dict[str, EndpointFeed] = {}
        background: list[tuple[str, Factory]] = []
        try:
            if uses_kube:
                await self._kube(feeds, background)
            elif self.targets:  # an ACME-only replica (no targets) has no sources to read
                self._manifests(feeds)
            self._acme(background)
            self.loops = [self._loop(t, feeds[t.name]) for t in self.targets]
            await self._serve(background, wait_synced=uses_kube)
        finally:
            for close in self._closing:
                await close()
            if self.elector is not None:
                await self.elector.release()  # before the connections close
            await runner.cleanup()
            if self.api is not None:
                await self.api.close()

    def _manifests(self, feeds: dict[str, EndpointFeed]) -> None:
        from dnssync.sources.manifestfeed import ManifestFeed

        assert self.cfg.manifests is not None
        reconcile = self.cfg.reconcile
        for target in self.targets:
            feed = ManifestFeed(
                self.cfg.manifests,
                target.source_options,
                poll=reconcile.manifests_poll,
                watch=reconcile.manifests_watch,
            )
            feeds[target.name] = feed
            self._closing.append(feed.close)
        # The parsed tree lives as long as the service: out of the collector's sight, a
        # full collection no longer walks it (at 10k objects one cost 0.3 s, mid-reload).
        gc.collect()
        gc.freeze()

    def _acme(self, background: list[tuple[str, Factory]]) -> None:
        if self.cfg.acme is None:
            return
        from dnssync.acme import service as acme_service

        elector = self.elector
        is_leader = elector.is_leader if elector is not None else (lambda: True)
        background.append(
            (
                "acme",
                partial(
                    acme_service.run,
                    self.cfg,
                    api=self.api,
                    registry=self.metrics.registry,
                    is_leader=is_leader,
                    pulse=self.pulse,
                ),
            )
        )

    async def _serve(self, background: list[tuple[str, Factory]], *, wait_synced: bool) -> None:
        async with asyncio.TaskGroup() as tg:
            bg = {name: tg.create_task(start(), name=name) for name, start in background}
            if wait_synced:
                await self._synced()
            loops = [
                tg.create_task(lp.run(self.stopping), name=f"reconcile {lp.target.name}")
                for lp in self.loops
            ]
            # Without targets (an ACME-only replica) nothing else ends the run.
            await asyncio.gather(*loops, self.stopping.wait())
            # Loops are done (stopping): leader election sees it, releases the
            # lease and returns; then the watchers go.
            election = bg.pop("leader election", None)
            if election is not None:
                await asyncio.wait([election], timeout=self.cfg.leader_election.retry_period + 3)
            for task in bg.values():
                task.cancel()

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
        how = (
            "watched"
            if cfg.reconcile.manifests_watch
            else f"polled every {cfg.reconcile.manifests_poll:g} s"
        )
        sources = f"manifests {cfg.manifests} ({how})"
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


@dataclass(frozen=True, slots=True)
class Desired:
    """What one target's sources ask for, read once."""

    endpoints: list[Endpoint]
    errors: list[InvalidInput]


async def desired(cfg: Config, targets: Sequence[Target]) -> dict[str, Desired]:
    """The one-shot source (``plan``, ``sync --once``): the manifests directory if
    set, else one list of the cluster -- no watch, nothing kept running."""
    if cfg.manifests is not None:
        from dnssync.sources.manifests import load_manifests

        out: dict[str, Desired] = {}
        for target in targets:
            loaded = load_manifests(cfg.manifests, target.source_options)
            kinds = target.cfg.source_refs
            eps = [e for e in loaded.endpoints if e.source.kind in kinds]
            out[target.name] = Desired(eps, list(loaded.errors))
        return out
    return await _listed(cfg, targets)


async def _listed(cfg: Config, targets: Sequence[Target]) -> dict[str, Desired]:
    from dnssync.kube.client import api_client
    from dnssync.kube.informer import Informer
    from dnssync.kube.resources import RESOURCES
    from dnssync.sources.index import ObjectIndex, trim

    kcfg = cfg.kubernetes
    index = ObjectIndex()
    views = {t.name: index.view(t.source_options, t.cfg.source_refs) for t in targets}
    kinds = with_needs(k for t in targets for k in t.cfg.source_refs)
    namespaces: list[str | None] = list(kcfg.namespaces) or [None]
    api = await api_client(kcfg.kubeconfig, context=kcfg.context)
    try:
        for kind in kinds:
            for ns in namespaces if WATCHED[kind].namespaced else [None]:
                await Informer(api, RESOURCES[kind], index, namespace=ns, shrink=trim).list_once()
    finally:
        await api.close()
    return {name: Desired(list(v.endpoints()), list(v.errors())) for name, v in views.items()}


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
