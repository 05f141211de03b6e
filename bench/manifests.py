"""Service mode with a manifests directory (issue #12): edit -> DNS, and idle CPU, real BIND9.

For N Services (default 10,000), laid out as one big file and as one file per
object, the service (``App``, as ``dnssync run`` builds it: watched, default
reconcile settings) is started on an empty zone; once every record is
visible:

- idle CPU: the process's CPU time (every thread: the watch, the loop) over
  ``--idle`` seconds of no change, as a share of one core (goal ≤ 1 %);
- edit -> visible: one object's target changed by an editor's save (a
  temporary file renamed over the file), timed until BIND answers the new
  address; p50 / p99 over ``--edits`` edits (goal p99 ≤ 100 ms);
- one edit's reload alone, in this process without DNS: the changed file
  read and parsed, the result recombined and put in place (goal: well under
  50 ms).

The queries run on the service's own event loop, as in ``bench/service.py``.

Run: ``python -m bench.manifests [--objects N] [--edits N] [--idle S] [--no-watch]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import tempfile
import time
from pathlib import Path

from bench.common import median, report, server
from bench.service import MANAGE, lookup, target
from dnssync.app import App
from dnssync.config import Config, HTTPConfig, ReconcileConfig
from dnssync.sources.convert import SourceOptions
from dnssync.sources.manifestfeed import ManifestFeed
from tests.dnsservers import DNSServer


def service(i: int, zone: str, ip: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": f"s{i}",
                "namespace": "bench",
                "annotations": {
                    MANAGE: "mdapi",
                    "external-dns.alpha.kubernetes.io/hostname": f"s{i}.{zone}",
                    "external-dns.alpha.kubernetes.io/target": ip,
                },
            },
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 80}]},
        }
    )


def address(i: int) -> str:
    return f"10.2.{i // 256 % 256}.{i % 256}"


def save(path: Path, text: str) -> None:
    """An editor's (and git's) save: a temporary file renamed over the file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Tree:
    """The manifests, one file or one file per object, edited one object at a time."""

    def __init__(self, root: Path, zone: str, objects: int, *, one_file: bool) -> None:
        self.root, self.zone, self.one_file = root, zone, one_file
        self.docs = [service(i, zone, address(i)) for i in range(objects)]
        if one_file:
            (root / "all.yaml").write_text("\n---\n".join(self.docs))
        else:
            for i, doc in enumerate(self.docs):
                (root / f"s{i}.yaml").write_text(doc)

    def edit(self, i: int, ip: str) -> None:
        self.docs[i] = service(i, self.zone, ip)
        if self.one_file:
            save(self.root / "all.yaml", "\n---\n".join(self.docs))
        else:
            save(self.root / f"s{i}.yaml", self.docs[i])


async def _visible(s: DNSServer, name: str, want: list[str]) -> None:
    while True:
        try:
            if await lookup(s, name) == want:
                return
        except TimeoutError:
            pass
        await asyncio.sleep(0.005)


async def measure(
    s: DNSServer, objects: int, edits: int, idle: float, *, one_file: bool, watch: bool
) -> dict[str, float]:
    zone = f"{'one' if one_file else 'many'}.manifests.bench"
    s.add_zone(zone)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Tree(Path(tmp), zone, objects, one_file=one_file)
        cfg = Config(
            targets=(target(s, zone),),
            manifests=Path(tmp),
            reconcile=ReconcileConfig(manifests_watch=watch),
            http=HTTPConfig(host="127.0.0.1", port=0),
            log={"level": "warning"},
        )
        app = App(cfg)
        task = asyncio.create_task(app.run())
        t = time.perf_counter()
        last = objects - 1
        await asyncio.wait_for(_visible(s, f"s{last}.{zone}", [address(last)]), 600)
        converged = time.perf_counter() - t
        await asyncio.sleep(2.0)  # the first pass's tail (status, metrics) settles
        cpu = time.process_time()
        await asyncio.sleep(idle)
        idle_cpu = (time.process_time() - cpu) / idle
        times = []
        for n in range(edits):
            i = (n * 7919) % objects
            ip = f"198.51.100.{n % 250 + 1}"
            t = time.perf_counter()
            await asyncio.to_thread(tree.edit, i, ip)
            await asyncio.wait_for(_visible(s, f"s{i}.{zone}", [ip]), 60)
            times.append(time.perf_counter() - t)
        app.stop()
        await task
    times.sort()
    return {
        "converged": converged,
        "idle_cpu": idle_cpu,
        "p50": median(times),
        "p99": times[max(0, int(len(times) * 0.99) - 1)],
    }


def reload_cost(objects: int, edits: int, *, one_file: bool) -> list[float]:
    """One edit's reload alone (read, parse, recombine, put in place), no DNS: seconds each."""
    options = SourceOptions(annotation_prefix="external-dns.alpha.kubernetes.io/")
    with tempfile.TemporaryDirectory() as tmp:
        tree = Tree(Path(tmp), "cost.bench", objects, one_file=one_file)
        feed = ManifestFeed(Path(tmp), options)
        gc.collect()
        gc.freeze()  # as the service does after its first load
        times = []
        for n in range(edits):
            i = (n * 7919) % objects
            tree.edit(i, f"198.51.100.{n % 250 + 1}")
            path = str(Path(tmp) / ("all.yaml" if one_file else f"s{i}.yaml"))
            t = time.perf_counter()
            reloaded = feed._refresh({path}, whole=False)  # what an event leads to
            assert reloaded is not None
            feed._install(reloaded)
            times.append(time.perf_counter() - t)
        gc.unfreeze()
    return sorted(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--edits", type=int, default=50)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--no-watch", action="store_true", help="poll (manifests_watch: false)")
    args = ap.parse_args()
    rows = []
    n = args.objects
    how = "polled" if args.no_watch else "watched"
    with server("bind") as s:
        for one_file, layout in ((True, "one file"), (False, "one file per object")):
            m = asyncio.run(
                measure(s, n, args.edits, args.idle, one_file=one_file, watch=not args.no_watch)
            )
            rows.append(
                {"figure": f"{how}, {layout}: {n} objects visible", "value": m["converged"]}
            )
            rows.append(
                {
                    "figure": f"{how}, {layout}: idle CPU (share of a core, {args.idle:g} s)",
                    "value": m["idle_cpu"],
                    "goal": "≤ 0.01",
                }
            )
            rows.append({"figure": f"{how}, {layout}: edit -> visible, p50", "value": m["p50"]})
            rows.append(
                {
                    "figure": f"{how}, {layout}: edit -> visible, p99",
                    "value": m["p99"],
                    "goal": "≤ 0.1",
                }
            )
    for one_file, layout in ((True, "one file"), (False, "one file per object")):
        cost = reload_cost(n, args.edits, one_file=one_file)
        rows.append(
            {"figure": f"{layout}: one edit's reload alone (no DNS), p50", "value": median(cost)}
        )
    report("manifests", rows)


if __name__ == "__main__":
    main()
