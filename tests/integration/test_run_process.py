"""`dnssync run` as a process: SIGTERM releases the Lease; a port in use is one line."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dnsservers import DNSServer
from tests.fakekube import FakeKube, fake_kube

_count = itertools.count()


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


def _config(tmp: Path, kube: FakeKube, server: DNSServer, zone: str, port: int = 0) -> Path:
    secret = tmp / "tsig.secret"
    secret.write_text(server.key.secret + "\n")
    secret.chmod(0o600)
    cfg: dict[str, Any] = {
        "kubernetes": {"kubeconfig": str(kube.write_kubeconfig(tmp))},
        "leader_election": {
            "lease_name": "proc",
            "namespace": "default",
            "duration": 15.0,
            "renew_deadline": 10.0,
            "retry_period": 0.5,
        },
        "http": {"host": "127.0.0.1", "port": port},
        "targets": [
            {
                "name": "internal",
                "server": {"host": server.host, "port": server.port},
                "zones": [zone],
                "key": {
                    "name": server.key.name,
                    "algorithm": "HMACSHA256",
                    "secret_file": str(secret),
                },
                "owner_id": "proc-test",
                "annotation_filter": "external-dns.alpha.kubernetes.io/manage=mdapi",
                "annotation_prefix": "external-dns.alpha.kubernetes.io/",
            }
        ],
    }
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


async def start(cfg: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dnssync",
        "run",
        "-c",
        str(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


def holder(kube: FakeKube) -> str | None:
    lease = kube.get("coordination.k8s.io/v1", "Lease", "proc", "default")
    return None if lease is None else str(lease["spec"].get("holderIdentity") or "")


async def test_sigterm_releases_the_lease_and_exits_promptly(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """SIGTERM: the holder field is cleared before the process exits 0, within 2 s."""
    zone = f"proc{next(_count)}.test"
    bind_server.add_zone(zone)
    proc = await start(_config(tmp_path, kube, bind_server, zone))
    try:
        async with asyncio.timeout(60):
            while not holder(kube):
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        took = time.monotonic() - sent
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert holder(kube) == ""
    assert b"could not release" not in err and b"Traceback" not in err
    assert took < 2.0 + 1.0  # the 2 s, plus process teardown on a loaded machine


async def test_a_port_in_use_is_one_line_not_a_traceback(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """The HTTP port taken: exit 1 with one line naming host and port; nothing half-started."""
    zone = f"proc{next(_count)}.test"
    bind_server.add_zone(zone)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await start(_config(tmp_path, kube, bind_server, zone, port=port))
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 1, text
    assert f"127.0.0.1:{port}" in text and "Traceback" not in text
    assert "never awaited" not in text
    assert len(text.strip().splitlines()) == 1
