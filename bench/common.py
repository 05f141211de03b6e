"""Shared bench helpers: timing, servers, reporting."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.tsig

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.dnsservers import DNSServer, TsigKey, start_server  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def tsig(key: TsigKey) -> dns.tsig.Key:
    return dns.tsig.Key(key.name, key.secret, key.algorithm)


@contextmanager
def server(kind: str = "bind") -> Iterator[DNSServer]:
    s = start_server(kind)
    try:
        yield s
    finally:
        s.close()


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median(xs: list[float]) -> float:
    return statistics.median(xs)


@dataclass(frozen=True)
class Ran:
    """One finished process: wall and CPU (user + system) seconds, peak RSS in MiB."""

    wall: float
    cpu: float
    peak_mib: float


def run_process(argv: list[str], env: dict[str, str]) -> Ran:
    """Run ``argv`` from the repository root; exit 0 or 2 (pending changes) expected.

    The CPU time is the steadier figure on a machine shared with other work.
    """
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, stdout=out, stderr=out, env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - t
        code = child.returncode = os.waitstatus_to_exitcode(status)
        if code not in (0, 2):
            out.seek(0)
            tail = out.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{argv[:5]} failed ({code}): {tail}")
    # ru_maxrss is in KiB on Linux.
    return Ran(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def report(name: str, rows: list[dict[str, Any]]) -> None:
    """Print a table and keep a JSON copy under bench/results/."""
    width = max(len(r["figure"]) for r in rows)
    print(f"\n{name}")
    for r in rows:
        goal = r.get("goal", "")
        goal = goal if isinstance(goal, str) else f"≤ {goal}"
        ratio = f"  ratio {r['ratio']:.2f} (goal {goal})" if "ratio" in r else ""
        unit = r.get("unit", "s")
        value = f"{r['value']:.4f} s" if unit == "s" else f"{r['value']:.1f} {unit}"
        print(f"  {r['figure']:<{width}}  {value}{ratio}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=2))
