"""Runs the ACME side on its own: webhook (every replica) and Challenge watcher.

``dnssync webhook`` uses :func:`run`; the full application can call it
beside its other tasks, passing its Kubernetes client, its metrics registry
and its leader check (only the Lease holder writes from the watcher).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from dnssync.acme import challenges
from dnssync.acme.solver import Solver
from dnssync.acme.webhook import Webhook
from dnssync.config import Config
from dnssync.errors import ConfigError
from dnssync.retry import Pulse


async def run(
    cfg: Config,
    *,
    api: Any = None,
    registry: CollectorRegistry = REGISTRY,
    is_leader: Callable[[], bool] = lambda: True,
    pulse: Pulse | None = None,
) -> None:
    """Serve the webhook and run the watcher (as configured) until cancelled.

    ``pulse``: the one shared by the other informers of ``api`` (a new one
    for a client of our own).
    """
    acme = cfg.acme
    if acme is None:
        raise ConfigError("no 'acme' section in the configuration")
    if not acme.webhook.enabled and not acme.challenges.enabled:
        raise ConfigError("acme: both webhook and challenges are disabled: nothing to run")
    needs_api = acme.challenges.enabled or (
        acme.webhook.enabled and acme.webhook.client_ca_file is None
    )
    own_api = None
    grace = cfg.kubernetes.refusal_grace
    if api is None and needs_api:
        from dnssync.kube.client import api_client

        api = own_api = await api_client(cfg.kubernetes.kubeconfig, context=cfg.kubernetes.context)
    try:
        solver = Solver(acme)
        async with asyncio.TaskGroup() as tg:
            if acme.webhook.enabled:
                hook = Webhook.from_config(
                    acme, solver, api=api, registry=registry, api_grace=grace
                )
                tg.create_task(hook.serve_forever(), name="acme-webhook")
            if acme.challenges.enabled:
                watcher = challenges.from_config(
                    solver,
                    api,
                    is_leader=is_leader,
                    registry=registry,
                    api_grace=grace,
                    pulse=pulse or Pulse(),
                )
                tg.create_task(watcher.run(), name="acme-challenges")
    finally:
        if own_api is not None:
            with contextlib.suppress(Exception):
                await own_api.close()
