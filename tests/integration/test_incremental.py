"""Service mode plans a change at its own names, on real BIND9, or the whole zone when it must."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import dns.query
import dns.rcode
import dns.update

from dnssync.app import App
from dnssync.config import Config, HTTPConfig, ReconcileConfig
from dnssync.controller import Loop, Target, TargetResult
from dnssync.http import Health
from dnssync.metrics import Metrics
from dnssync.sources.index import EndpointView, ObjectIndex
from dnssync.sources.manifestfeed import ManifestFeed
from tests.dnsservers import BindServer
from tests.integration.test_engine import tsig
from tests.integration.test_service import MANAGE, lookup, running, target, until

_zones = itertools.count()
N = 120


def service(i: int, zone: str, ip: str | None = None) -> dict[str, Any]:
    prefix = "external-dns.alpha.kubernetes.io/"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"s{i}",
            "namespace": "incr",
            "annotations": {
                MANAGE: "mdapi",
                prefix + "hostname": f"s{i}.{zone}",
                prefix + "target": ip or f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            },
        },
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1"},
    }


async def _converged(
    bind_server: BindServer, **kw: Any
) -> tuple[str, ObjectIndex, EndpointView, Loop]:
    zone = f"incr{next(_zones)}.test"
    bind_server.add_zone(zone)
    t = Target(target("incr", bind_server, zone, **kw))
    index = ObjectIndex()
    view = index.view(t.source_options, {"service"})
    for i in range(N):
        index.upsert("service", service(i, zone))
    loop = Loop(t, view, metrics=Metrics(), health=Health())
    first = await loop.once(changed=True)  # no pass before: the whole target
    assert first is not None and first.ok and not first.zones[0].partial
    assert await lookup(bind_server, f"s7.{zone}") == ["10.0.0.7"]
    return zone, index, view, loop


def _changes(result: TargetResult | None) -> list[str]:
    assert result is not None and result.ok, result
    return sorted(f"{c.action.value} {c.name}" for z in result.zones for c in z.applied.applied)  # type: ignore[union-attr]


async def test_one_changed_object_is_planned_at_its_names_only(bind_server: BindServer) -> None:
    """Right after a whole pass (its 240 names come back by IXFR exactly as written: no news),
    a changed, a new and a deleted object each plan only their names, and DNS follows."""
    zone, index, _, loop = await _converged(bind_server)
    index.upsert("service", service(3, zone, ip="192.0.2.33"))
    result = await loop.once(changed=True)
    assert result is not None and [z.partial for z in result.zones] == [True]
    assert result.zones[0].plan is not None and result.zones[0].plan.desired == 1
    assert _changes(result) == [f"update s3.{zone}"]
    assert await lookup(bind_server, f"s3.{zone}") == ["192.0.2.33"]

    index.upsert("service", service(N, zone))
    assert _changes(await loop.once(changed=True)) == [f"create s{N}.{zone}"]
    index.delete("service", service(5, zone))
    result = await loop.once(changed=True)
    assert result is not None and result.zones[0].partial
    assert _changes(result) == [f"delete s5.{zone}"]
    assert await lookup(bind_server, f"s5.{zone}") == []
    assert await lookup(bind_server, f"extdns-a-s5.{zone}", "TXT") == []
    assert await lookup(bind_server, f"s6.{zone}") == ["10.0.0.6"]


async def test_a_record_deleted_by_hand_comes_back_with_the_next_change(
    bind_server: BindServer,
) -> None:
    """Someone else's write reaches the next pass by IXFR: its names are planned too."""
    zone, index, _, loop = await _converged(bind_server)
    index.upsert("service", service(2, zone, ip="192.0.2.22"))
    assert _changes(await loop.once(changed=True)) == [f"update s2.{zone}"]
    upd = dns.update.UpdateMessage(zone, keyring=tsig(bind_server.key))
    upd.delete(f"s9.{zone}.", "A")
    answer = dns.query.tcp(upd, bind_server.host, port=bind_server.port, timeout=2)
    assert answer.rcode() == dns.rcode.NOERROR
    index.upsert("service", service(1, zone, ip="192.0.2.11"))
    result = await loop.once(changed=True)
    assert result is not None and result.zones[0].partial
    assert _changes(result) == [f"create s9.{zone}", f"update s1.{zone}"]
    assert await lookup(bind_server, f"s9.{zone}") == ["10.0.0.9"]


async def test_beyond_the_safety_floor_the_whole_zone_is_planned(
    bind_server: BindServer,
) -> None:
    """More deletes than the floor at once: the gate needs the zone's count, so a whole pass
    decides (and here lets them through: 10 of 120 is under the ratio)."""
    zone, index, _, loop = await _converged(bind_server, safety_floor=5)
    for i in range(10):
        index.delete("service", service(i, zone))
    result = await loop.once(changed=True)
    assert result is not None and not result.zones[0].partial
    assert len(_changes(result)) == 10
    assert await lookup(bind_server, f"s0.{zone}") == []


async def test_a_pass_that_failed_makes_the_next_one_whole(bind_server: BindServer) -> None:
    """Only a pass that left DNS as planned lets the next change be planned alone."""
    zone, index, _, loop = await _converged(bind_server)
    loop._settled = False  # as after a failed or refused pass
    index.upsert("service", service(2, zone, ip="192.0.2.22"))
    result = await loop.once(changed=True)
    assert result is not None and not result.zones[0].partial
    assert _changes(result) == [f"update s2.{zone}"]
    index.upsert("service", service(2, zone, ip="192.0.2.23"))
    result = await loop.once(changed=True)
    assert result is not None and result.zones[0].partial


async def test_a_manifest_edit_is_planned_at_its_names(
    bind_server: BindServer, tmp_path: Path
) -> None:
    """A manifests feed knows the names an edit moved: one file changed, one name planned."""
    zone = f"incr{next(_zones)}.test"
    bind_server.add_zone(zone)
    t = Target(target("incr", bind_server, zone))
    for i in range(40):
        (tmp_path / f"s{i}.yaml").write_text(json.dumps(service(i, zone)))
    feed = ManifestFeed(tmp_path, t.source_options, poll=0.01)
    loop = Loop(t, feed, metrics=Metrics(), health=Health())
    first = await loop.once(changed=True)
    assert first is not None and first.ok and not first.zones[0].partial
    (tmp_path / "s4.yaml").write_text(json.dumps(service(4, zone, ip="192.0.2.44")))
    assert await asyncio.wait_for(feed.wait(5), 10)
    result = await loop.once(changed=True)
    assert result is not None and result.zones[0].partial
    assert result.zones[0].plan is not None and result.zones[0].plan.desired == 1
    assert _changes(result) == [f"update s4.{zone}"]
    assert await lookup(bind_server, f"s4.{zone}") == ["192.0.2.44"]


async def test_someone_elses_edit_at_a_name_we_wrote_is_planned(bind_server: BindServer) -> None:
    """Our last write does not hide another writer's: the serial moved by more than our
    messages, so every name the IXFR brings is planned (a hand-deleted AAAA comes back)."""
    zone, index, _, loop = await _converged(bind_server)
    index.upsert("service", service(0, zone, ip="10.0.0.1,2001:db8::1"))
    assert _changes(await loop.once(changed=True)) == [f"update s0.{zone}"]
    upd = dns.update.UpdateMessage(zone, keyring=tsig(bind_server.key))
    upd.delete(f"s0.{zone}.", "AAAA")
    answer = dns.query.tcp(upd, bind_server.host, port=bind_server.port, timeout=2)
    assert answer.rcode() == dns.rcode.NOERROR
    index.upsert("service", service(1, zone, ip="192.0.2.11"))
    result = await loop.once(changed=True)
    assert result is not None and result.zones[0].partial
    assert _changes(result) == [f"create s0.{zone}", f"update s1.{zone}"]
    assert await lookup(bind_server, f"s0.{zone}", "AAAA") == ["2001:db8::1"]


async def test_the_periodic_pass_stays_whole(bind_server: BindServer) -> None:
    """A pass planned at some names never stands in for the periodic whole one: a record
    deleted by hand comes back on the timer even when the last pass was a partial one."""
    zone, index, _, loop = await _converged(bind_server)
    index.upsert("service", service(4, zone, ip="192.0.2.44"))
    assert _changes(await loop.once(changed=True)) == [f"update s4.{zone}"]
    index.upsert("service", service(N + 1, "elsewhere.example"))  # no name of the zone
    quiet = await loop.once(changed=True)
    assert quiet is not None and quiet.ok and not quiet.pending
    upd = dns.update.UpdateMessage(zone, keyring=tsig(bind_server.key))
    upd.delete(f"s8.{zone}.", "A")
    answer = dns.query.tcp(upd, bind_server.host, port=bind_server.port, timeout=2)
    assert answer.rcode() == dns.rcode.NOERROR
    timer = await loop.once(changed=False)
    assert timer is not None and [z.partial for z in timer.zones] == [False]
    assert _changes(timer) == [f"create s8.{zone}"]


async def test_the_service_sees_a_manifest_edit_by_its_file_event(
    bind_server: BindServer, tmp_path: Path
) -> None:
    """`run` with a manifests directory watches it: with the poll an hour away, an edit to
    one file of 200 (an editor's rename save) and a new file both reach BIND."""
    zone = f"incr{next(_zones)}.test"
    bind_server.add_zone(zone)
    for i in range(200):
        (tmp_path / f"s{i}.yaml").write_text(json.dumps(service(i, zone)))
    cfg = Config(
        targets=(target("watch", bind_server, zone),),
        manifests=tmp_path,
        reconcile=ReconcileConfig(debounce=0.0, manifests_poll=3600),
        http=HTTPConfig(host="127.0.0.1", port=0),
    )
    app = App(cfg)
    async with running(app):
        await until(lambda: lookup(bind_server, f"s199.{zone}"))
        feed = app.loops[0].feed
        assert isinstance(feed, ManifestFeed)
        await until(lambda: feed.watching)
        parsed = feed.parsed
        saved = tmp_path / ".s4.yaml.tmp"
        saved.write_text(json.dumps(service(4, zone, ip="192.0.2.44")))
        saved.rename(tmp_path / "s4.yaml")
        (tmp_path / "new.yaml").write_text(json.dumps(service(N + 500, zone)))
        await until(lambda: _is(bind_server, f"s4.{zone}", ["192.0.2.44"]), within=10)
        await until(lambda: lookup(bind_server, f"s{N + 500}.{zone}"), within=10)
        assert feed.parsed == parsed + 2
    assert not feed.watching  # the service's stop ended the watch


async def _is(server: BindServer, name: str, want: list[str]) -> bool:
    return await lookup(server, name) == want
