"""Gateway API informers: 10,000 HTTPRoutes + 1,000 Gateways, beside 10,000 Services + Ingresses.

The shape of ``bench.service``'s informer figure: the fake API (tests/fakekube) runs in a
process of its own holding the objects; a second process runs only what ``dnssync run``
runs for the sources -- the informers (HTTPRoutes, and the Gateways and Namespaces they
need, trimmed as the service trims them) feeding one object index and one target's view
-- and reports:

- ready: from the first list to every informer synced, every route converted against
  its Gateway (routes and Gateways arrive in whatever order the lists finish);
- peak RSS (VmHWM) of that process;
- one Gateway's new address -> its routes' endpoints updated (p50 / p99 over 50
  changes; each Gateway carries ten routes).

Run: ``python -m bench.gateway [--routes N] [--gateways M] [--services N]``
(``--services 0`` skips the Services + Ingresses figure).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, report
from bench.service import MANAGE, informers

GW = "gateway.networking.k8s.io/v1"


def gateway(g: int) -> dict[str, Any]:
    listener = {
        "name": "https",
        "protocol": "HTTPS",
        "port": 443,
        "hostname": "*.gw.bench",
        "allowedRoutes": {"namespaces": {"from": "All"}},
    }
    return {
        "apiVersion": GW,
        "kind": "Gateway",
        "metadata": {"name": f"gw{g}", "namespace": "infra"},
        "spec": {"gatewayClassName": "bench", "listeners": [listener]},
        "status": {"addresses": [{"type": "IPAddress", "value": f"10.2.{g // 250}.{g % 250}"}]},
    }


def httproute(i: int, gateways: int) -> dict[str, Any]:
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": f"gw{i % gateways}"}
    ref["namespace"] = "infra"
    accepted = {"type": "Accepted", "status": "True", "reason": "Accepted"}
    return {
        "apiVersion": GW,
        "kind": "HTTPRoute",
        "metadata": {"name": f"r{i}", "namespace": "bench", "annotations": {MANAGE: "mdapi"}},
        "spec": {
            "parentRefs": [ref],
            "hostnames": [f"r{i}.gw.bench"],
            "rules": [{"backendRefs": [{"name": f"svc{i}", "port": 8080}]}],
        },
        "status": {
            "parents": [
                {"parentRef": ref, "controllerName": "bench/gateway", "conditions": [accepted]}
            ]
        },
    }


FAKE = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.fakekube import FakeKube
from bench.gateway import gateway, httproute
async def main():
    kube = FakeKube()
    await kube.start()
    kube.create({{"apiVersion": "v1", "kind": "Namespace", "metadata": {{"name": "bench"}}}})
    for g in range({gateways}):
        kube.create(gateway(g))
    for i in range({routes}):
        kube.create(httproute(i, {gateways}))
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
from dnssync.sources.index import ObjectIndex, trim
from dnssync.kinds import with_needs
from dnssync.kube.client import api_client
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES
from kubernetes_asyncio import client
async def main():
    from pathlib import Path
    api = await api_client(Path({cfg!r}))
    index = ObjectIndex()
    view = index.view(SourceOptions(annotation_filter=parse_filter("{manage}=mdapi"),
                                     annotation_prefix="external-dns.alpha.kubernetes.io/"),
                      {{"httproute"}})
    t = time.perf_counter()
    infs = [Informer(api, RESOURCES[k], index, shrink=trim) for k in with_needs({{"httproute"}})]
    tasks = [asyncio.create_task(i.run()) for i in infs]
    for i in infs:
        await i.synced.wait()
    eps = len(view.endpoints())
    ready = time.perf_counter() - t
    rss = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) // 1024
    objs = client.CustomObjectsApi(api)
    lat = []
    view.take_changes()
    for n in range(50):
        address = {{"type": "IPAddress", "value": f"10.9.0.{{n + 1}}"}}
        body = {{"status": {{"addresses": [address]}}}}
        await objs.patch_namespaced_custom_object_status(
            "gateway.networking.k8s.io", "v1", "infra", "gateways", f"gw{{n % {gateways}}}", body,
            _content_type="application/merge-patch+json")
        t0 = time.perf_counter()
        changed = set()
        while len(changed) < {per_gateway}:
            changed |= await view.wait(5)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    print(json.dumps({{"ready": ready, "rss_mb": rss, "endpoints": eps,
                       "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99) - 1]}}))
    for t in tasks:
        t.cancel()
    await api.close()
asyncio.run(main())
"""


def gateway_informers(routes: int, gateways: int) -> dict[str, float]:
    """Ready time, peak RSS and Gateway-change latency of the route informers."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = str(Path(tmp) / "kubeconfig")
        fake = subprocess.Popen(
            [
                sys.executable,
                "-c",
                FAKE.format(root=str(ROOT), routes=routes, gateways=gateways, cfg=cfg),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert fake.stdout is not None
            assert fake.stdout.readline().strip() == "ready"
            script = INFORMERS.format(
                root=str(ROOT),
                cfg=cfg,
                manage=MANAGE,
                per_gateway=routes // gateways,
                gateways=gateways,
            )
            out = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=False
            )
            if out.returncode:
                raise RuntimeError(out.stderr[-3000:])
            result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
            if result["endpoints"] != routes:
                raise RuntimeError(f"{result['endpoints']} endpoints for {routes} routes")
            return result
        finally:
            if fake.stdin:
                fake.stdin.close()
            fake.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--routes", type=int, default=10_000)
    ap.add_argument("--gateways", type=int, default=1_000)
    ap.add_argument("--services", type=int, default=10_000)
    args = ap.parse_args()
    rows = []
    gw = gateway_informers(args.routes, args.gateways)
    r, g = args.routes, args.gateways
    rows.append({"figure": f"informers: {r} HTTPRoutes + {g} Gateways ready", "value": gw["ready"]})
    rows.append({"figure": "a Gateway's new address -> its routes, p50", "value": gw["p50"]})
    rows.append({"figure": "a Gateway's new address -> its routes, p99", "value": gw["p99"]})
    if args.services:
        inf = informers(args.services)
        n = args.services
        rows.append(
            {"figure": f"informers: {n} Services + {n} Ingresses ready", "value": inf["ready"]}
        )
    report("gateway", rows)
    print(f"  route informer process peak RSS: {gw['rss_mb']} MB")
    if args.services:
        print(f"  Service + Ingress informer process peak RSS: {inf['rss_mb']} MB")


if __name__ == "__main__":
    main()
