"""The Challenge watcher against real BIND9 and the fake Kubernetes API.

The central promise: it never deletes a TXT value it did not write, however other
ACME clients (certbot, lego, another dnssync) share the names; and it never writes
to Challenges (no status, no finalizers).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.tsig
import dns.update
import pytest
from kubernetes_asyncio import client, config
from prometheus_client import CollectorRegistry

from dnssync.acme.challenges import ChallengeWatcher
from dnssync.acme.records import marker_name, marker_value
from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig
from dnssync.dns.updates import rdata
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES
from dnssync.retry import Pulse
from dnssync.sources.index import ObjectIndex
from tests.dnsservers import BindServer
from tests.fakekube import FakeKube, fake_kube

from .conftest import GROUP, SOLVER, acme_config, txt_at

pytestmark = pytest.mark.timeout(60)
CHALLENGE_API = "acme.cert-manager.io/v1"


def value() -> str:
    return secrets.token_urlsafe(32)


def challenge(
    name: str,
    dns_name: str,
    key: str,
    *,
    state: str = "pending",
    group: str = GROUP,
    created: str = "2024-05-01T10:00:00Z",
) -> dict[str, Any]:
    return {
        "apiVersion": CHALLENGE_API,
        "kind": "Challenge",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "creationTimestamp": created,
            "finalizers": ["acme.cert-manager.io/finalizer"],
        },
        "spec": {
            "dnsName": dns_name,
            "wildcard": False,
            "type": "DNS-01",
            "key": key,
            "token": "tok",
            "url": f"https://acme.example/chall/{name}",
            "solver": {"dns01": {"webhook": {"groupName": group, "solverName": SOLVER}}},
            "issuerRef": {"name": "le", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
        "status": {"state": state, "processing": True, "presented": False, "reason": ""},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watcher(solver: Solver, **kw: Any) -> ChallengeWatcher:
    kw.setdefault("grace", 0.0)
    return ChallengeWatcher(solver, None, group_name=GROUP, solver_name=SOLVER, **kw)


async def foreign_write(server: BindServer, zone: str, name: str, text: str) -> None:
    """Another ACME client's write: a bare TXT value, no marker (like certbot or lego)."""
    msg = dns.update.UpdateMessage(zone + ".")
    msg.add(name + ".", 60, rdata("TXT", text))
    key = server.key
    msg.use_tsig(dns.tsig.Key(key.name, key.secret, key.algorithm))
    answer = await dns.asyncquery.tcp(msg, server.host, port=server.port, timeout=3)
    assert answer.rcode() == 0


async def test_never_deletes_values_it_did_not_write(
    bind_server: BindServer, acme_zone: str
) -> None:
    """Only our stale value goes; foreign values, other owners' values and live ones stay."""
    record = f"_acme-challenge.www.{acme_zone}"
    ours = Solver(acme_config(bind_server, [acme_zone], owner_id="prod"))
    other_install = Solver(acme_config(bind_server, [acme_zone], owner_id="staging"))
    theirs, forged, other, live, stale = (value() for _ in range(5))
    await foreign_write(bind_server, acme_zone, record, theirs)
    # A value whose marker-lookalike sits at the challenge name itself proves nothing.
    await foreign_write(bind_server, acme_zone, record, forged)
    await foreign_write(bind_server, acme_zone, record, marker_value("prod", forged))
    await other_install.present(record, other)
    await ours.present(record, live)
    await ours.present(record, stale)
    w = watcher(ours)
    w.upsert("challenge", challenge("live", f"www.{acme_zone}", live))
    w.upsert("challenge", challenge("gone", f"www.{acme_zone}", stale))
    w.delete("challenge", challenge("gone", f"www.{acme_zone}", stale))

    result = await w.reconcile(stale=True)

    assert result.removed == [(record, stale)]
    assert await txt_at(bind_server, record) == {
        theirs,
        forged,
        marker_value("prod", forged),
        other,
        live,
    }
    assert await txt_at(bind_server, marker_name(record)) == {
        marker_value("staging", other),
        marker_value("prod", live),
    }
    # Nothing else is ever due: a second pass removes nothing.
    assert (await w.reconcile(stale=True)).removed == []


async def test_stale_values_wait_for_the_grace_period(
    bind_server: BindServer, acme_zone: str
) -> None:
    """A value whose Challenge went is removed only after `grace` seconds unneeded."""
    clock = Clock()
    solver = Solver(acme_config(bind_server, [acme_zone]))
    w = watcher(solver, grace=300, clock=clock)
    key = value()
    ch = challenge("c", acme_zone, key)
    w.upsert("challenge", ch)
    assert (await w.reconcile(stale=True)).presented == ["default/c"]
    record = f"_acme-challenge.{acme_zone}"
    assert await txt_at(bind_server, record) == {key}
    w.delete("challenge", ch)
    assert (await w.reconcile(stale=True)).removed == []
    clock.now += 299
    assert (await w.reconcile(stale=True)).removed == []
    clock.now += 1
    assert (await w.reconcile(stale=True)).removed == [(record, key)]
    assert await txt_at(bind_server, record) == set()
    assert await txt_at(bind_server, marker_name(record)) == set()


async def test_finished_challenges_are_not_presented_and_their_values_go(
    bind_server: BindServer, acme_zone: str
) -> None:
    """A valid Challenge is not presented early; our value for it is removed as stale."""
    solver = Solver(acme_config(bind_server, [acme_zone]))
    w = watcher(solver)
    done, fresh = value(), value()
    record = f"_acme-challenge.done.{acme_zone}"
    await solver.present(record, done)
    w.upsert("challenge", challenge("done", f"done.{acme_zone}", done, state="valid"))
    w.upsert("challenge", challenge("other-solver", f"done.{acme_zone}", fresh, group="x.io"))
    result = await w.reconcile(stale=True)
    assert result.presented == []
    assert result.removed == [(record, done)]
    assert await txt_at(bind_server, record) == set()


async def test_leftovers_from_before_a_restart_are_found_by_zone_scan(
    bind_server: BindServer, acme_zone: str
) -> None:
    """With scan_zones, a fresh process finds our markers by AXFR and removes the stale values."""
    record = f"_acme-challenge.old.{acme_zone}"
    old = value()
    await Solver(acme_config(bind_server, [acme_zone])).present(record, old)
    # A new process: no journal, no Challenge ever seen.
    without = watcher(Solver(acme_config(bind_server, [acme_zone])))
    assert (await without.reconcile(stale=True)).removed == []
    with_scan = watcher(Solver(acme_config(bind_server, [acme_zone])), scan_zones=True)
    assert (await with_scan.reconcile(stale=True)).removed == [(record, old)]
    assert await txt_at(bind_server, record) == set()


async def test_without_markers_only_the_journal_counts(
    bind_server: BindServer, acme_zone: str
) -> None:
    """Markers off: values this process presented may go; another process's never."""
    record = f"_acme-challenge.j.{acme_zone}"
    elsewhere, mine = value(), value()
    await Solver(acme_config(bind_server, [acme_zone], markers=False)).present(record, elsewhere)
    solver = Solver(acme_config(bind_server, [acme_zone], markers=False))
    await solver.present(record, mine)
    result = await watcher(solver).reconcile(stale=True)
    assert result.removed == [(record, mine)]
    assert await txt_at(bind_server, record) == {elsewhere}


async def test_followers_do_not_write(bind_server: BindServer, acme_zone: str) -> None:
    """A replica that is not the leader neither presents nor removes."""
    solver = Solver(acme_config(bind_server, [acme_zone]))
    w = watcher(solver, is_leader=lambda: False)
    w.upsert("challenge", challenge("c", acme_zone, value()))
    result = await w.reconcile(stale=True)
    assert result.presented == []
    assert await txt_at(bind_server, f"_acme-challenge.{acme_zone}") == set()


def test_pending_metrics() -> None:
    """Pending count, oldest age and the age histogram, computed at scrape time."""
    registry = CollectorRegistry()
    # Never contacted: the metrics come from the cache alone.
    solver = Solver(AcmeConfig.model_validate({"servers": [{"name": "x", "zones": ["m.test"]}]}))
    now = 1714557600.0 + 400  # 400 s after 2024-05-01T10:00:00Z
    w = ChallengeWatcher(
        solver,
        None,
        group_name=GROUP,
        solver_name=SOLVER,
        registry=registry,
        wall_clock=lambda: now,
    )
    w.upsert("challenge", challenge("a", "a.metrics.test", value()))
    w.upsert("challenge", challenge("b", "b.metrics.test", value(), created="2024-05-01T10:06:00Z"))
    w.upsert("challenge", challenge("c", "c.metrics.test", value(), state="valid"))
    assert registry.get_sample_value("dnssync_acme_challenges_pending") == 2
    assert registry.get_sample_value("dnssync_acme_challenge_oldest_pending_age_seconds") == 400
    bucket = "dnssync_acme_challenges_pending_age_seconds_bucket"
    assert registry.get_sample_value(bucket, {"le": "60.0"}) == 1
    assert registry.get_sample_value(bucket, {"le": "300.0"}) == 1
    assert registry.get_sample_value(bucket, {"le": "600.0"}) == 2
    assert registry.get_sample_value(bucket, {"le": "+Inf"}) == 2


# --- through the real informer and the fake API ---------------------------------


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[tuple[FakeKube, client.ApiClient]]:
    async with fake_kube() as server:
        cfg = client.Configuration()
        await config.load_kube_config(
            config_file=str(server.write_kubeconfig(tmp_path)), client_configuration=cfg
        )
        async with client.ApiClient(configuration=cfg) as api:
            yield server, api


async def eventually(check: Any, *, within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_watcher_presents_early_and_never_writes_challenges(
    bind_server: BindServer, acme_zone: str, kube: tuple[FakeKube, client.ApiClient]
) -> None:
    """Via list+watch: present on creation, clean on deletion, and only ever GET from the API."""
    fake, api = kube
    solver = Solver(acme_config(bind_server, [acme_zone]))
    w = ChallengeWatcher(
        solver,
        api,
        group_name=GROUP,
        solver_name=SOLVER,
        grace=0.0,
        resync=0.2,
        debounce=0.01,
        watch_timeout=5,
    )
    task = asyncio.create_task(w.run())
    try:
        await asyncio.wait_for(w.synced.wait(), 5)
        key, foreign_key = value(), value()
        record = f"_acme-challenge.early.{acme_zone}"
        created = fake.create(challenge("early", f"early.{acme_zone}", key))
        fake.create(challenge("theirs", f"early.{acme_zone}", foreign_key, group="other.io"))

        async def presented() -> bool:
            return key in await txt_at(bind_server, record)

        await eventually(presented)
        assert foreign_key not in await txt_at(bind_server, record)
        w_pending = [c.ref for c in w.pending()]
        assert w_pending == ["default/early"]

        current = fake.get(CHALLENGE_API, "Challenge", "early", "default")
        assert current is not None
        assert current["status"] == created["status"]
        assert current["metadata"]["finalizers"] == ["acme.cert-manager.io/finalizer"]
        assert current["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        fake.delete(CHALLENGE_API, "Challenge", "early", "default")

        async def removed() -> bool:
            return await txt_at(bind_server, record) == set()

        await eventually(removed)
        assert fake.get(CHALLENGE_API, "Challenge", "theirs", "default") is not None
        methods = {method for method, _ in fake.requests}
        assert methods == {"GET"}, fake.requests
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_watch_of_challenges_wakes_when_the_api_answers_another_watch(
    bind_server: BindServer, acme_zone: str, kube: tuple[FakeKube, client.ApiClient]
) -> None:
    """A Challenges watch whose refusals grew its wait lists again once a source watch
    sharing its pulse is answered (an apiserver restarted, its CRDs registered late)."""
    fake, api = kube
    pulse = Pulse()
    fake.fail_for(403, 60.0, only=lambda method, path: "/challenges" in path)
    w = ChallengeWatcher(
        Solver(acme_config(bind_server, [acme_zone])),
        api,
        group_name=GROUP,
        solver_name=SOLVER,
        watch_timeout=30,
        pulse=pulse,
    )
    services = Informer(api, RESOURCES["service"], ObjectIndex(), watch_timeout=30, pulse=pulse)
    tasks = [asyncio.create_task(w.run()), asyncio.create_task(services.run())]
    try:
        await asyncio.wait_for(services.synced.wait(), 5)

        async def grown() -> bool:  # five refusals in a row: the next wait is 1.6 s or more
            return bool(w.informers) and w.informers[0].streak.failures >= 5

        await eventually(grown, within=10)
        fake.stop_failing()  # the server's CRDs are back...
        fake.drop_connections()  # ...and it answers the services watch again
        await asyncio.wait_for(w.synced.wait(), 1.0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
