"""The Event recorder through the real kubernetes-asyncio client, as client-go records.

The tests that need no fault injection use only the API (``api``, from the
``kubeconfig`` fixture: the in-repo fake, then the real kube-apiserver of
tests/realkube.py); those injecting faults take ``kube`` and ``fake_api``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from dnssync.kube.client import api_client
from dnssync.kube.events import EventRecorder
from dnssync.model import ObjectRef
from tests.fakekube import FakeKube, fake_kube
from tests.realkube import ControlPlane

_names = itertools.count()


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


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
async def fake_api(kube: FakeKube, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    """A client of the fake ``kube`` (for faults only the fake can inject)."""
    a = await api_client(kube.write_kubeconfig(tmp_path / "fake"))
    async with a:
        yield a


async def service(api: client.ApiClient) -> dict[str, Any]:
    """A fresh namespace with one Service in it, created through the API."""
    n = next(_names)
    namespace, name = f"ev-{n}-{int(time.time())}", "web"
    core: Any = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": namespace}})
    svc = await core.create_namespaced_service(
        namespace,
        {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}},
        _preload_content=False,
    )
    body: dict[str, Any] = await svc.json()
    return body


def ref(obj: dict[str, Any]) -> ObjectRef:
    return ObjectRef("service", obj["metadata"]["namespace"], obj["metadata"]["name"])


async def events_of(api: client.ApiClient, obj: dict[str, Any]) -> list[Any]:
    core: Any = client.CoreV1Api(api)
    meta = obj["metadata"]
    listed = await core.list_namespaced_event(
        meta["namespace"], field_selector=f"involvedObject.uid={meta['uid']}"
    )
    # Only dnssync's: a real apiserver's own controllers post Events on the same
    # Service (its ClusterIP repair loop's ClusterIPNotAllocated, now and then).
    return [e for e in listed.items if e.source is not None and e.source.component == "dnssync"]


def recorder(api: client.ApiClient, obj: dict[str, Any], **kw: Any) -> EventRecorder:
    results: list[str] = kw.pop("results", [])
    return EventRecorder(
        api, lookup=lambda _ref: obj, on_result=results.append, **{"qps": 100.0, **kw}
    )


async def test_repeats_are_one_event_with_a_count_and_a_complete_involved_object(
    api: client.ApiClient,
) -> None:
    """Three identical Events are one Event, count 3, found by the object's uid."""
    obj = await service(api)
    rec = recorder(api, obj)
    for _ in range(3):
        rec.record(ref(obj), reason="Conflict", message="x.example wins", warning=True)
    rec.record(ref(obj), reason="Published", message="A x.example", warning=False)
    await rec.drain()
    events = {e.reason: e for e in await events_of(api, obj)}
    assert set(events) == {"Conflict", "Published"}
    conflict = events["Conflict"]
    assert conflict.count == 3 and conflict.type == "Warning"
    io = conflict.involved_object
    meta = obj["metadata"]
    assert (io.api_version, io.kind) == ("v1", "Service")
    assert (io.namespace, io.name) == (meta["namespace"], meta["name"])
    assert (io.uid, io.resource_version) == (meta["uid"], meta["resourceVersion"])


async def test_a_restarted_process_raises_the_count_instead_of_a_new_event(
    api: client.ApiClient,
) -> None:
    """Five recorders in turn (five restarts) saying the same thing leave one Event, count 5."""
    obj = await service(api)
    for _ in range(5):
        rec = recorder(api, obj)
        rec.record(ref(obj), reason="Conflict", message="x.example wins", warning=True)
        await rec.drain()
    events = await events_of(api, obj)
    assert [(e.reason, e.count) for e in events] == [("Conflict", 5)]


async def test_record_never_waits_and_a_full_queue_drops(api: client.ApiClient) -> None:
    """Recording 5,000 Events returns at once; beyond the queue they are dropped and counted."""
    obj = await service(api)
    results: list[str] = []
    rec = recorder(api, obj, queue=100, results=results)
    started = time.monotonic()
    for i in range(5000):
        rec.record(ref(obj), reason="Published", message=f"A n{i}.example", warning=False)
    assert time.monotonic() - started < 0.5
    assert results.count("dropped") == 4900
    assert rec.queue.qsize() == 100


async def test_posts_are_rate_limited(api: client.ApiClient) -> None:
    """After the burst, Events go out at the configured rate."""
    obj = await service(api)
    rec = recorder(api, obj, qps=20.0, burst=2)
    for i in range(6):
        rec.record(ref(obj), reason="Published", message=f"A n{i}.example", warning=False)
    started = time.monotonic()
    await rec.drain()
    assert time.monotonic() - started >= 0.18  # 4 beyond the burst at 20/s
    assert len(await events_of(api, obj)) == 6


async def test_a_failed_post_is_retried(fake_api: client.ApiClient, kube: FakeKube) -> None:
    """A 503 while posting is retried, and the Event arrives."""
    api = fake_api
    obj = await service(api)
    results: list[str] = []
    rec = recorder(api, obj, results=results)
    kube.fail_for(503, 0.5, only=lambda method, path: "/events" in path)
    kube.retry_after = "0"
    rec.record(ref(obj), reason="Conflict", message="x.example wins", warning=True)
    await rec.drain()
    assert results == ["created"]
    assert len(await events_of(api, obj)) == 1


async def test_a_refused_post_is_one_log_line_without_headers(
    fake_api: client.ApiClient, kube: FakeKube, caplog: pytest.LogCaptureFixture
) -> None:
    """An Event the API keeps refusing is dropped with one line: no headers, no body dump."""
    api = fake_api
    obj = await service(api)
    results: list[str] = []
    rec = recorder(api, obj, results=results)
    kube.fail_for(403, 60, only=lambda method, path: "/events" in path)
    with caplog.at_level(logging.WARNING, logger="dnssync.kube.events"):
        rec.record(ref(obj), reason="Conflict", message="x.example wins", warning=True)
        await asyncio.wait_for(rec.drain(), 20)
    assert results == ["failed"]
    [line] = [r.getMessage() for r in caplog.records]
    assert "\n" not in line and "header" not in line.lower()
    assert "Conflict" in line and "403 Forbidden" in line


async def test_on_the_real_api_server_with_the_shipped_rbac_describe_shows_one_counted_event(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The shipped ServiceAccount records across two 'restarts': kubectl describe lists one
    Event, count 2 (the uid matches, and the RBAC lets the count be raised)."""
    sa = control_plane.service_account_kubeconfig("dnssync", "dnssync", tmp_path / "sa")
    async with await api_client(control_plane.admin_kubeconfig) as admin:
        obj = await service(admin)
        results: list[str] = []
        async with await api_client(sa) as api:
            for _ in range(2):
                rec = recorder(api, obj, results=results)
                rec.record(ref(obj), reason="Conflict", message="x.example wins", warning=True)
                await rec.drain()
        assert results == ["created", "aggregated"]
        assert [(e.reason, e.count) for e in await events_of(admin, obj)] == [("Conflict", 2)]
    meta = obj["metadata"]
    shown = await asyncio.to_thread(
        control_plane.kubectl, "describe", "service", meta["name"], "-n", meta["namespace"]
    )
    lines = [line for line in shown.stdout.splitlines() if "Conflict" in line]
    assert len(lines) == 1 and "x.example wins" in lines[0]
    assert "(x2 over" in lines[0] or " 2 " in lines[0]
