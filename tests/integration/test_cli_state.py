"""The CLI's state directory against real BIND9: an unchanged zone costs one SOA query.

Each run is a real ``dnssync`` process; what it cost is read from BIND's own
counters (``rndc stats``), taken just before and after the run.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import dns.query
import dns.tsig
import dns.update
import pytest
import yaml

from tests.dnsservers import BindServer

ROOT = Path(__file__).resolve().parents[2]
_zones = itertools.count()
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/hostname: {name}.{zone}
    external-dns.alpha.kubernetes.io/target: {ip}
"""
COUNTED = ("QUERY", "UPDATE", "SOA", "AXFR", "IXFR")


class Setup:
    """A fresh zone, a manifests directory for it, a config and a state directory."""

    def __init__(self, server: BindServer, tmp: Path) -> None:
        self.server = server
        self.zone = f"state{next(_zones)}.test"
        server.add_zone(self.zone)
        self.state = tmp / "state"
        self.manifests = tmp / "manifests"
        self.manifests.mkdir(parents=True)
        self.services({"web": "192.0.2.10", "api": "192.0.2.11"})
        secret = tmp / "tsig.secret"
        secret.write_text(server.key.secret + "\n")
        secret.chmod(0o600)
        target = {
            "name": "t",
            "server": {"host": server.host, "port": server.port},
            "zones": [self.zone],
            "key": {"name": server.key.name, "secret_file": str(secret)},
            "policy": "sync",
            "owner_id": "state-test",
            "txt_prefix": "extdns-",
            "annotation_prefix": "external-dns.alpha.kubernetes.io/",
        }
        self.config = tmp / "dnssync.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "manifests": str(self.manifests),
                    "state_dir": str(self.state),
                    "targets": [target],
                }
            )
        )

    def services(self, ips: dict[str, str]) -> None:
        docs = [SERVICE.format(name=n, zone=self.zone, ip=ip) for n, ip in ips.items()]
        (self.manifests / "services.yaml").write_text("---\n".join(docs))

    def run(self, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
        """One ``dnssync`` process and what BIND counted while it ran."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
        env["COLUMNS"] = "200"
        before = self.server.request_counts()
        done = subprocess.run(
            [sys.executable, "-m", "dnssync", *args, "-c", str(self.config)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        after = self.server.request_counts()
        cost = {k: after.get(k, 0) - before.get(k, 0) for k in COUNTED}
        return done, {k: v for k, v in cost.items() if v}

    def forget_idle(self) -> None:
        for mark in (self.state / "idle").glob("*.json"):
            mark.unlink()

    def snapshot_files(self) -> list[Path]:
        return sorted((self.state / "zones").glob("*.json"))

    def write_behind_our_back(self, name: str, ip: str) -> None:
        key = dns.tsig.Key(self.server.key.name, self.server.key.secret, self.server.key.algorithm)
        update = dns.update.UpdateMessage(self.zone + ".", keyring=key)
        update.replace(f"{name}.{self.zone}.", 300, "A", ip)
        answer = dns.query.tcp(update, self.server.host, port=self.server.port, timeout=10)
        assert answer.rcode() == 0


@pytest.fixture
def setup(bind_server: BindServer, tmp_path: Path) -> Setup:
    """A synced zone whose snapshot the state directory holds."""
    s = Setup(bind_server, tmp_path)
    done, _ = s.run("sync", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "applied 2 change(s)" in done.stdout  # two A records (and their ownership TXTs)
    return s


def test_second_no_op_run_costs_one_soa_query(setup: Setup) -> None:
    """After a sync, `sync --once` and `plan` with nothing to do each cost one SOA query."""
    for command in (["sync", "--once"], ["plan"], ["sync", "--once"]):
        done, cost = setup.run(*command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "in step (read: none)" in done.stdout
        assert cost == {"QUERY": 1, "SOA": 1}, command


def test_without_state_every_run_transfers(setup: Setup) -> None:
    """--no-state reads the zone in full: the saving comes from the state directory."""
    done, cost = setup.run("plan", "--no-state")
    assert done.returncode == 0, done.stdout + done.stderr
    assert cost.get("AXFR") == 1


def test_damaged_snapshot_is_one_log_line_and_a_transfer(setup: Setup) -> None:
    """A flipped byte or a file cut short: one warning, a fresh AXFR, the right plan."""
    (path,) = setup.snapshot_files()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    for damaged in (bytes(data), path.read_bytes()[: len(data) // 3], b""):
        path.write_bytes(damaged)
        setup.forget_idle()  # else a quiet run's mark answers without reading the snapshot
        done, cost = setup.run("plan")
        assert done.returncode == 0, done.stdout + done.stderr
        assert cost.get("AXFR") == 1 and "IXFR" not in cost
        assert [line for line in done.stderr.splitlines() if "damaged" in line] == [
            f"WARNING dnssync.statefile: state: zone snapshot {path} is damaged; starting afresh"
        ]
    done, cost = setup.run("plan")  # the transfer wrote a good one again
    assert cost == {"QUERY": 1, "SOA": 1}


def test_another_writer_bumps_the_serial_and_the_plan_sees_it(setup: Setup) -> None:
    """A change behind our back is never hidden: its new serial brings a transfer."""
    setup.write_behind_our_back("web", "198.51.100.99")
    done, cost = setup.run("plan")
    assert done.returncode == 2, done.stdout + done.stderr  # changes pending
    assert "198.51.100.99 → 192.0.2.10" in done.stdout
    assert cost.get("IXFR", 0) + cost.get("AXFR", 0) == 1
    done, cost = setup.run("sync", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    done, cost = setup.run("plan")
    assert "in step (read: none)" in done.stdout
    assert cost == {"QUERY": 1, "SOA": 1}


def test_own_changes_keep_the_snapshot_current(setup: Setup) -> None:
    """A sync reads back only its own change (IXFR); no-ops after it cost one SOA."""
    setup.services({"web": "192.0.2.20", "api": "192.0.2.11", "new": "192.0.2.12"})
    done, cost = setup.run("sync", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AXFR" not in cost and cost.get("IXFR") == 1
    done, cost = setup.run("plan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert cost == {"QUERY": 1, "SOA": 1}


def test_snapshot_of_another_zone_or_server_is_not_used(setup: Setup, tmp_path: Path) -> None:
    """A snapshot file copied under another zone's name is refused (its identity differs)."""
    (path,) = setup.snapshot_files()
    other = Setup(setup.server, tmp_path / "other")
    done, _ = other.run("plan", "--state-dir", str(setup.state))  # writes its own file
    assert done.returncode == 2, done.stdout + done.stderr
    (theirs,) = [p for p in setup.snapshot_files() if p != path]
    theirs.write_bytes(path.read_bytes())
    done, cost = other.run("plan", "--state-dir", str(setup.state))
    assert done.returncode == 2, done.stdout + done.stderr
    assert cost.get("AXFR") == 1
    assert "written for another server, zone or format" in done.stderr


def test_quiet_run_leaves_a_mark_that_a_changed_input_ignores(setup: Setup) -> None:
    """After a quiet run, an edited manifest or another option is a full run with the right plan."""
    done, _ = setup.run("plan")  # quiet: leaves the idle mark
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list((setup.state / "idle").glob("*.json"))) == 1
    setup.services({"web": "192.0.2.10", "api": "192.0.2.77"})
    done, cost = setup.run("plan")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "192.0.2.11 → 192.0.2.77" in done.stdout
    assert cost == {"QUERY": 1, "SOA": 1}  # the zone came from the snapshot
    assert list((setup.state / "idle").glob("*.json")) == []  # not quiet: no mark
    setup.services({"web": "192.0.2.10", "api": "192.0.2.11"})
    done, _ = setup.run("plan")
    assert done.returncode == 0, done.stdout + done.stderr
    config = setup.config.read_text().replace("owner_id: state-test", "owner_id: someone-else")
    setup.config.write_text(config)
    done, _ = setup.run("plan")  # another owner: the records are someone else's now
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped web." in done.stdout and "owned by 'state-test'" in done.stdout


def test_input_errors_leave_no_mark(setup: Setup) -> None:
    """A run with a broken manifest is never remembered as quiet."""
    (setup.manifests / "broken.yaml").write_text("kind: Service\nmetadata: {name: x\n")
    for _ in range(2):
        done, _ = setup.run("plan")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "input:" in done.stderr
