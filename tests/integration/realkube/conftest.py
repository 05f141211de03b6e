"""Fixtures of the real-apiserver tier: `dnssync run` processes, Services, DNS look-ups.

dnssync runs as its own process (``python -m dnssync run -c FILE``), as in a Pod: with a
ServiceAccount token (TokenRequest) bound only by config/deploy's RBAC, a real BIND as its
target, and the apiserver restarted or its peers killed under it. Objects are written with the
admin's kubectl, a fresh process each time, so a restarted apiserver is never reached through a
stale connection of the test's own.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import pytest
import yaml

from tests.dnsservers import BindServer
from tests.realkube import ControlPlane, cert_manager_crd, free_port

MANAGE = "external-dns.alpha.kubernetes.io/manage"
APPS = "apps"  # the namespace the tier's Services live in
LEASE = {"duration": 8.0, "renew_deadline": 5.0, "retry_period": 1.0}
_numbers = itertools.count(1)


@dataclass
class Dnssync:
    """One ``dnssync run`` process with its config and log."""

    config: Path
    log: Path
    http_port: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def start(self) -> Dnssync:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dnssync", "run", "-c", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.started = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def leading(self) -> bool:
        status, text = self.get("/metrics")
        return status == 200 and "\ndnssync_leader 1.0" in text

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def describe(self) -> str:
        """Exit state and the log's tail, for assertion messages."""
        code = None if self.proc is None else self.proc.poll()
        return f"dnssync (exit {code}) log tail:\n{self.output()[-4000:]}"


@dataclass
class Tier:
    """What a test of this tier works with: the cluster, BIND, a zone, dnssync processes."""

    plane: ControlPlane
    bind: BindServer
    zone: str
    workdir: Path
    kubeconfig: Path
    processes: list[Dnssync] = field(default_factory=list)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A `dnssync run` config: this zone on BIND, the ServiceAccount's kubeconfig."""
        key_file = self.workdir / "tsig.key"
        key_file.write_text(self.bind.key.secret)
        cfg: dict[str, Any] = {
            "targets": [
                {
                    "name": "real",
                    "server": {"host": self.bind.host, "port": self.bind.port, "timeout": 2.0},
                    "zones": [self.zone],
                    "key": {
                        "name": self.bind.key.name,
                        "algorithm": self.bind.key.algorithm,
                        "secret_file": str(key_file),
                    },
                    "policy": "sync",
                    "owner_id": "realk8s",
                    "txt_prefix": "extdns-",
                    "annotation_filter": f"{MANAGE}=mdapi",
                    "annotation_prefix": "external-dns.alpha.kubernetes.io/",
                    "sources": ["service"],
                    "interval": 3600,
                }
            ],
            "kubernetes": {"kubeconfig": str(self.kubeconfig), "watch_timeout": 60},
            "leader_election": {"enabled": True, "lease_name": "dnssync", "namespace": "dnssync"}
            | LEASE,
            "reconcile": {"debounce": 0.01, "backoff_max": 1.0, "readiness_grace": 0.0},
            "log": {"level": "info"},
        }
        cfg.update(overrides)
        return cfg

    def dnssync(self, cfg: dict[str, Any] | None = None) -> Dnssync:
        """Start a `dnssync run`; it is stopped at the end of the test."""
        n = len(self.processes)
        cfg = dict(cfg or self.config())
        port = free_port()
        cfg["http"] = {"host": "127.0.0.1", "port": port}
        path = self.workdir / f"dnssync-{n}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        process = Dnssync(path, self.workdir / f"dnssync-{n}.log", port).start()
        self.processes.append(process)
        return process

    def service(self, name: str, ip: str, **annotations: str) -> dict[str, Any]:
        """An opted-in Service publishing ``name.<zone>`` → ``ip``."""
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": APPS,
                "annotations": {
                    MANAGE: "mdapi",
                    "external-dns.alpha.kubernetes.io/hostname": f"{name}.{self.zone}",
                    "external-dns.alpha.kubernetes.io/target": ip,
                    **annotations,
                },
            },
            "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": 80}]},
        }

    def retarget(self, name: str, ip: str) -> None:
        """Point Service ``name`` at ``ip`` (a merge patch by the admin)."""
        patch = {"metadata": {"annotations": {"external-dns.alpha.kubernetes.io/target": ip}}}
        self.plane.kubectl(
            "patch", "service", name, "-n", APPS, "--type=merge", "-p", json.dumps(patch)
        )

    def lookup(self, name: str, rdtype: str = "A") -> list[str]:
        query = dns.message.make_query(f"{name}.{self.zone}.", rdtype)
        try:
            answer = dns.query.tcp(query, self.bind.host, port=self.bind.port, timeout=1)
        except (OSError, dns.exception.DNSException):
            return []
        return sorted(rd.to_text() for rrset in answer.answer for rd in rrset)


def wait_until(
    condition: Callable[[], object], within: float, what: str, *, every: float = 0.05
) -> float:
    """Poll until ``condition()`` is true; the seconds it took. AssertionError naming ``what``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within:g} s")
        time.sleep(every)
    return time.monotonic() - started


def start_publishing(tier: Tier, name: str = "web", ip: str = "192.0.2.10") -> None:
    """Create Service ``name`` and wait for a dnssync of ``tier`` to publish it."""
    tier.plane.apply([tier.service(name, ip)])
    wait_until(lambda: tier.lookup(name) == [ip], 30, f"{name} published as {ip}")


@pytest.fixture(scope="session")
def sa_kubeconfig(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig of ServiceAccount dnssync/dnssync (TokenRequest), bound by config/deploy."""
    control_plane.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APPS}}])
    # The Challenge watcher's kind, as cert-manager installs it.
    control_plane.install_crd(cert_manager_crd("challenges"))
    path = tmp_path_factory.mktemp("sa") / "dnssync.kubeconfig"
    return control_plane.service_account_kubeconfig("dnssync", "dnssync", path)


APISERVICE = "v1alpha1.acme.dnssync.io"  # config/acme/apiservice.yaml


@pytest.fixture
def tier(
    control_plane: ControlPlane, bind_server: BindServer, sa_kubeconfig: Path, tmp_path: Path
) -> Iterator[Tier]:
    """A fresh zone on BIND, and no Services or Lease left from an earlier test."""
    zone = f"real{next(_numbers)}.test"
    bind_server.add_zone(zone)
    control_plane.kubectl("delete", "services", "--all", "-n", APPS, "--wait=false")
    control_plane.kubectl("delete", "lease", "dnssync", "-n", "dnssync", "--ignore-not-found")
    tier = Tier(control_plane, bind_server, zone, tmp_path, sa_kubeconfig)
    yield tier
    for process in tier.processes:
        process.stop()
    # The webhook behind the shipped APIService is gone with its process: an unavailable
    # aggregated API slows every later client's discovery (each kubectl call waited on it).
    control_plane.kubectl("delete", "apiservice", APISERVICE, "--ignore-not-found", "--wait=false")
