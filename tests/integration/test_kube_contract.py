"""Informer contract through the API only: runnable against the fake or a real API server.

Every test takes ``api`` (from the ``kubeconfig`` fixture: the in-repo fake,
then the real kube-apiserver of tests/realkube.py) and works in a namespace of
its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from dnssync.kube.client import api_client
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES
from dnssync.retry import Backoff
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import EndpointView, ObjectIndex, trim
from dnssync.sources.selector import parse_filter
from tests.fakekube import fake_kube
from tests.realkube import ControlPlane

MANAGE = "external-dns.alpha.kubernetes.io/manage"
OPTIONS = SourceOptions(
    annotation_filter=parse_filter(f"{MANAGE}=mdapi"),
    annotation_prefix="external-dns.alpha.kubernetes.io/",
)
_spaces = itertools.count()


@pytest.fixture(params=["fake", "real"])
async def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Path]:
    """A kubeconfig for the fake, then for the real kube-apiserver (admin)."""
    if request.param == "fake":
        async with fake_kube() as kube:
            yield kube.write_kubeconfig(tmp_path)
        return
    plane: ControlPlane = request.getfixturevalue("control_plane")
    yield plane.admin_kubeconfig


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    a = await api_client(kubeconfig)
    async with a:
        yield a


@pytest.fixture
async def namespace(api: client.ApiClient) -> str:
    name = f"contract-{next(_spaces)}-{int(time.time())}"
    core: Any = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": name}})
    return name


def body(name: str, ip: str = "192.0.2.10", **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "annotations": {
                MANAGE: "mdapi",
                "external-dns.alpha.kubernetes.io/hostname": f"{name}.example.test",
                "external-dns.alpha.kubernetes.io/target": ip,
                **annotations,
            },
        },
        "spec": {"ports": [{"port": 80}]},
    }


def names(view: EndpointView) -> dict[str, tuple[str, ...]]:
    return {e.name: e.targets for e in view.endpoints()}


async def until(cond: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not cond():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def informing(
    api: client.ApiClient, namespace: str, **kw: Any
) -> AsyncIterator[tuple[Informer, EndpointView]]:
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    informer = Informer(
        api,
        RESOURCES["service"],
        index,
        namespace=namespace,
        watch_timeout=30,
        shrink=trim,
        backoff=Backoff(initial=0.05, cap=0.5),
        **kw,
    )
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        yield informer, view
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_api_writes_reach_the_endpoint_set(api: client.ApiClient, namespace: str) -> None:
    """Create, patch and delete through the API: the informer's view follows each."""
    core: Any = client.CoreV1Api(api)
    async with informing(api, namespace) as (informer, view):
        await core.create_namespaced_service(namespace, body("web"))
        await until(lambda: names(view) == {"web.example.test": ("192.0.2.10",)})
        patch = {
            "metadata": {"annotations": {"external-dns.alpha.kubernetes.io/target": "192.0.2.11"}}
        }
        await core.patch_namespaced_service("web", namespace, patch)
        await until(lambda: names(view) == {"web.example.test": ("192.0.2.11",)})
        await core.delete_namespaced_service("web", namespace)
        await until(lambda: names(view) == {})
        assert informer.stats.errors == 0


async def test_a_paged_list_sees_every_object(api: client.ApiClient, namespace: str) -> None:
    """Seven objects listed two per page are all in the cache after sync."""
    core: Any = client.CoreV1Api(api)
    for i in range(7):
        await core.create_namespaced_service(namespace, body(f"p{i}"))
    async with informing(api, namespace, page_size=2) as (_informer, view):
        assert len(names(view)) == 7


async def test_a_300_kib_object_is_read_from_list_and_watch(
    api: client.ApiClient, namespace: str
) -> None:
    """Objects far over aiohttp's 128 KiB line limit come through list and watch alike."""
    core: Any = client.CoreV1Api(api)
    blob = {"example.org/blob": "x" * 150_000}
    await core.create_namespaced_service(namespace, body("listed", **blob))
    async with informing(api, namespace) as (informer, view):
        assert "listed.example.test" in names(view)
        await core.create_namespaced_service(namespace, body("watched", **blob))
        await until(lambda: "watched.example.test" in names(view))
        assert informer.stats.errors == 0


async def test_real_api_server_restarts_are_survived(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The real kube-apiserver killed and restarted three times under an informer using the
    shipped ServiceAccount (RBAC on): it lives on, and each new Service reaches it."""
    sa = control_plane.service_account_kubeconfig("dnssync", "dnssync", tmp_path / "sa")
    async with await api_client(control_plane.admin_kubeconfig) as admin:
        core: Any = client.CoreV1Api(admin)
        ns = f"restart-{next(_spaces)}-{int(time.time())}"
        await core.create_namespace({"metadata": {"name": ns}})
        async with await api_client(sa) as api, informing(api, ns) as (informer, view):
            for n in range(3):
                await asyncio.to_thread(control_plane.restart, graceful=False)
                await core.create_namespaced_service(ns, body(f"r{n}"))
                wanted = f"r{n}.example.test"
                await until(lambda: wanted in names(view), within=30)  # noqa: B023
            assert informer.stats.watches > 3
