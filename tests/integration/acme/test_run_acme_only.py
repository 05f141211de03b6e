"""`dnssync run` as an ACME-only replica: `targets: []` and an `acme:` section."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.dnsservers import BindServer
from tests.integration.acme.conftest import (
    GROUP,
    HEADERS,
    PROXY_CN,
    SOLVER,
    Certs,
    https,
    payload,
    server_entry,
    txt_at,
)

pytestmark = pytest.mark.timeout(90)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path, bind: BindServer, zone: str, certs: Certs, port: int) -> Path:
    cfg = {
        "targets": [],
        "http": {"host": "127.0.0.1", "port": 0},
        "acme": {
            "servers": [server_entry(bind, [zone])],
            "webhook": {
                "host": "127.0.0.1",
                "port": port,
                "group_name": GROUP,
                "solver_name": SOLVER,
                "cert_file": str(certs.cert_file),
                "key_file": str(certs.key_file),
                "client_ca_file": str(certs.front_ca_file),
                "allowed_names": [PROXY_CN],
            },
            "challenges": {"enabled": False},
        },
    }
    path = tmp / "dnssync.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


async def _present(
    proc: asyncio.subprocess.Process, url: str, body: bytes, certs: Certs, within: float
) -> int:
    """POST a Present until the webhook answers (it starts with the process); 0 if it died."""
    async with asyncio.timeout(within), https(certs.client_context(certs.proxy)) as session:
        while proc.returncode is None:
            try:
                async with session.post(url, data=body, headers=HEADERS) as resp:
                    return resp.status
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.1)
    return 0


async def test_acme_only_replica_serves_the_webhook_and_stops_cleanly(
    bind_server: BindServer, acme_zone: str, certs: Certs, tmp_path: Path
) -> None:
    """`targets: []` + `acme:`: the webhook writes a value; SIGTERM exits 0, no traceback."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSSYNC_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dnssync",
        "run",
        "-c",
        str(_config(tmp_path, bind_server, acme_zone, certs, port)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    record = f"_acme-challenge.www.{acme_zone}"
    key = secrets.token_urlsafe(32)
    url = f"https://127.0.0.1:{port}/apis/{GROUP}/v1alpha1/{SOLVER}"
    body = json.dumps(payload("Present", key, record=record)).encode()
    try:
        status = await _present(proc, url, body, certs, 30)
        if status == 0:
            _, err = await proc.communicate()
            pytest.fail(f"dnssync run ended: {err.decode(errors='replace')[-3000:]}")
        assert status == 201
        assert key in await txt_at(bind_server, record)
        assert proc.returncode is None
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = err.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "AssertionError" not in text, text
