"""bench/run_all.py: it finds every benchmark, passes each only its own options, tabulates rows."""

from __future__ import annotations

import subprocess
import sys

from bench import run_all


def test_every_benchmark_is_found() -> None:
    """Each bench/*.py with a main() is run; the helpers and run_all itself are not."""
    found = run_all.benchmarks()
    assert {"engine", "sync", "service", "acme"} <= set(found)
    assert not set(found) & run_all.NOT_BENCHMARKS
    assert set(run_all.QUICK) <= set(found)


def test_quick_options_are_the_benchmarks_own() -> None:
    """Every --quick option is one the benchmark's own --help lists."""
    for bench, args in run_all.QUICK.items():
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{bench}", "--help"],
            capture_output=True,
            text=True,
            cwd=run_all.ROOT,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        for option in (a for a in args if a.startswith("--")):
            assert option in done.stdout, f"bench.{bench} has no {option}"


def test_rows_show_floor_ratio_and_verdict() -> None:
    """A compared row gets its floor (value / ratio) and a verdict against a numeric goal."""
    rows = run_all.rows_of(
        "sync",
        [
            {"figure": "raw floor", "value": 2.0},
            {"figure": "ours", "value": 3.0, "ratio": 1.5, "goal": 1.3},
            {"figure": "  info", "value": 1.0, "ratio": 0.5, "goal": "≥ 4 (speed-up)"},
        ],
    )
    assert [r.floor for r in rows] == [None, 2.0, 2.0]
    assert [r.verdict for r in rows] == ["", "over", ""]
    text = run_all.table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["bench", "figure", "value", "floor", "ratio", "goal", "verdict"]
    assert "2.0000 s" in lines[3] and "1.50" in lines[3] and lines[3].endswith("over")
    assert len(lines) == 5
