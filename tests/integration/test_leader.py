"""Lease-based leader election against the fake API through the real client.

Tests taking only ``api`` (from the ``kubeconfig`` fixture: the in-repo fake,
then the real kube-apiserver of tests/realkube.py) use nothing but the API;
those taking ``kube`` and ``fake_api`` inject faults into the fake.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from dnssync.errors import KubeRefused, KubeUnavailable
from dnssync.kube.client import api_client
from dnssync.kube.leader import LeaderElector, LeaseOptions
from tests.fakekube import FakeKube, fake_kube
from tests.realkube import ControlPlane

OPTIONS = LeaseOptions(name="dnssync", namespace="default", duration=10, renew_deadline=5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


@pytest.fixture(params=["fake", "real"])
async def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Path]:
    """A kubeconfig for the fake, then for the real kube-apiserver (admin)."""
    if request.param == "fake":
        async with fake_kube() as kube:
            yield kube.write_kubeconfig(tmp_path / "kubeconfig")
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


async def lease_spec(api: client.ApiClient, name: str) -> dict[str, Any]:
    """The Lease's spec, read through the API (so it works on any server)."""
    lease: Any = await client.CoordinationV1Api(api).read_namespaced_lease(name, "default")
    return {
        "holderIdentity": lease.spec.holder_identity or "",
        "leaseTransitions": lease.spec.lease_transitions,
    }


_leases = itertools.count()


@pytest.fixture
def lease() -> str:
    """A Lease name of this test's own (a real API server is shared by the tests)."""
    return f"dnssync-{next(_leases)}-{int(time.time())}"


def elector(api: client.ApiClient, name: str, clock: Clock, lease: str) -> LeaderElector:
    return LeaderElector(api, replace(OPTIONS, name=lease, identity=name), clock=clock)


async def test_only_one_of_two_racing_replicas_wins(api: client.ApiClient, lease: str) -> None:
    """Two replicas acquiring at once: the create/409 race leaves exactly one leader."""
    clock = Clock()
    a, b = elector(api, "a", clock, lease), elector(api, "b", clock, lease)
    results = await asyncio.gather(a.try_once(), b.try_once())
    assert sorted(results) == [False, True]
    assert a.is_leader() != b.is_leader()


async def test_follower_waits_for_expiry_then_takes_over(api: client.ApiClient, lease: str) -> None:
    """A follower takes over only after the holder stopped renewing for a lease duration."""
    clock = Clock()
    a, b = elector(api, "a", clock, lease), elector(api, "b", clock, lease)
    assert await a.try_once()
    assert not await b.try_once()
    clock.now += 5
    assert await a.try_once()  # renewed: the record changes, b starts counting again
    assert not await b.try_once()
    clock.now += 9
    assert not await b.try_once()
    clock.now += 2
    assert await b.try_once()
    spec = await lease_spec(api, lease)
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert not a.is_leader() or clock.now - a._last_renew <= OPTIONS.renew_deadline
    clock.now += 6
    assert not a.is_leader()  # could not renew within the deadline: steps down


async def test_release_hands_over_at_once(api: client.ApiClient, lease: str) -> None:
    """A released lease is taken by the next replica without waiting for expiry."""
    clock = Clock()
    a, b = elector(api, "a", clock, lease), elector(api, "b", clock, lease)
    assert await a.try_once()
    assert not await b.try_once()
    await a.release()
    assert not a.is_leader()
    clock.now += 1.5  # the released lease lasts 1 s
    assert await b.try_once()


def leases(method: str, path: str) -> bool:
    return "/leases" in path


async def running_election(
    api: client.ApiClient, lease: str
) -> tuple[LeaderElector, asyncio.Event, asyncio.Task[None], list[object]]:
    states: list[object] = []
    opts = LeaseOptions(
        name=lease, namespace="default", duration=3, renew_deadline=2, retry_period=0.1
    )
    e = LeaderElector(api, replace(opts, identity="runner"), on_state=states.append)
    stopping = asyncio.Event()
    return e, stopping, asyncio.create_task(e.run(stopping)), states


async def _until(cond: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not cond():
            await asyncio.sleep(0.01)


async def test_a_failed_renewal_steps_down_at_once_and_recovers(
    fake_api: client.ApiClient, kube: FakeKube, lease: str
) -> None:
    """One failed renewal (a 500) stops writing at once; the next good round leads again."""
    api = fake_api
    e, stopping, task, states = await running_election(api, lease)
    try:
        await _until(e.is_leader)
        kube.fail_for(500, 0.5, only=leases)
        await _until(lambda: not e.is_leader(), within=1.0)
        await _until(e.is_leader, within=3.0)
        assert any(isinstance(s, KubeUnavailable) for s in states)
        assert states[-1] is None
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


async def test_disconnects_do_not_end_the_election(
    fake_api: client.ApiClient, kube: FakeKube, lease: str
) -> None:
    """A connection closed without an answer (ServerDisconnectedError) is one failed round."""
    api = fake_api
    e, stopping, task, _states = await running_election(api, lease)
    try:
        await _until(e.is_leader)
        kube.disconnect_filter = leases
        kube.disconnect_next = 4
        await _until(lambda: kube.disconnect_next == 0, within=5.0)
        await _until(e.is_leader, within=3.0)
        assert not task.done()
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


async def test_missing_lease_rbac_is_reported_not_silent(
    fake_api: client.ApiClient, kube: FakeKube, lease: str
) -> None:
    """403 on leases: never leading, and the refusal reported (for /readyz and metrics)."""
    api = fake_api
    kube.fail_for(403, 60, only=leases)
    e, stopping, task, states = await running_election(api, lease)
    try:
        await _until(lambda: len(states) >= 2)
        assert not e.is_leader()
        assert all(isinstance(s, KubeRefused) for s in states)
        assert f"lease default/{lease}: 403" in e.error and "RBAC" in e.error
    finally:
        stopping.set()
        await asyncio.wait_for(task, 5)


async def test_stopping_releases_the_lease_before_returning(
    api: client.ApiClient, lease: str
) -> None:
    """run() returns only after the holder is cleared, so a follower need not wait."""
    e, stopping, task, _states = await running_election(api, lease)
    await _until(e.is_leader)
    stopping.set()
    await asyncio.wait_for(task, 5)
    assert (await lease_spec(api, lease))["holderIdentity"] == ""
