"""``/healthz``, ``/readyz`` and ``/metrics`` over plain HTTP (aiohttp).

``/healthz`` says the process is alive (the event loop answers).
``/readyz`` is 200 only when every source has synced its cache and can be
read, every other component this replica depends on (leader election)
works, every target's last reconcile succeeded -- a failure shorter than
``grace`` seconds is tolerated, so one blip does not flap readiness -- and
no zone's plan is refused by the safety gate (a refusal needs a person, so
it is not ready until the plan is forced or the sources fixed).  503
otherwise, with a JSON body naming what is not ready and why.  ``/metrics``
is the Prometheus text format.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dnssync.errors import ServeFailed
from dnssync.metrics import Metrics


@dataclass(slots=True)
class _TargetHealth:
    ok: bool = False
    last_success: float | None = None
    error: str = ""


@dataclass(slots=True)
class Health:
    """What readiness is computed from; written by the controller and sources."""

    grace: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sources: dict[str, bool] = field(default_factory=dict)
    targets: dict[str, _TargetHealth] = field(default_factory=dict)
    refusals: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Sources and components failing now: name -> (since, why).
    failing: dict[str, tuple[float, str]] = field(default_factory=dict)

    def expect_target(self, name: str) -> None:
        self.targets.setdefault(name, _TargetHealth(error="not reconciled yet"))

    def source_synced(self, name: str, synced: bool) -> None:
        self.sources[name] = synced

    def state(self, name: str, error: str | None) -> None:
        """``name`` (a ``source ...`` or a component) fails with ``error``, or works (None)."""
        if error is None:
            self.failing.pop(name, None)
        else:
            since = self.failing.get(name, (self.clock(), ""))[0]
            self.failing[name] = (since, error)

    def reconciled(self, target: str, *, ok: bool, error: str = "") -> None:
        th = self.targets.setdefault(target, _TargetHealth())
        th.ok = ok
        th.error = error
        if ok:
            th.last_success = self.clock()

    def refused(self, target: str, zone: str, reason: str) -> None:
        """The safety gate's refusal of the zone's plan ('' when it passes again)."""
        if reason:
            self.refusals[(target, zone)] = reason
        else:
            self.refusals.pop((target, zone), None)

    def status(self) -> tuple[bool, dict[str, object]]:
        problems: dict[str, str] = {}
        for name, synced in sorted(self.sources.items()):
            if not synced:
                problems[f"source {name}"] = "cache not synced"
        now = self.clock()
        for name, (since, error) in sorted(self.failing.items()):
            if now - since >= self.grace:
                problems[name] = error
        for name, th in sorted(self.targets.items()):
            if th.ok:
                continue
            if th.last_success is not None and now - th.last_success < self.grace:
                continue
            problems[f"target {name}"] = th.error or "failing"
        for (target, zone), reason in sorted(self.refusals.items()):
            problems[f"target {target} zone {zone}"] = f"plan refused: {reason}"
        return not problems, {"ready": not problems, "problems": problems}


def make_app(health: Health, metrics: Metrics) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        ready, body = health.status()
        return web.json_response(body, status=200 if ready else 503)

    async def metrics_view(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller cleans up the returned runner.

    A port that cannot be bound is a configuration error, said in one line.
    """
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        reason = (e.strerror or str(e)).rpartition(": ")[2]  # asyncio repeats the address
        raise ServeFailed(f"cannot listen on {host}:{port}: {reason}") from None
    return runner
