"""`dnssync sync --once` of N records while named is stopped mid-sync (issue #10, item 7).

Starts BIND, writes N Services as manifests, runs the real command, and as
soon as the zone's serial moves (the first UPDATE landed) sends named SIGSTOP
for ``--stop`` seconds (longer than the client timeout), then SIGCONT.  The
UPDATE in flight times out with its outcome unknown and lands when named
resumes, possibly after dnssync re-read the zone.  Reports the exit code, the
conflicts (rejected changes) dnssync reported, and the messages it sent
against the minimum (a sync from empty, undisturbed).

Run: ``python -m bench.unknown_outcome [--records 10000] [--stop 12] [--timeout 3]``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import yaml

from bench.common import ROOT, report, server
from bench.sync import config, manifests
from tests.dnsservers import DNSServer


def serial(s: DNSServer, zone: str) -> int:
    q = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
    return int(dns.query.udp(q, s.host, port=s.port, timeout=1).answer[0][0].serial)


def stop_when_written(s: DNSServer, zone: str, seconds: float, done: threading.Event) -> None:
    """SIGSTOP named once the first UPDATE landed; SIGCONT ``seconds`` later."""
    start = serial(s, zone)
    while not done.is_set() and serial(s, zone) == start:
        time.sleep(0.005)
    pid = s.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    time.sleep(seconds)
    os.kill(pid, signal.SIGCONT)


def sync_once(cfg: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    argv = [sys.executable, "-m", "dnssync", "sync", "--once", "-c", str(cfg)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, cwd=ROOT)


def with_timeout(cfg: Path, timeout: float) -> None:
    doc = yaml.safe_load(cfg.read_text())
    doc["targets"][0]["server"]["timeout"] = timeout
    cfg.write_text(yaml.safe_dump(doc))


def figures(done: subprocess.CompletedProcess[str]) -> tuple[int, int, int, int]:
    """(changes applied, messages, found in place late, conflicts) from the command's report."""
    m = re.search(r"applied (\d+) change\(s\) in (\d+) message\(s\)", done.stdout)
    applied, messages = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    late = re.search(r"\((\d+) found in place after an unknown outcome\)", done.stdout)
    return applied, messages, int(late.group(1)) if late else 0, done.stdout.count("rejected")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--stop", type=float, default=12.0, help="seconds named stays stopped")
    ap.add_argument("--timeout", type=float, default=3.0, help="the target's server.timeout")
    args = ap.parse_args()
    with server("bind") as s, tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        runs = {}
        for name, stop in (("undisturbed", False), ("stopped", True)):
            zone = f"{name}.outcome"
            s.add_zone(zone)
            mdir = tmp / name
            manifests(mdir, args.records)
            cfg = config(tmp, s, zone, mdir)
            with_timeout(cfg, args.timeout)
            finished = threading.Event()
            stopper = threading.Thread(
                target=stop_when_written, args=(s, zone, args.stop, finished), daemon=True
            )
            if stop:
                stopper.start()
            started = time.perf_counter()
            done = sync_once(cfg)
            elapsed = time.perf_counter() - started
            finished.set()
            if stop:
                stopper.join()
            again = sync_once(cfg)
            runs[name] = (done, elapsed, again)
        for name, (done, elapsed, again) in runs.items():
            applied, messages, late, conflicts = figures(done)
            print(
                f"{name:<12} exit {done.returncode}  applied {applied}  messages {messages}  "
                f"found in place late {late}  conflicts {conflicts}  {elapsed:.1f} s  "
                f"(re-run: exit {again.returncode}, "
                f"{'in step' if 'in step' in again.stdout else 'NOT in step'})"
            )
            if done.returncode != 0:
                print(done.stdout[-1500:], done.stderr[-1500:], sep="\n")
        rows = []
        for name, (done, elapsed, _) in runs.items():
            applied, messages, late, conflicts = figures(done)
            rows.append(
                {
                    "figure": f"{args.records} sync --once, {name}: exit {done.returncode}, "
                    f"{conflicts} conflicts, {messages} messages, {late} found in place late",
                    "value": elapsed,
                }
            )
        report("unknown_outcome", rows)


if __name__ == "__main__":
    main()
