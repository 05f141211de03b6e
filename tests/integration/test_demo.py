"""The README's first command: `dnssync demo` on a fresh BIND9, end to end."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def test_demo_syncs_the_examples_and_converges(tmp_path: Path) -> None:
    """From any directory, the demo publishes the example manifests, plans again to nothing,
    and stops BIND9 and removes its files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "dnssync", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "grafana.home.tillo.ch" in out
    assert "in step" in out
    assert "router.home.tillo.ch." in out  # the manual record, untouched, in the dig output
    found = re.search(r"\(workdir (\S+)\)", out)
    assert found is not None, out
    assert not Path(found.group(1)).exists(), "the demo left its BIND9 directory behind"
    assert not list(tmp_path.iterdir()), "the demo wrote into the working directory"


def test_demo_keep_leaves_bind_running_and_says_how_to_reach_it(tmp_path: Path) -> None:
    """--keep: BIND9 still answers afterwards, and the output says its pid, port and files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    result = subprocess.run(
        [sys.executable, "-m", "dnssync", "demo", "--keep"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"pid (\d+)\) on 127\.0\.0\.1:(\d+), files in (\S+):", result.stdout)
    assert found is not None, result.stdout
    pid, workdir = int(found.group(1)), Path(found.group(3))
    try:
        assert Path(f"/proc/{pid}").exists(), "BIND9 did not keep running"
        assert f"dig @127.0.0.1 -p {found.group(2)}" in result.stdout
    finally:
        os.kill(pid, signal.SIGTERM)
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_bind_that_cannot_start_is_exit_1_with_named_s_reason_in_one_line(
    tmp_path: Path,
) -> None:
    """BIND9 refusing its config (a quote in the temp path): exit 1, one line, named's cause."""
    tmp = tmp_path / 'q"uote'
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["TMPDIR"] = str(tmp)
    result = subprocess.run(
        [sys.executable, "-m", "dnssync", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("dnssync demo: BIND9 did not start: ") and "named.conf:" in line, line
    assert "Traceback" not in result.stderr and not result.stdout
    assert not list(tmp.iterdir()), "the demo left its BIND9 directory behind"


def test_a_demo_usage_error_is_exit_2_in_one_line() -> None:
    """An unknown demo option: exit 2 with argparse's one-line cause, BIND9 never started."""
    result = subprocess.run(
        [sys.executable, "-m", "dnssync", "demo", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-option" in result.stderr.strip().splitlines()[-1]
    assert "BIND9" not in result.stdout
