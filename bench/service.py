"""Service figures (runtime + Kubernetes source issues), fake API + real BIND9.

- event -> record visible on the authoritative server, with 1,000 watched
  Ingresses: p50 / p99 over 100 changes (external-dns: >= 5 s);
- idle reconcile of a 10,000-record zone: time of one pass and the DNS
  queries it sends (goal: <= 5 ms, one SOA query);
- Events on, N Ingresses from an empty zone (issue 11: 4,000): all records
  visible, a change made during the Event burst visible, stop (SIGTERM's
  path) -- Events are posted in the background and never hold DNS up;
- informers: 10,000 Services + 10,000 Ingresses, list-to-ready and resident
  memory of a process that only runs the informers (the fake API runs in
  another process); one changed object -> endpoint set updated (p50/p99).

Run: ``python -m bench.service [--objects N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
from pydantic import SecretStr

from bench.common import ROOT, median, report, server
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
from dnssync.dns.transport import Host
from dnssync.model import Policy
from tests.dnsservers import DNSServer
from tests.fakekube import fake_kube

MANAGE = "external-dns.alpha.kubernetes.io/manage"


def ingress(i: int, zone: str, ip: str = "192.0.2.1") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": f"i{i}", "namespace": "bench", "annotations": {MANAGE: "mdapi"}},
        "spec": {"rules": [{"host": f"i{i}.{zone}"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def service(i: int, zone: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"s{i}",
            "namespace": "bench",
            "annotations": {
                MANAGE: "mdapi",
                "external-dns.alpha.kubernetes.io/hostname": f"s{i}.{zone}",
                "external-dns.alpha.kubernetes.io/target": f"10.1.{i // 256 % 256}.{i % 256}",
            },
        },
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 80}]},
    }


def target(s: DNSServer, zone: str) -> TargetConfig:
    return TargetConfig(
        name="bench",
        server=ServerConfig(host=s.host, port=s.port),
        zones=(zone,),
        key=KeyConfig(name=s.key.name, algorithm=s.key.algorithm, secret=SecretStr(s.key.secret)),
        policy=Policy.SYNC,
        owner_id="bench",
        txt_prefix="extdns-",
        annotation_filter=f"{MANAGE}=mdapi",
        annotation_prefix="external-dns.alpha.kubernetes.io/",
        interval=3600.0,
        max_change_ratio=None,
    )


async def lookup(s: DNSServer, name: str) -> list[str]:
    q = dns.message.make_query(name + ".", "A")
    r = await dns.asyncquery.udp(q, s.host, port=s.port, timeout=1)
    return [rd.to_text() for rrset in r.answer for rd in rrset]


async def event_to_record(s: DNSServer, objects: int, changes: int) -> list[float]:
    zone = "events.bench"
    s.add_zone(zone)
    async with fake_kube() as kube:
        for i in range(objects):
            kube.create(ingress(i, zone))
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Config(
                targets=(target(s, zone),),
                kubernetes=KubernetesConfig(kubeconfig=kube.write_kubeconfig(Path(tmp))),
                leader_election=LeaderElectionConfig(enabled=False),
                reconcile=ReconcileConfig(debounce=0.005),
                http=HTTPConfig(host="127.0.0.1", port=0),
                log={"level": "warning"},
            )
            app = App(cfg)
            task = asyncio.create_task(app.run())
            while not await lookup(s, f"i{objects - 1}.{zone}"):
                await asyncio.sleep(0.05)
            times = []
            for n in range(changes):
                i = n % objects
                ip = f"198.51.100.{n % 250 + 1}"
                t = time.perf_counter()
                kube.patch(
                    "networking.k8s.io/v1",
                    "Ingress",
                    f"i{i}",
                    "bench",
                    {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}},
                )
                while await lookup(s, f"i{i}.{zone}") != [ip]:
                    await asyncio.sleep(0.001)
                times.append(time.perf_counter() - t)
            app.stop()
            await task
    return times


_bursts = itertools.count()


async def _seen(s: DNSServer, name: str) -> list[str]:
    # The fake API and the app share this loop: a busy pass may outlast a UDP timeout.
    try:
        return await lookup(s, name)
    except dns.exception.Timeout:
        return []


async def events_burst(s: DNSServer, objects: int, *, events: bool = True) -> dict[str, float]:
    """N objects into an empty zone (Events on): converge, one change, stop."""
    zone = f"burst{next(_bursts)}.bench"
    s.add_zone(zone)
    async with fake_kube() as kube:
        for i in range(objects):
            kube.create(ingress(i, zone))
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Config(
                targets=(target(s, zone),),
                kubernetes=KubernetesConfig(
                    kubeconfig=kube.write_kubeconfig(Path(tmp)), events=events
                ),
                leader_election=LeaderElectionConfig(enabled=False),
                reconcile=ReconcileConfig(debounce=0.005),
                http=HTTPConfig(host="127.0.0.1", port=0),
                log={"level": "warning"},
            )
            app = App(cfg)
            t0 = time.perf_counter()
            task = asyncio.create_task(app.run())
            while not await _seen(s, f"i{objects - 1}.{zone}"):
                await asyncio.sleep(0.02)
            converged = time.perf_counter() - t0
            ip = "198.51.100.200"
            t1 = time.perf_counter()
            kube.patch(
                "networking.k8s.io/v1",
                "Ingress",
                "i0",
                "bench",
                {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}},
            )
            while await _seen(s, f"i0.{zone}") != [ip]:
                await asyncio.sleep(0.001)
            change = time.perf_counter() - t1
            posted = len(kube.list("v1", "Event", "bench"))
            t2 = time.perf_counter()
            app.stop()
            await task
            stop = time.perf_counter() - t2
    return {"converged": converged, "change": change, "stop": stop, "events": posted}


async def idle_pass(s: DNSServer, n: int) -> tuple[float, int]:
    """One idle reconcile of an n-record zone, and the queries it sent."""
    from dnssync.controller import Loop
    from dnssync.http import Health
    from dnssync.metrics import Metrics
    from dnssync.sources.index import ObjectIndex

    zone = "idle.bench"
    s.add_zone(zone)
    tcfg = target(s, zone)
    from dnssync.controller import Target

    tgt = Target(tcfg)
    index = ObjectIndex()
    view = index.view(tgt.source_options, {"service"})
    index.replace("service", [service(i, zone) for i in range(n)])
    loop = Loop(tgt, view, metrics=Metrics(), health=Health())
    await loop.once()  # creates
    await loop.once()  # first quiet pass: remembered as idle
    sent = {"soa": 0, "xfr": 0}
    soa, xfr = tgt.client._soa_serial, tgt.client._transfer

    async def count_soa(host: Host, zone: str) -> int:
        sent["soa"] += 1
        return await soa(host, zone)

    async def count_xfr(host: Host, zone: str, serial: int | None) -> Any:
        sent["xfr"] += 1
        return await xfr(host, zone, serial)

    tgt.client._soa_serial = count_soa  # type: ignore[method-assign]
    tgt.client._transfer = count_xfr  # type: ignore[method-assign]
    times = []
    for _ in range(20):
        t = time.perf_counter()
        await loop.once()
        times.append(time.perf_counter() - t)
    return median(times), (sent["soa"] + sent["xfr"]) // 20


FAKE = """
import asyncio, json, sys
sys.path.insert(0, {root!r})
from tests.fakekube import FakeKube
from bench.service import ingress, service
async def main():
    kube = FakeKube()
    await kube.start()
    for i in range({n}):
        kube.create(service(i, "inf.bench"))
        kube.create(ingress(i, "inf.bench"))
    from pathlib import Path
    kube.write_kubeconfig(Path({cfg!r}))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""

INFORMERS = """
import asyncio, json, sys, time
sys.path.insert(0, {root!r})
from dnssync.sources.convert import SourceOptions
from dnssync.sources.selector import parse_filter
from dnssync.sources.index import ObjectIndex
from dnssync.kube.client import api_client
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES
from dnssync.sources.index import trim
from kubernetes_asyncio import client
async def main():
    from pathlib import Path
    api = await api_client(Path({cfg!r}))
    index = ObjectIndex()
    view = index.view(SourceOptions(annotation_filter=parse_filter("{manage}=mdapi"),
                                     annotation_prefix="external-dns.alpha.kubernetes.io/"),
                      {{"service", "ingress"}})
    t = time.perf_counter()
    infs = [Informer(api, RESOURCES[k], index, shrink=trim) for k in ("service", "ingress")]
    tasks = [asyncio.create_task(i.run()) for i in infs]
    for i in infs:
        await i.synced.wait()
    eps = len(view.endpoints())
    ready = time.perf_counter() - t
    rss = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) // 1024
    core = client.CoreV1Api(api)
    lat = []
    view.take_changes()
    for n in range(200):
        body = {{"metadata": {{"annotations": {{
            "external-dns.alpha.kubernetes.io/target": f"10.9.{{n // 250}}.{{n % 250}}"}}}}}}
        await core.patch_namespaced_service(f"s{{n}}", "bench", body)
        t0 = time.perf_counter()
        await view.wait(5)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    print(json.dumps({{"ready": ready, "rss_mb": rss, "endpoints": eps,
                       "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99) - 1]}}))
    for t in tasks:
        t.cancel()
    await api.close()
asyncio.run(main())
"""


def informers(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = str(Path(tmp) / "kubeconfig")
        fake = subprocess.Popen(
            [sys.executable, "-c", FAKE.format(root=str(ROOT), n=n, cfg=cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert fake.stdout is not None
            assert fake.stdout.readline().strip() == "ready"
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    INFORMERS.format(root=str(ROOT), cfg=cfg, manage=MANAGE),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode:
                raise RuntimeError(out.stderr[-3000:])
            result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
            return result
        finally:
            if fake.stdin:
                fake.stdin.close()
            fake.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--zone-records", type=int, default=10_000)
    ap.add_argument("--informer-objects", type=int, default=10_000)
    ap.add_argument("--burst-objects", type=int, default=4000)
    args = ap.parse_args()
    rows = []
    with server("bind") as s:
        lat = sorted(asyncio.run(event_to_record(s, args.objects, args.changes)))
        idle, queries = asyncio.run(idle_pass(s, args.zone_records))
        burst = asyncio.run(events_burst(s, args.burst_objects))
    b = args.burst_objects
    rows.append(
        {
            "figure": f"Events on: {b} objects from an empty zone visible",
            "value": burst["converged"],
        }
    )
    rows.append(
        {"figure": "Events on: a change during the Event burst visible", "value": burst["change"]}
    )
    rows.append(
        {
            "figure": f"Events on: stop ({int(burst['events'])} Events posted by then)",
            "value": burst["stop"],
        }
    )
    rows.append(
        {"figure": f"event -> record visible, p50 ({args.objects} objects)", "value": median(lat)}
    )
    rows.append({"figure": "event -> record visible, p99", "value": lat[int(len(lat) * 0.99) - 1]})
    rows.append(
        {
            "figure": f"idle reconcile, {args.zone_records}-record zone ({queries} query/pass)",
            "value": idle,
        }
    )
    inf = informers(args.informer_objects)
    n = args.informer_objects
    rows.append({"figure": f"informers: {n} Services + {n} Ingresses ready", "value": inf["ready"]})
    rows.append({"figure": "one changed object -> endpoint set, p50", "value": inf["p50"]})
    rows.append({"figure": "one changed object -> endpoint set, p99", "value": inf["p99"]})
    report("service", rows)
    print(f"  informer process peak RSS: {inf['rss_mb']} MB (goal ≤ 150 MB)")


if __name__ == "__main__":
    main()
