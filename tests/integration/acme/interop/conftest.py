"""Fixtures for the interop tier: Pebble on loopback validating against the session's BIND.

- `pebble`: Pebble (Let's Encrypt's test CA) with ``-dnsserver`` pointed at `bind_server`,
  ``PEBBLE_VA_NOSLEEP=1``, no bad-nonce injection and no authorization reuse, so every
  order is validated through DNS. Its HTTPS certificate is signed by Pebble's test CA,
  trusted only by the clients these tests start (``ca_file``).
- `hook_config(zone)`: a dnssync config file whose acme section writes into ``zone``.
- `leftovers(server, zone)`: ``_acme-challenge`` values and ``_dnssync-acme`` markers
  still in the zone (read by AXFR), which must be none after every issuance.

Peers come from tests/peers (built into the cache on first use); a peer that cannot be
built fails the test with the build's output. Nothing here skips.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.query
import dns.tsig
import dns.zone
import pytest

from tests.dnsservers import BindServer
from tests.peers import pebble as pebble_peer
from tests.peers._common import PeerUnavailable

ROOT = Path(__file__).resolve().parents[4]
START_TIMEOUT = 20.0


def peer_path(peer: object, relative: str) -> Path:
    """A built peer file, or a loud failure with the build's reason (never a skip)."""
    try:
        return peer.path(relative)  # type: ignore[attr-defined, no-any-return]
    except PeerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pebble:
    """A running Pebble: its ACME directory URL and the CA file its clients trust."""

    directory: str
    ca_file: Path
    process: subprocess.Popen[bytes]
    log: Path


def _wait_for(url: str, ca_file: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"pebble exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=1) as answer:
                json.load(answer)
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"pebble did not answer {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)


@pytest.fixture(scope="session")
def pebble(bind_server: BindServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pebble]:
    """Pebble on loopback; its DNS-01 checks ask the session's BIND."""
    binary = peer_path(pebble_peer.PEER, "bin/pebble")
    certs = binary.parent.parent / "test" / "certs"
    work = tmp_path_factory.mktemp("pebble")
    port = free_port()
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{free_port()}",
            "certificate": str(certs / "localhost" / "cert.pem"),
            "privateKey": str(certs / "localhost" / "key.pem"),
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            # No Retry-After: clients poll at their own pace, as against a fast CA.
            "retryAfter": {"authz": 0, "order": 0},
        }
    }
    (work / "pebble.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_AUTHZREUSE": "0",
    }
    log = work / "pebble.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                "-config",
                work / "pebble.json",
                "-dnsserver",
                f"{bind_server.host}:{bind_server.port}",
            ],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    directory = f"https://127.0.0.1:{port}/dir"
    try:
        _wait_for(directory, certs / "pebble.minica.pem", process, log)
        yield Pebble(directory, certs / "pebble.minica.pem", process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_hook_config(
    directory: Path,
    server: BindServer,
    zone: str,
    *,
    servers_nameservers: list[str] | None = None,
    **acme: object,
) -> Path:
    """A dnssync config (YAML is JSON) whose acme section writes into ``zone`` on ``server``
    (``servers_nameservers``: that server's ``nameservers``; ``acme``: more acme keys)."""
    secret = directory / "tsig.secret"
    secret.write_text(server.key.secret + "\n")
    entry = {
        "name": "bind",
        "server": {"host": server.host, "port": server.port},
        "key": {
            "name": server.key.name,
            "algorithm": server.key.algorithm,
            "secret_file": str(secret),
        },
        "zones": [zone],
        "nameservers": servers_nameservers or [],
    }
    path = directory / "dnssync.yaml"
    path.write_text(json.dumps({"targets": [], "acme": {"servers": [entry], **acme}}))
    return path


@pytest.fixture
def hook_config(bind_server: BindServer, tmp_path: Path) -> Callable[..., Path]:
    """``hook_config(zone, **acme)``: the config file the hook processes read."""

    def make(zone: str, **acme: Any) -> Path:
        return write_hook_config(tmp_path, bind_server, zone, **acme)

    return make


def hook_command(action: str) -> str:
    """The shell command certbot runs as a hook: dnssync from the project's venv."""
    return f"{sys.executable} -m dnssync acme {action}"


def hook_env(config: Path) -> dict[str, str]:
    """The environment for a client whose hooks are dnssync: only our config is added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DNSSYNC_", "CERTBOT_"))}
    env["DNSSYNC_CONFIG"] = str(config)
    env["PYTHONPATH"] = str(ROOT)
    return env


def leftovers(server: BindServer, zone: str) -> list[str]:
    """Every ``_acme-challenge`` value and ``_dnssync-acme`` marker left in ``zone``."""
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = dns.query.xfr(
        server.host,
        zone + ".",
        port=server.port,
        keyring={key.name: key},
        keyname=key.name,
        timeout=5,
        relativize=False,
    )
    out: list[str] = []
    for name, node in dns.zone.from_xfr(xfr, relativize=False).items():
        text = name.to_text()
        if text.startswith(("_acme-challenge.", "_dnssync-acme.")):
            out.extend(f"{text} {rds.to_text()}" for rds in node.rdatasets)
    return out
