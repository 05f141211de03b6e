"""`dnssync plan` / `sync --once` without a manifests directory: one list of the cluster."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.message
import pytest
import yaml

from tests.dnsservers import DNSServer
from tests.fakekube import FakeKube, fake_kube

MANAGE = "external-dns.alpha.kubernetes.io/manage"
_count = itertools.count()


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with fake_kube() as k:
        yield k


def _config(tmp: Path, kubeconfig: Path, server: DNSServer, zone: str) -> Path:
    secret = tmp / "tsig.secret"
    secret.write_text(server.key.secret + "\n")
    secret.chmod(0o600)
    cfg = {
        "kubernetes": {"kubeconfig": str(kubeconfig)},
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
                "policy": "upsert-only",
                "owner_id": "cluster-plan",
                "txt_prefix": "extdns-",
                "annotation_filter": f"{MANAGE}=mdapi",
                "annotation_prefix": "external-dns.alpha.kubernetes.io/",
            }
        ],
    }
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


async def dnssync(*args: str) -> tuple[int, str, str]:
    """Run the CLI as a process without blocking the loop the fake API runs in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    env["COLUMNS"] = "200"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dnssync",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def lookup(server: DNSServer, name: str) -> list[str]:
    q = dns.message.make_query(name + ".", "A")
    r = await dns.asyncquery.tcp(q, server.host, port=server.port, timeout=2)
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


async def test_plan_and_sync_once_list_the_cluster(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """plan shows the cluster's changes (exit 2), sync --once applies them, plan is then clean."""
    zone = f"cl{next(_count)}.test"
    bind_server.add_zone(zone)
    kube.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "app", "namespace": "web", "annotations": {MANAGE: "mdapi"}},
            "spec": {"rules": [{"host": f"app.{zone}"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.70"}]}},
        }
    )
    cfg = _config(tmp_path, kube.write_kubeconfig(tmp_path), bind_server, zone)
    code, out, err = await dnssync("plan", "-c", str(cfg))
    assert code == 2, err
    assert f"app.{zone}" in out and "192.0.2.70" in out
    code, out, err = await dnssync("sync", "--once", "-c", str(cfg))
    assert code == 0, err
    assert await lookup(bind_server, f"app.{zone}") == ["192.0.2.70"]
    code, out, err = await dnssync("plan", "-c", str(cfg))
    assert code == 0, out + err
    assert not [path for method, path in kube.requests if "watch=" in path]


async def test_a_refused_list_is_one_line_and_exit_1(
    kube: FakeKube, bind_server: DNSServer, tmp_path: Path
) -> None:
    """Without RBAC to list, plan says so in one line and fails."""
    zone = f"cl{next(_count)}.test"
    bind_server.add_zone(zone)
    cfg = _config(tmp_path, kube.write_kubeconfig(tmp_path), bind_server, zone)
    kube.fail_for(403, 60)
    code, _out, err = await dnssync("plan", "-c", str(cfg))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "403 Forbidden" in lines[0] and "Traceback" not in err
