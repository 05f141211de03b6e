"""The service end to end: fake Kubernetes API + real DNS servers, one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncquery
import dns.message
import dns.rdatatype
import pytest
from pydantic import SecretStr

from dnssync.app import App
from dnssync.config import (
    Config,
    HTTPConfig,
    KeyConfig,
    KubernetesConfig,
    LeaderElectionConfig,
    ReconcileConfig,
    ServerConfig,
    TargetConfig,
)
from dnssync.model import Policy
from tests.dnsservers import DNSServer, TsigKey, start_server
from tests.fakekube import FakeKube, fake_kube

MANAGE = "external-dns.alpha.kubernetes.io/manage"
_zones = iter(range(10_000))


def target(name: str, server: DNSServer, zone: str, **kw: Any) -> TargetConfig:
    return TargetConfig(
        name=name,
        server=ServerConfig(host=server.host, port=server.port, timeout=1.0),
        zones=(zone,),
        key=KeyConfig(
            name=server.key.name,
            algorithm=server.key.algorithm,
            secret=SecretStr(server.key.secret),
        ),
        policy=Policy.SYNC,
        owner_id="svc-test",
        txt_prefix="extdns-",
        annotation_filter=f"{MANAGE}=mdapi",
        annotation_prefix="external-dns.alpha.kubernetes.io/",
        interval=kw.pop("interval", 3600.0),
        **kw,
    )


def config(kubeconfig: Path, *targets: TargetConfig, leader: bool = False) -> Config:
    return Config(
        targets=targets,
        kubernetes=KubernetesConfig(kubeconfig=kubeconfig, watch_timeout=30),
        leader_election=LeaderElectionConfig(
            enabled=leader,
            lease_name="dnssync-test",
            namespace="default",
            duration=1.5,
            renew_deadline=1.0,
            retry_period=0.2,
        ),
        reconcile=ReconcileConfig(debounce=0.01, backoff_max=0.5, readiness_grace=0.0),
        http=HTTPConfig(host="127.0.0.1", port=0),
    )


def ingress(name: str, host: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "web", "annotations": {MANAGE: "mdapi"}},
        "spec": {"rules": [{"host": host}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


async def lookup(server: DNSServer, name: str, type_: str = "A") -> list[str]:
    q = dns.message.make_query(name + ".", type_)
    try:
        r = await dns.asyncquery.tcp(q, server.host, port=server.port, timeout=1)
    except (OSError, dns.exception.DNSException):
        return []
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


async def until(cond: Callable[[], Any], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = cond()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(app: App) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(app.run())
    try:
        await until(lambda: app.http_port or task.done(), within=10)
        if task.done():
            task.result()
        yield task
    finally:
        app.stop()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


async def http_get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, await r.text()


async def test_watch_events_drive_records(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Annotate an Ingress: the record appears; change its address: it follows (no polling)."""
    zone = f"svc{next(_zones)}.test"
    bind_server.add_zone(zone)
    app = App(config(kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone)))
    async with running(app):
        host = f"app.{zone}"
        kube.create(ingress("app", host, "192.0.2.10"))
        await until(lambda: lookup(bind_server, host))
        assert await lookup(bind_server, host) == ["192.0.2.10"]
        kube.patch(
            "networking.k8s.io/v1",
            "Ingress",
            "app",
            "web",
            {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.11"}]}}},
        )
        await until(lambda: _is(lookup(bind_server, host), ["192.0.2.11"]))
        status, body = await http_get(app.http_port, "/metrics")
        assert status == 200
        assert 'dnssync_changes_applied_total{action="update"' in body
        # The loop interval is an hour: only watch events can have driven this.
        assert app.loops[0].options.interval == 3600.0

        def published() -> list[dict[str, Any]]:
            events = kube.list("v1", "Event", "web")
            return [e for e in events if e.get("reason") == "Published"]

        await until(published)  # posted in the background, off the reconcile path
        assert published()[0]["involvedObject"]["kind"] == "Ingress"
        assert published()[0]["involvedObject"]["uid"]
        assert host in published()[0]["message"]


async def _is(values: Any, expected: list[str]) -> bool:
    return bool(await values == expected)


async def test_two_targets_in_one_process(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """BIND9 and Knot targets with their own keys and zones; nothing crosses over."""
    knot = start_server("knot", key=TsigKey.generate("internal-only"))
    try:
        n = next(_zones)
        bz, kz = f"public{n}.test", f"internal{n}.test"
        bind_server.add_zone(bz)
        knot.add_zone(kz)
        cfg = config(
            kube.write_kubeconfig(tmp_path),
            target("acme-zone", bind_server, bz),
            target("internal", knot, kz),
        )
        app = App(cfg)
        async with running(app):
            kube.create(ingress("a", f"a.{bz}", "192.0.2.20"))
            kube.create(ingress("b", f"b.{kz}", "192.0.2.21"))
            await until(lambda: lookup(bind_server, f"a.{bz}"))
            await until(lambda: lookup(knot, f"b.{kz}"))
            assert await lookup(knot, f"a.{bz}") == []
            assert await lookup(bind_server, f"b.{kz}") == []
            keys = [t.client.key for t in app.targets]
            assert [str(k.name) if k else "" for k in keys] == ["dnssync-key.", "internal-only."]
            assert all(
                t.client.port == s.port
                for t, s in zip(app.targets, (bind_server, knot), strict=True)
            )
            assert repr(keys[1]).count(knot.key.secret) == 0
    finally:
        knot.close()


async def test_dns_server_outage_then_convergence(kube: FakeKube, tmp_path: Path) -> None:
    """A dead server: loop survives, /readyz 503, errors counted; on restart it converges."""
    server = start_server("bind")
    try:
        zone = "outage.test"
        server.add_zone(zone)
        app = App(
            config(kube.write_kubeconfig(tmp_path), target("flaky", server, zone, interval=0.3))
        )
        async with running(app):
            kube.create(ingress("one", f"one.{zone}", "192.0.2.30"))
            await until(lambda: lookup(server, f"one.{zone}"))
            await until(lambda: _ready(app, True))
            server.stop()
            kube.create(ingress("two", f"two.{zone}", "192.0.2.31"))
            await until(lambda: _ready(app, False))
            status, body = await http_get(app.http_port, "/readyz")
            assert status == 503 and "flaky" in body
            _, metrics = await http_get(app.http_port, "/metrics")
            assert "dnssync_reconcile_errors_total" in metrics
            server.start()
            await until(lambda: lookup(server, f"two.{zone}"), within=15)
            await until(lambda: _ready(app, True))
            assert await lookup(server, f"one.{zone}") == ["192.0.2.30"]
            txt = await lookup(server, f"extdns-a-two.{zone}", "TXT")
            assert len(txt) == 1
    finally:
        server.close()


async def _ready(app: App, want: bool) -> bool:
    status, _ = await http_get(app.http_port, "/readyz")
    return (status == 200) == want


async def test_two_replicas_one_writer_and_failover(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Only the Lease holder writes; when it stops, the other takes over and converges."""
    zone = f"ha{next(_zones)}.test"
    bind_server.add_zone(zone)
    kubeconfig = kube.write_kubeconfig(tmp_path)
    first = App(config(kubeconfig, target("internal", bind_server, zone), leader=True))
    second = App(config(kubeconfig, target("internal", bind_server, zone), leader=True))
    async with running(first):
        await until(lambda: first.metrics.leader._value.get() == 1)
        async with running(second):
            kube.create(ingress("x", f"x.{zone}", "192.0.2.40"))
            await until(lambda: lookup(bind_server, f"x.{zone}"))
            await asyncio.sleep(0.3)
            assert second.metrics.leader._value.get() == 0
            assert _applied(second) == 0
            assert _applied(first) >= 1
            first.stop()
            await until(lambda: second.metrics.leader._value.get() == 1, within=10)
            kube.create(ingress("y", f"y.{zone}", "192.0.2.41"))
            await until(lambda: lookup(bind_server, f"y.{zone}"), within=10)
            assert _applied(second) >= 1


async def test_a_stopped_leader_hands_over_at_once(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """SIGTERM's stop releases the Lease before the client closes: failover in far less
    than the lease duration (10 s here)."""
    zone = f"fo{next(_zones)}.test"
    bind_server.add_zone(zone)
    kubeconfig = kube.write_kubeconfig(tmp_path)

    def slow_lease(cfg: Config) -> Config:
        le = cfg.leader_election.model_copy(
            update={"duration": 10.0, "renew_deadline": 5.0, "retry_period": 0.2}
        )
        return cfg.model_copy(update={"leader_election": le})

    first = App(slow_lease(config(kubeconfig, target("internal", bind_server, zone), leader=True)))
    second = App(slow_lease(config(kubeconfig, target("internal", bind_server, zone), leader=True)))
    first_task = asyncio.create_task(first.run())
    await until(lambda: first.metrics.leader._value.get() == 1)
    async with running(second):
        await asyncio.sleep(0.3)
        first.stop()
        stopped = time.monotonic()
        await asyncio.wait_for(first_task, 5)
        lease = kube.get("coordination.k8s.io/v1", "Lease", "dnssync-test", "default")
        assert lease is not None
        assert lease["spec"]["holderIdentity"] in ("", second.elector.identity)
        await until(lambda: second.metrics.leader._value.get() == 1, within=3)
        assert time.monotonic() - stopped < 3.0


async def test_slow_event_posts_never_hold_up_dns(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Each Event post taking 1 s: 150 objects still reach DNS at once, and a change made
    while hundreds of Events wait follows within a second or two; stop is prompt."""
    zone = f"slow{next(_zones)}.test"
    bind_server.add_zone(zone)
    kube.request_delay = 1.0
    kube.delay_filter = lambda method, path: method == "POST" and "/events" in path
    app = App(config(kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone)))
    for i in range(150):
        kube.create(ingress(f"i{i}", f"i{i}.{zone}", "192.0.2.80"))
    task = asyncio.create_task(app.run())
    try:
        await until(lambda: lookup(bind_server, f"i149.{zone}"), within=30)
        kube.create(ingress("late", f"late.{zone}", "192.0.2.81"))
        changed = time.monotonic()
        await until(lambda: lookup(bind_server, f"late.{zone}"), within=10)
        assert time.monotonic() - changed < 3.0  # 150 queued Events would take 150 s
        assert app.recorder is not None and app.recorder.queue.qsize() > 100  # type: ignore[attr-defined]
    finally:
        app.stop()
        stopping = time.monotonic()
        await asyncio.wait_for(task, 10)
    assert time.monotonic() - stopping < 3.0


async def test_ten_api_server_restarts_are_survived(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Ten restarts, each refusing everything for a while (empty RBAC cache): the service
    lives on, and a change made after each restart is in DNS within 10 s."""
    zone = f"rst{next(_zones)}.test"
    bind_server.add_zone(zone)
    app = App(
        config(kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone), leader=True)
    )
    async with running(app) as task:
        for n in range(10):
            await kube.wait_for_watches(2)
            await kube.restart(refuse_for=0.5 + (n % 3) * 0.5)
            name = f"r{n}.{zone}"
            kube.create(ingress(f"r{n}", name, f"192.0.2.{100 + n}"))
            await until(partial(lookup, bind_server, name), within=10)
            assert not task.done()
        await until(lambda: _ready(app, True), within=10)


async def test_invalid_objects_are_visible(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad ttl: a Warning Event on the object naming the annotation, a log line, a gauge."""
    zone = f"inv{next(_zones)}.test"
    bind_server.add_zone(zone)
    app = App(config(kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone)))
    bad = ingress("bad", f"bad.{zone}", "192.0.2.50")
    bad["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/ttl"] = "forever"
    with caplog.at_level(logging.WARNING, logger="dnssync.controller"):
        async with running(app):
            kube.create(bad)
            kube.create(ingress("good", f"good.{zone}", "192.0.2.51"))
            await until(lambda: lookup(bind_server, f"good.{zone}"))

            def invalid() -> list[dict[str, Any]]:
                return [e for e in kube.list("v1", "Event", "web") if e["reason"] == "Invalid"]

            await until(invalid)
            [event] = invalid()
            assert event["type"] == "Warning"
            assert event["involvedObject"]["name"] == "bad"
            assert "annotation external-dns.alpha.kubernetes.io/ttl" in event["message"]
            assert "forever" in event["message"]
            _, body = await http_get(app.http_port, "/metrics")
            assert 'dnssync_invalid_objects{target="internal"} 1.0' in body
    lines = [r.getMessage() for r in caplog.records if "invalid input" in r.getMessage()]
    assert len(lines) == 1
    assert "ingress web/bad" in lines[0] and "ttl" in lines[0]


async def test_invalid_manifests_name_file_and_document(
    bind_server: DNSServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a cluster, an invalid document is logged by file and document, and counted."""
    zone = f"invm{next(_zones)}.test"
    bind_server.add_zone(zone)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "apps.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: ok\n  namespace: apps\n"
        f"  annotations:\n    {MANAGE}: mdapi\n"
        f"    external-dns.alpha.kubernetes.io/hostname: ok.{zone}\n"
        "    external-dns.alpha.kubernetes.io/target: 192.0.2.90\n"
        "---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\n  namespace: apps\n"
        f"  annotations:\n    {MANAGE}: mdapi\n"
        f"    external-dns.alpha.kubernetes.io/hostname: bad.{zone}\n"
        "    external-dns.alpha.kubernetes.io/target: 192.0.2.91\n"
        "    external-dns.alpha.kubernetes.io/ttl: forever\n"
    )
    cfg = Config(
        targets=(target("git", bind_server, zone),),
        manifests=manifests,
        reconcile=ReconcileConfig(debounce=0.0, manifests_poll=0.05),
        http=HTTPConfig(host="127.0.0.1", port=0),
    )
    app = App(cfg)
    with caplog.at_level(logging.WARNING, logger="dnssync.controller"):
        async with running(app):
            await until(lambda: lookup(bind_server, f"ok.{zone}"))
            # one bad annotation degrades that annotation only (external-dns does the same)
            await until(lambda: lookup(bind_server, f"bad.{zone}"))
            _, body = await http_get(app.http_port, "/metrics")
            assert 'dnssync_invalid_objects{target="git"} 1.0' in body
    [line] = [r.getMessage() for r in caplog.records if "invalid input" in r.getMessage()]
    assert "apps.yaml document 2" in line and "service apps/bad" in line and "ttl" in line


async def test_readyz_says_when_sources_or_the_lease_cannot_be_read(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Not ready while the API refuses the watch or the Lease; ready again after."""
    zone = f"rdy{next(_zones)}.test"
    bind_server.add_zone(zone)
    app = App(
        config(kube.write_kubeconfig(tmp_path), target("internal", bind_server, zone), leader=True)
    )
    async with running(app):
        await until(lambda: _ready(app, True))
        kube.fail_for(403, 2.0, only=lambda method, path: "/leases" in path)
        await until(lambda: _ready(app, False))
        _, body = await http_get(app.http_port, "/readyz")
        assert "leader election" in body and "403" in body
        await until(lambda: _ready(app, True), within=10)
        kube.fail_for(503, 2.0, only=lambda method, path: "/ingresses" in path)
        kube.retry_after = "0"
        await kube.wait_for_watches(1)
        kube.drop_connections()
        await until(lambda: _ready(app, False))
        _, body = await http_get(app.http_port, "/readyz")
        assert "source ingresses" in body
        await until(lambda: _ready(app, True), within=10)


def _applied(app: App) -> float:
    total = 0.0
    for metric in app.metrics.changes.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                total += sample.value
    return total


async def test_manifests_directory_drives_the_service(
    bind_server: DNSServer, tmp_path: Path
) -> None:
    """Without a cluster, a GitOps checkout is polled: an edited manifest reaches DNS."""
    zone = f"git{next(_zones)}.test"
    bind_server.add_zone(zone)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    doc = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: apps\n"
        "  annotations:\n"
        f"    {MANAGE}: mdapi\n"
        f"    external-dns.alpha.kubernetes.io/hostname: web.{zone}\n"
        "    external-dns.alpha.kubernetes.io/target: {ip}\n"
    )
    (manifests / "web.yaml").write_text(doc.format(ip="192.0.2.60"))
    cfg = Config(
        targets=(target("git", bind_server, zone),),
        manifests=manifests,
        reconcile=ReconcileConfig(debounce=0.0, manifests_poll=0.05),
        http=HTTPConfig(host="127.0.0.1", port=0),
    )
    app = App(cfg)
    async with running(app):
        await until(lambda: _is(lookup(bind_server, f"web.{zone}"), ["192.0.2.60"]))
        (manifests / "web.yaml").write_text(doc.format(ip="192.0.2.61"))
        await until(lambda: _is(lookup(bind_server, f"web.{zone}"), ["192.0.2.61"]))
        await until(lambda: _ready(app, True))
