"""Run every benchmark in bench/ and print one table: figure, value, floor, ratio, goal.

Each benchmark module (``bench/<name>.py`` with a ``main()``) runs as its own
process, ``python -m bench.<name>``, one after the other (never in parallel:
they share the machine's cores with their floors).  Each writes its rows to
``bench/results/<name>.json`` through ``bench.common.report``; this script
reads them back and prints them together.  A row with a ``ratio`` was
measured against the floor row before it in the same run: the floor's value is
``value / ratio`` (or the row's own ``floor``), and the goal is the ratio's.

Run: ``make bench`` or ``python bench/run_all.py [--quick] [--only NAME ...]``.
``--quick`` passes small sizes to the benchmarks it knows (a smoke run whose
figures are not the issue's); any other arguments after ``--`` go to every
benchmark.  Exit status: 1 when a benchmark failed to run, else 0; goals
missed are shown in the table, not turned into a failure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
NOT_BENCHMARKS = {"__init__", "common", "run_all", "fuzz_decoders"}  # fuzz: `make fuzz`

# Small sizes for a smoke run, per benchmark that takes them.
QUICK: dict[str, list[str]] = {
    "engine": ["--records", "1000", "--rounds", "1"],
    "sync": ["--records", "1000", "--rounds", "1"],
    "service": [
        *("--objects", "100", "--changes", "20"),
        *("--zone-records", "1000", "--informer-objects", "1000"),
    ],
    "gateway": ["--routes", "1000", "--gateways", "100", "--services", "1000"],
    "acme": ["--rounds", "20"],
    "oneshot": ["--records", "1000", "--rounds", "1"],
    "acme_burst": ["--challenges", "200"],
    "unknown_outcome": ["--records", "1000", "--stop", "4", "--timeout", "1"],
    "manifests": ["--objects", "1000", "--edits", "10", "--idle", "2"],
}


@dataclass(frozen=True)
class Row:
    """One figure of one benchmark, with its floor and goal when it was compared."""

    bench: str
    figure: str
    value: float
    floor: float | None
    ratio: float | None
    goal: str

    @property
    def verdict(self) -> str:
        """'ok' / 'over' when the goal is a number the ratio can be held to, else ''."""
        if self.ratio is None:
            return ""
        try:
            limit = float(self.goal.removeprefix("≤").strip())
        except ValueError:
            return ""
        return "ok" if self.ratio <= limit else "over"


def benchmarks() -> list[str]:
    """Every benchmark module in bench/, in name order."""
    return sorted(
        p.stem
        for p in BENCH.glob("*.py")
        if p.stem not in NOT_BENCHMARKS and "def main(" in p.read_text()
    )


def rows_of(bench: str, raw: list[dict[str, Any]]) -> list[Row]:
    """The rows a benchmark reported, with the floor made explicit."""
    out = []
    for r in raw:
        ratio = r.get("ratio")
        floor = r.get("floor")
        if floor is None and ratio:
            floor = r["value"] / ratio
        goal = r.get("goal", "")
        goal = goal if isinstance(goal, str) else f"≤ {goal}"
        out.append(Row(bench, r["figure"].strip(), float(r["value"]), floor, ratio, goal))
    return out


def run_one(bench: str, args: list[str]) -> tuple[list[Row], str | None]:
    """Run ``python -m bench.<bench>``; its rows, or the reason it produced none."""
    result = RESULTS / f"{bench}.json"
    result.unlink(missing_ok=True)
    print(f"== bench.{bench} {' '.join(args)}", flush=True)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", f"bench.{bench}", *args], cwd=ROOT, check=False)
    took = time.monotonic() - started
    if done.returncode != 0:
        return [], f"exited {done.returncode} after {took:.0f} s"
    if not result.is_file():
        return [], f"wrote no {result.relative_to(ROOT)}"
    print(f"   ({took:.0f} s)", flush=True)
    return rows_of(bench, json.loads(result.read_text())), None


def table(rows: list[Row]) -> str:
    """The combined table, one line per figure."""
    head = ("bench", "figure", "value", "floor", "ratio", "goal", "verdict")
    lines = [
        (
            r.bench,
            r.figure,
            f"{r.value:.4f} s",
            "" if r.floor is None else f"{r.floor:.4f} s",
            "" if r.ratio is None else f"{r.ratio:.2f}",
            r.goal,
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*head).rstrip(), rule, *(fmt.format(*x).rstrip() for x in lines)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="these benchmarks only")
    ap.add_argument("extra", nargs="*", help="arguments for every benchmark (after --)")
    args = ap.parse_args(argv)
    known = benchmarks()
    chosen = args.only or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    rows: list[Row] = []
    failed: dict[str, str] = {}
    for bench in chosen:
        bench_args = [*(QUICK.get(bench, []) if args.quick else []), *args.extra]
        got, error = run_one(bench, bench_args)
        rows.extend(got)
        if error:
            failed[bench] = error
    print()
    print(table(rows))
    for bench, error in failed.items():
        print(f"bench.{bench}: FAILED ({error})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
