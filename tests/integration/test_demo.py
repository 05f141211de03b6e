"""The README's first command: `dnssync demo` on a fresh BIND9, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_syncs_the_examples_and_converges() -> None:
    """The demo publishes the example manifests, plans again to nothing, and stops BIND9."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "dnssync", "demo"],
        cwd=ROOT,
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
    pid_file = ROOT / ".demo" / "named.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        assert not Path(f"/proc/{pid}").exists(), "the demo left BIND9 running"
