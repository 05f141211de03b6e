"""A faithful in-process fake of the Kubernetes API server for integration tests.

No kube-apiserver ships as a package, so tests talk through the real
kubernetes-asyncio client to `FakeKube` (server.py), which reproduces the
protocol facts in REFERENCE.md §4. `fake_kube()` is the async context manager
test modules wrap in a fixture.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from .errors import ApiError
from .resources import DEFAULT_RESOURCES, JsonObj, ResourceType
from .server import RESTART_RV_JUMP, FakeKube
from .store import Store

__all__ = [
    "DEFAULT_RESOURCES",
    "RESTART_RV_JUMP",
    "ApiError",
    "FakeKube",
    "JsonObj",
    "ResourceType",
    "Store",
    "fake_kube",
]


@asynccontextmanager
async def fake_kube(
    resources: Iterable[ResourceType] = DEFAULT_RESOURCES,
    *,
    ssl_context: ssl.SSLContext | None = None,
    require_token: bool = False,
) -> AsyncIterator[FakeKube]:
    """Start a FakeKube on a free loopback port for the duration of the block.

    When the block succeeds but the fake itself hit an unexpected exception
    (answered as a 500), that is raised here: a bug in the fake must not pass
    for a fault the code under test handled.
    """
    async with FakeKube(
        resources=resources, ssl_context=ssl_context, require_token=require_token
    ) as kube:
        yield kube
    if kube.internal_errors:
        raise RuntimeError(f"FakeKube had internal errors: {kube.internal_errors!r}")
