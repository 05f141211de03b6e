"""Lease-based leader election against the fake API through the real client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from dnssync.leader import LeaderElector, LeaseOptions
from dnssync.sources.kube import api_client
from tests.fakekube import FakeKube, fake_kube

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


@pytest.fixture
async def api(kube: FakeKube, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    a = await api_client(kube.write_kubeconfig(tmp_path / "kubeconfig"))
    async with a:
        yield a


def elector(api: client.ApiClient, name: str, clock: Clock) -> LeaderElector:
    return LeaderElector(api, replace(OPTIONS, identity=name), clock=clock)


async def test_only_one_of_two_racing_replicas_wins(api: client.ApiClient) -> None:
    """Two replicas acquiring at once: the create/409 race leaves exactly one leader."""
    clock = Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    results = await asyncio.gather(a.try_once(), b.try_once())
    assert sorted(results) == [False, True]
    assert a.is_leader() != b.is_leader()


async def test_follower_waits_for_expiry_then_takes_over(
    api: client.ApiClient, kube: FakeKube
) -> None:
    """A follower takes over only after the holder stopped renewing for a lease duration."""
    clock = Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_once()
    assert not await b.try_once()
    clock.now += 5
    assert await a.try_once()  # renewed: the record changes, b starts counting again
    assert not await b.try_once()
    clock.now += 9
    assert not await b.try_once()
    clock.now += 2
    assert await b.try_once()
    lease = kube.get("coordination.k8s.io/v1", "Lease", "dnssync", "default")
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["spec"]["leaseTransitions"] == 1
    assert not a.is_leader() or clock.now - a._last_renew <= OPTIONS.renew_deadline
    clock.now += 6
    assert not a.is_leader()  # could not renew within the deadline: steps down


async def test_release_hands_over_at_once(api: client.ApiClient) -> None:
    """A released lease is taken by the next replica without waiting for expiry."""
    clock = Clock()
    a, b = elector(api, "a", clock), elector(api, "b", clock)
    assert await a.try_once()
    assert not await b.try_once()
    await a.release()
    assert not a.is_leader()
    clock.now += 1.5  # the released lease lasts 1 s
    assert await b.try_once()
