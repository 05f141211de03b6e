"""`dnssync acme present|cleanup` as certbot's manual hooks and lego's exec provider, against BIND9.

Each test runs the real command in a subprocess, as certbot and lego do.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from dnssync.acme.payload import key_authorization_digest
from tests.dnsservers import BindServer, TsigKey

from .conftest import txt_at

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[3]


def write_config(tmp_path: Path, server: BindServer, zone: str, key: TsigKey | None = None) -> Path:
    key = key or server.key
    secret = tmp_path / "tsig.secret"
    secret.write_text(key.secret + "\n")
    secret.chmod(0o600)  # a world-readable secret file is warned about
    path = tmp_path / "dnssync.yaml"
    path.write_text(
        "targets: []\n"
        "acme:\n"
        "  servers:\n"
        "    - name: bind\n"
        f"      server: {{host: {server.host}, port: {server.port}}}\n"
        f"      key: {{name: {key.name}, algorithm: {key.algorithm}, secret_file: {secret}}}\n"
        f"      zones: [{zone}]\n"
    )
    return path


async def dnssync(
    *args: str, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DNSSYNC_", "CERTBOT_"))}
    full.update({"DNSSYNC_CONFIG": str(config), "PYTHONPATH": str(ROOT)})
    full.update(env or {})
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dnssync", "acme", *args],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


async def test_certbot_manual_hooks(
    bind_server: BindServer, acme_zone: str, tmp_path: Path
) -> None:
    """certbot's auth and cleanup hooks (CERTBOT_DOMAIN/VALIDATION) present and remove the value."""
    config = write_config(tmp_path, bind_server, acme_zone)
    validation = secrets.token_urlsafe(32)
    env = {"CERTBOT_DOMAIN": acme_zone, "CERTBOT_VALIDATION": validation}
    record = f"_acme-challenge.{acme_zone}"
    done = await dnssync("present", config=config, env=env)
    assert done.returncode == 0, done.stderr
    assert f"presented {validation} at {record}" in done.stdout
    assert await txt_at(bind_server, record) == {validation}
    done = await dnssync("cleanup", config=config, env=env)
    assert done.returncode == 0, done.stderr
    assert await txt_at(bind_server, record) == set()


async def test_lego_exec_provider(bind_server: BindServer, acme_zone: str, tmp_path: Path) -> None:
    """lego exec: 'present <fqdn> <value>' -- a value starting with '-' is not an option."""
    config = write_config(tmp_path, bind_server, acme_zone)
    fqdn = f"_acme-challenge.www.{acme_zone}."
    value = "-" + secrets.token_urlsafe(32)[1:]
    done = await dnssync("present", fqdn, value, config=config)
    assert done.returncode == 0, done.stderr
    assert await txt_at(bind_server, fqdn[:-1]) == {value}
    done = await dnssync("cleanup", fqdn, value, config=config)
    assert done.returncode == 0, done.stderr
    assert await txt_at(bind_server, fqdn[:-1]) == set()


async def test_lego_exec_raw_mode(bind_server: BindServer, acme_zone: str, tmp_path: Path) -> None:
    """lego exec RAW: 'present -- <domain> <token> <keyAuth>' writes the keyAuth digest."""
    config = write_config(tmp_path, bind_server, acme_zone)
    key_auth = "tok." + secrets.token_urlsafe(32)
    record = f"_acme-challenge.raw.{acme_zone}"
    done = await dnssync("present", "--", f"raw.{acme_zone}", "tok", key_auth, config=config)
    assert done.returncode == 0, done.stderr
    assert await txt_at(bind_server, record) == {key_authorization_digest(key_auth)}
    done = await dnssync("cleanup", "--", f"raw.{acme_zone}", "tok", key_auth, config=config)
    assert done.returncode == 0, done.stderr
    assert await txt_at(bind_server, record) == set()


async def test_hook_exit_codes(bind_server: BindServer, acme_zone: str, tmp_path: Path) -> None:
    """Bad usage exits 2, a DNS failure exits 1 with the cause; the secret is never printed."""
    config = write_config(tmp_path, bind_server, acme_zone)
    v = secrets.token_urlsafe(32)
    done = await dnssync("present", "only-one-argument", config=config)
    assert done.returncode == 2
    assert "expected 0, 2 or 3 arguments" in done.stderr
    done = await dnssync("present", config=config)
    assert done.returncode == 2
    assert "CERTBOT_DOMAIN" in done.stderr
    done = await dnssync("present", "_acme-challenge.elsewhere.example.", v, config=config)
    assert done.returncode == 1
    assert "outside every zone" in done.stderr
    wrong = TsigKey(bind_server.key.name, bind_server.key.algorithm, TsigKey.generate("x").secret)
    (tmp_path / "bad").mkdir()
    bad = write_config(tmp_path / "bad", bind_server, acme_zone, key=wrong)
    done = await dnssync("present", f"_acme-challenge.{acme_zone}.", v, config=bad)
    assert done.returncode == 1
    assert "BADSIG" in done.stderr
    assert wrong.secret not in done.stderr + done.stdout
    empty = tmp_path / "empty.yaml"
    empty.write_text("targets: []\n")
    done = await dnssync("present", f"_acme-challenge.{acme_zone}.", v, config=empty)
    assert done.returncode == 2
    assert "'acme'" in done.stderr  # no acme section: says so
