"""Service/Ingress informers through the real kubernetes-asyncio client and the fake API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from dnssync.errors import ConfigError
from dnssync.kube.client import api_client
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES, Resource
from dnssync.retry import Backoff, Pulse
from dnssync.sources.convert import SourceOptions
from dnssync.sources.index import EndpointView, ObjectIndex
from dnssync.sources.selector import parse_filter
from tests.fakekube import FakeKube, fake_kube

MANAGE = "external-dns.alpha.kubernetes.io/manage"
OPTIONS = SourceOptions(
    annotation_filter=parse_filter(f"{MANAGE}=mdapi"),
    annotation_prefix="external-dns.alpha.kubernetes.io/",
)


def service(name: str, ip: str = "192.0.2.10", *, ns: str = "apps", **ann: str) -> dict[str, Any]:
    annotations = {
        MANAGE: "mdapi",
        "external-dns.alpha.kubernetes.io/hostname": f"{name}.home.example.test",
        "external-dns.alpha.kubernetes.io/target": ip,
        **ann,
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10"},
    }


def ingress(name: str, host: str, *, ns: str = "apps", lb: str = "192.0.2.20") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "annotations": {MANAGE: "mdapi"}},
        "spec": {"rules": [{"host": host}]},
        "status": {"loadBalancer": {"ingress": [{"ip": lb}]}},
    }


async def until(cond: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def names(view: EndpointView) -> dict[str, tuple[str, ...]]:
    return {f"{e.name} {e.type}": e.targets for e in view.endpoints()}


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


@pytest.fixture
async def api(kube: FakeKube, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    a = await api_client(kube.write_kubeconfig(tmp_path / "kubeconfig"))
    async with a:
        yield a


@contextlib.asynccontextmanager
async def running(
    api: client.ApiClient, index: ObjectIndex, *, watch_timeout: int = 30, inactivity: float = 60
) -> AsyncIterator[list[Informer]]:
    informers = [
        Informer(
            api,
            r,
            index,
            watch_timeout=watch_timeout,
            inactivity=inactivity,
            backoff=Backoff(initial=0.05, cap=0.5),
        )
        for r in (RESOURCES["service"], RESOURCES["ingress"])
    ]
    tasks = [asyncio.create_task(i.run()) for i in informers]
    try:
        for i in informers:
            await asyncio.wait_for(i.synced.wait(), 5)
        yield informers
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def server_state(kube: FakeKube) -> dict[str, tuple[str, ...]]:
    """The endpoints the fake's current objects should give."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service", "ingress"})
    index.replace("service", kube.list("v1", "Service"))
    index.replace("ingress", kube.list("networking.k8s.io/v1", "Ingress"))
    return names(view)


async def test_create_modify_delete_reach_the_endpoint_set(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """Watch events add, change and withdraw endpoints; opted-out objects are ignored."""
    kube.create(service("web"))
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service", "ingress"})
    async with running(api, index):
        assert names(view) == {"web.home.example.test A": ("192.0.2.10",)}
        kube.create(ingress("site", "site.home.example.test"))
        ignored = service("quiet")
        del ignored["metadata"]["annotations"][MANAGE]
        kube.create(ignored)
        await until(lambda: "site.home.example.test A" in names(view))
        kube.patch(
            "v1",
            "Service",
            "web",
            "apps",
            {
                "metadata": {
                    "annotations": {"external-dns.alpha.kubernetes.io/target": "192.0.2.11"}
                }
            },
        )
        await until(lambda: names(view).get("web.home.example.test A") == ("192.0.2.11",))
        kube.patch(
            "networking.k8s.io/v1",
            "Ingress",
            "site",
            "apps",
            {"metadata": {"annotations": {MANAGE: None}}},
        )
        await until(lambda: "site.home.example.test A" not in names(view))
        kube.delete("v1", "Service", "web", "apps")
        await until(lambda: names(view) == {})
        assert "quiet.home.example.test A" not in names(view)


async def test_changes_are_announced_with_the_objects(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """The view's notification carries which objects changed."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    async with running(api, index):
        view.take_changes()
        kube.create(service("a"))
        changed = await asyncio.wait_for(view.wait(5), 6)
        assert [r.resource for r in changed] == ["service/apps/a"]


async def test_410_mid_watch_relists_and_converges(kube: FakeKube, api: client.ApiClient) -> None:
    """An expired watch relists; changes made meanwhile are neither lost nor doubled."""
    for i in range(5):
        kube.create(service(f"s{i}"))
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service", "ingress"})
    async with running(api, index) as informers:
        await kube.wait_for_watches(2)
        kube.expire_watches()
        kube.delete("v1", "Service", "s0", "apps")
        kube.create(service("s9", "192.0.2.99"))
        await until(lambda: informers[0].stats.relists_410 >= 1)
        await until(lambda: names(view) == server_state(kube))
        assert len(view.endpoints()) == len(set(names(view)))


async def test_dropped_connections_resume(kube: FakeKube, api: client.ApiClient) -> None:
    """Broken streams reconnect from the last version and catch up."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service", "ingress"})
    async with running(api, index):
        for round_ in range(3):
            await kube.wait_for_watches(2)
            kube.drop_connections()
            kube.create(service(f"d{round_}"))
        await until(lambda: names(view) == server_state(kube))
        assert len(names(view)) == 3


async def test_api_server_restart_converges(kube: FakeKube, api: client.ApiClient) -> None:
    """A restart with new, higher resourceVersions ends with the server's state."""
    kube.create(service("before"))
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service", "ingress"})
    async with running(api, index):
        await kube.wait_for_watches(2)
        await kube.restart()
        kube.create(service("after"))
        kube.delete("v1", "Service", "before", "apps")
        await until(lambda: names(view) == server_state(kube), within=10)
        assert set(names(view)) == {"after.home.example.test A"}


async def test_server_errors_back_off(kube: FakeKube, api: client.ApiClient) -> None:
    """5xx answers are retried with backoff, not in a hot loop, and then recover."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    kube.fail_next = [500, 503, 500, 502, 500]
    informer = Informer(api, RESOURCES["service"], index, backoff=Backoff(initial=0.1, cap=0.4))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        kube.create(service("ok"))
        await until(lambda: "ok.home.example.test A" in names(view))
        assert informer.stats.errors >= 2  # aiohttp itself retries some, once
        assert len(kube.requests) < 30
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_malformed_objects_are_reported_and_do_not_stop_the_watch(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A bad annotation is an error on that object; the rest keep flowing."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    async with running(api, index):
        kube.create(service("bad", **{"external-dns.alpha.kubernetes.io/ttl": "forever"}))
        kube.create(service("nohost", **{"external-dns.alpha.kubernetes.io/hostname": "a..b"}))
        kube.create(service("good"))
        await until(lambda: "good.home.example.test A" in names(view))
        errors = " | ".join(str(e) for e in view.errors())
        assert "apps/bad" in errors and "forever" in errors
        assert "apps/nohost" in errors


async def test_missing_crd_is_a_clear_permanent_error(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """Watching a kind the API does not serve ends with a clear error, not a spin."""
    broken = Resource(
        "widget",
        "example.io/v1",
        "Widget",
        "widgets",
        lambda a: _lister(a, "example.io", "v1", "widgets"),
        lambda a: _lister(a, "example.io", "v1", "widgets"),
    )
    informer = Informer(
        api, broken, ObjectIndex(), grace=0.5, backoff=Backoff(initial=0.05, cap=0.1)
    )
    with pytest.raises(ConfigError, match="404") as error:
        await asyncio.wait_for(informer.run(), 5)
    assert "is its CRD installed?" in str(error.value)


def _lister(api: client.ApiClient, group: str, version: str, plural: str) -> Any:
    objs: Any = client.CustomObjectsApi(api)

    async def call(**kw: Any) -> Any:
        return await objs.list_cluster_custom_object(group, version, plural, **kw)

    return call


@contextlib.asynccontextmanager
async def informing(informer: Informer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(informer.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def services_informer(api: client.ApiClient, index: ObjectIndex, **kw: Any) -> Informer:
    kw.setdefault("backoff", Backoff(initial=0.05, cap=0.3))
    return Informer(api, RESOURCES["service"], index, watch_timeout=30, **kw)


def answering_informer(api: client.ApiClient, answered: list[float]) -> Informer:
    """A Service informer that notes when the API answers it again, with a wide backoff."""

    def state(error: object) -> None:
        if error is None:
            answered.append(time.monotonic())

    return services_informer(
        api, ObjectIndex(), backoff=Backoff(initial=0.05, cap=30.0), on_state=state
    )


async def test_403_after_an_api_server_restart_is_survived(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A restarted API server refusing everything for a while (empty RBAC cache) is outlived."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    states: list[str | None] = []
    informer = services_informer(
        api, index, grace=30, on_state=lambda e: states.append(None if e is None else str(e))
    )
    async with informing(informer) as task:
        await asyncio.wait_for(informer.synced.wait(), 5)
        await kube.wait_for_watches(1)
        await kube.restart(refuse_for=1.0)
        kube.create(service("after"))
        await until(lambda: "after.home.example.test A" in names(view), within=10)
        assert not task.done()
    refusals = [s for s in states if s and "403" in s]
    assert refusals and "RBAC" in refusals[0]
    assert states[-1] is None  # recovered, and said so
    assert informer.streak.failures == 0  # and the delay starts small again


async def test_a_lasting_refusal_ends_the_informer_with_one_line(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """403 beyond the grace is final: a one-line ConfigError naming the list and RBAC."""
    kube.fail_for(403, 60)
    informer = services_informer(api, ObjectIndex(), grace=0.5)
    with pytest.raises(ConfigError) as error:
        await asyncio.wait_for(informer.run(), 10)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("list services: 403 Forbidden")
    assert "RBAC" in text and "still so after" in text


async def test_a_bad_token_is_not_blamed_on_rbac(kube: FakeKube, api: client.ApiClient) -> None:
    """401 says the credentials are not accepted, not that RBAC is missing."""
    kube.fail_for(401, 60)
    informer = services_informer(api, ObjectIndex(), grace=0.3)
    with pytest.raises(ConfigError) as error:
        await asyncio.wait_for(informer.run(), 10)
    text = str(error.value)
    assert "401 Unauthorized" in text and "credentials" in text
    assert "RBAC" not in text


async def test_429_waits_as_long_as_retry_after_says(kube: FakeKube, api: client.ApiClient) -> None:
    """Too Many Requests is retried no sooner than its Retry-After, however small the backoff."""
    kube.retry_after = "1"
    kube.fail_next = [429]
    informer = services_informer(api, ObjectIndex(), backoff=Backoff(initial=0.01, cap=0.02))
    started = time.monotonic()
    async with informing(informer):
        await asyncio.wait_for(informer.synced.wait(), 5)
    assert time.monotonic() - started >= 0.95
    assert informer.stats.errors == 1


async def test_disconnects_before_an_answer_are_retried(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A connection closed before any answer (ServerDisconnectedError) is transient."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    kube.create(service("kept"))
    kube.disconnect_next = 3
    informer = services_informer(api, index)
    async with informing(informer) as task:
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert "kept.home.example.test A" in names(view)
        await kube.wait_for_watches(1)
        kube.disconnect_next = 2
        kube.drop_connections()
        kube.create(service("later"))
        await until(lambda: "later.home.example.test A" in names(view), within=10)
        assert not task.done()
    assert informer.stats.errors >= 2  # aiohttp itself retries some, once


async def test_an_object_far_over_128_kib_reaches_the_index(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A watch line of ~300 KiB (a large annotation) is read, not a ValueError loop."""
    index = ObjectIndex()
    view = index.view(OPTIONS, {"service"})
    informer = services_informer(api, index)
    async with informing(informer):
        await asyncio.wait_for(informer.synced.wait(), 5)
        await kube.wait_for_watches(1)
        kube.create(service("big", **{"example.org/blob": "x" * 300_000}))
        await until(lambda: "big.home.example.test A" in names(view))
    assert informer.stats.errors == 0


async def test_the_retry_delay_resets_after_recovery(kube: FakeKube, api: client.ApiClient) -> None:
    """After an outage the next blip waits the initial delay again, not the grown one."""
    index = ObjectIndex()
    informer = services_informer(api, index, backoff=Backoff(initial=0.05, cap=5.0))
    kube.fail_next = [500] * 5
    async with informing(informer):
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert informer.streak.failures == 0
        await kube.wait_for_watches(1)
        kube.fail_next = [503]
        kube.drop_connections()
        started = time.monotonic()
        await kube.wait_for_watches(1)
        assert time.monotonic() - started < 1.0


async def test_restarts_in_quick_succession_never_grow_the_retry_delay(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """Watches broken before they held, refusals between: each answer again ends the streak."""
    answered: list[float] = []  # when the API answered again (a watch accepted)
    informer = answering_informer(api, answered)
    async with informing(informer) as task:
        await asyncio.wait_for(informer.synced.wait(), 5)
        await kube.wait_for_watches(1)
        for _ in range(8):
            kube.fail_next = [403] * 3
            seen = len(answered)
            dropped = time.monotonic()
            kube.drop_connections()
            await until(lambda: len(answered) > seen, within=15)  # noqa: B023
            # a break and three 403s: 0.05 + 0.1 + 0.2 + 0.4 s at most, however many came
            # before (grown, the second round alone would wait 6 s or more)
            assert answered[-1] - dropped < 5.0
            await asyncio.sleep(0.2)  # open, silent, and broken again before it held
        assert not task.done()


async def test_a_lost_connection_between_refusals_starts_a_new_grace(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """403s, the server gone, 403s again: each life's refusals are timed apart (restarts)."""
    informer = services_informer(
        api, ObjectIndex(), grace=0.5, backoff=Backoff(initial=0.05, cap=0.1)
    )
    kube.fail_for(403, 0.4)
    async with informing(informer) as task:
        await asyncio.sleep(0.3)
        kube.disconnect_next = 2  # no server (aiohttp itself may retry a GET once)
        kube.fail_for(403, 0.35)  # and its next life refuses again: 0.65 s in all
        await asyncio.wait_for(informer.synced.wait(), 10)
        assert not task.done()
    assert informer.stats.errors >= 6


async def test_the_first_answer_after_an_outage_ends_every_wait(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A watch waiting out lost connections tries again once another one is answered."""
    pulse = Pulse()
    nodes = Informer(
        api,
        RESOURCES["node"],
        ObjectIndex(),
        watch_timeout=30,
        backoff=Backoff(initial=8.0, cap=30.0),
        pulse=pulse,
    )
    services = services_informer(api, ObjectIndex(), pulse=pulse)
    async with informing(nodes), informing(services):
        await asyncio.wait_for(nodes.synced.wait(), 5)
        await asyncio.wait_for(services.synced.wait(), 5)
        await kube.wait_for_watches(2)
        errors = nodes.stats.errors
        kube.disconnect_filter = lambda method, path: "/nodes" in path
        kube.disconnect_next = 2  # aiohttp itself may retry a GET once
        kube.drop_connections()  # both break; the services watch's answer wakes nodes...

        def waiting() -> bool:  # ...which found no server again: a wait of 4 s or more
            open_ = len(kube.store.watchers)
            return kube.disconnect_next == 0 and nodes.stats.errors >= errors + 2 and open_ == 1

        await until(waiting, within=20)
        await asyncio.sleep(0.1)
        started = time.monotonic()
        kube.drop_connections()  # the services watch only: nodes has none open
        await kube.wait_for_watches(2, within=5)
        assert time.monotonic() - started < 2.0
        assert nodes.streak.failures == 0


async def test_a_refusal_waits_no_longer_than_the_first_answer_to_anyone(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A watch whose 403s grew its wait tries again once another watch is answered."""
    pulse = Pulse()
    nodes = Informer(
        api,
        RESOURCES["node"],
        ObjectIndex(),
        watch_timeout=30,
        backoff=Backoff(initial=8.0, cap=30.0),
        pulse=pulse,
    )
    services = services_informer(api, ObjectIndex(), pulse=pulse)
    async with informing(nodes), informing(services):
        await asyncio.wait_for(nodes.synced.wait(), 5)
        await asyncio.wait_for(services.synced.wait(), 5)
        await kube.wait_for_watches(2)
        await asyncio.sleep(1.1)  # both watches held (one ended sooner is backed off)
        errors = nodes.stats.errors
        kube.fail_for(403, 1.0, only=lambda method, path: "/nodes" in path)
        for watcher in list(kube.store.watchers):
            if watcher.rtype.plural == "nodes":
                watcher.notify("close")  # nodes resumes, meets the 403, waits 4 s or more...

        def waiting() -> bool:
            return nodes.stats.errors > errors and kube.watch_count == 1

        await until(waiting, within=5)
        await asyncio.sleep(1.1)  # ...the refusal is over, and nodes still waits
        started = time.monotonic()
        kube.drop_connections()  # the services watch's next answer ends that wait
        await kube.wait_for_watches(2, within=5)
        assert time.monotonic() - started < 2.0
        assert nodes.streak.failures == 0


async def test_watches_that_end_at_once_back_off(kube: FakeKube, api: client.ApiClient) -> None:
    """An API (or proxy) that accepts each watch and ends it at once is not hammered."""
    kube.default_watch_timeout = 0.0
    informer = Informer(
        api,
        RESOURCES["service"],
        ObjectIndex(),
        watch_timeout=0,
        backoff=Backoff(initial=0.05, cap=0.3),
    )
    async with informing(informer):
        await asyncio.wait_for(informer.synced.wait(), 5)
        before = informer.stats.watches
        await asyncio.sleep(2.0)
    # waits of 0.15-0.3 s once grown: about ten in two seconds, not hundreds
    assert informer.stats.watches - before < 25


async def test_a_quiet_watch_that_held_resets_the_retry_delay(
    kube: FakeKube, api: client.ApiClient
) -> None:
    """A watch with no events that stayed open counts as recovery: blips never add up."""
    answered: list[float] = []  # when the API answered again (a watch accepted)
    informer = answering_informer(api, answered)
    async with informing(informer) as task:
        await asyncio.wait_for(informer.synced.wait(), 5)
        await kube.wait_for_watches(1)
        for _ in range(6):
            await asyncio.sleep(1.2)  # open, and silent: nothing changes
            kube.fail_next = [500] * 3
            seen = len(answered)
            dropped = time.monotonic()
            kube.drop_connections()
            await until(lambda: len(answered) > seen, within=10)  # noqa: B023
            # the break and three 500s: 0.05 + 0.1 + 0.2 + 0.4 s at most, not a grown wait
            assert answered[-1] - dropped < 2.5
        assert not task.done()
