"""How the interop tier runs Pebble and the real ACME clients (certbot, lego) as processes.

Shared by the tests and bench/acme_clients.py. Pebble validates DNS-01 against the
server given (``-dnsserver``) with ``PEBBLE_VA_NOSLEEP=1``, no bad-nonce injection, no
authorization reuse (every order is validated through DNS) and no Retry-After (clients
poll at their own pace); its HTTPS certificate is signed by its test CA, which only the
clients started here trust. Each client run gets its own state directory, so clients
never share an account or a lock; the certificate that comes out is parsed and its names
compared with those ordered.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.query
import dns.tsig
import dns.zone
from cryptography import x509

from tests.dnsservers import BindServer
from tests.peers import certbot as certbot_peer
from tests.peers import lego as lego_peer
from tests.peers import pebble as pebble_peer

ROOT = Path(__file__).resolve().parents[4]
RUN_TIMEOUT = 300.0
START_TIMEOUT = 20.0


class PebbleFailed(RuntimeError):
    """Pebble did not start; the message holds its log's tail."""


@dataclass
class Pebble:
    """A running Pebble: its ACME directory URL and the CA file its clients trust."""

    directory: str
    ca_file: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pebble_config(port: int, certs: Path) -> dict[str, Any]:
    return {
        "pebble": {
            "listenAddress": f"127.0.0.1:{port}",
            "managementListenAddress": f"127.0.0.1:{free_port()}",
            "certificate": str(certs / "localhost" / "cert.pem"),
            "privateKey": str(certs / "localhost" / "key.pem"),
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "retryAfter": {"authz": 0, "order": 0},
        }
    }


def start_pebble(dns_server: str, work: Path) -> Pebble:
    """Pebble on a free loopback port validating against ``dns_server`` (host:port)."""
    binary = pebble_peer.PEER.path("bin/pebble")
    certs = binary.parent.parent / "test" / "certs"
    port = free_port()
    (work / "pebble.json").write_text(json.dumps(_pebble_config(port, certs)))
    env = {
        **os.environ,
        "PEBBLE_VA_NOSLEEP": "1",
        "PEBBLE_WFE_NONCEREJECT": "0",
        "PEBBLE_AUTHZREUSE": "0",
    }
    log = work / "pebble.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-config", work / "pebble.json", "-dnsserver", dns_server],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    running = Pebble(f"https://127.0.0.1:{port}/dir", certs / "pebble.minica.pem", process, log)
    try:
        _wait_for(running)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_for(pebble: Pebble) -> None:
    ctx = ssl.create_default_context(cafile=str(pebble.ca_file))
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if pebble.process.poll() is not None:
            tail = pebble.log.read_text()[-3000:]
            raise PebbleFailed(f"pebble exited with {pebble.process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(pebble.directory, context=ctx, timeout=1) as answer:
                json.load(answer)
                return
        except OSError:
            if time.monotonic() > deadline:
                tail = pebble.log.read_text()[-3000:]
                raise PebbleFailed(f"pebble did not answer {pebble.directory}:\n{tail}") from None
            time.sleep(0.05)


# certbot has no __main__; its console script does this (the venv's scripts are not relocatable).
CERTBOT_MAIN = "import sys; from certbot.main import main; sys.exit(main())"


@dataclass(frozen=True)
class Issued:
    """One client run: exit code, output, seconds taken and the names in its certificate."""

    returncode: int
    output: str
    seconds: float
    names: frozenset[str]


def cert_names(path: Path) -> frozenset[str]:
    """The DNS names of the first certificate in a PEM file (none if there is no file)."""
    if not path.exists():
        return frozenset()
    cert = x509.load_pem_x509_certificates(path.read_bytes())[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return frozenset(san.get_values_for_type(x509.DNSName))


async def _run(
    argv: Sequence[str | Path], env: Mapping[str, str], cwd: Path, timeout: float = RUN_TIMEOUT
) -> tuple[int, str, float]:
    cwd.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a local directory, once per run
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *map(str, argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace"), time.monotonic() - started


def certbot_argv(directory: str, state: Path, domains: Sequence[str], *extra: str) -> list[str]:
    """certbot certonly against ``directory`` with its state under ``state``."""
    python = certbot_peer.PEER.path("bin/python")
    argv = [str(python), "-c", CERTBOT_MAIN, "certonly", "--non-interactive", "--agree-tos"]
    argv += ["--register-unsafely-without-email", "--server", directory, "--key-type", "ecdsa"]
    for part in ("config", "work", "logs"):
        argv += [f"--{part}-dir", str(state / part)]
    for domain in domains:
        argv += ["-d", domain]
    return argv + list(extra)


def certbot_manual(hook: str, cleanup: str) -> list[str]:
    """certbot's manual authenticator with DNS-01 and the given hook commands."""
    return [
        "--manual",
        "--preferred-challenges",
        "dns",
        "--manual-auth-hook",
        hook,
        "--manual-cleanup-hook",
        cleanup,
    ]


async def certbot(
    directory: str,
    ca_file: Path,
    state: Path,
    domains: Sequence[str],
    extra: Sequence[str],
    env: Mapping[str, str],
    timeout: float = RUN_TIMEOUT,
    *,
    nice: int = 0,
) -> Issued:
    """One certbot run; the certificate lands at live/<first domain>/cert.pem.

    ``nice`` lowers the priority of certbot and its hooks below the servers' (Pebble,
    BIND), as if the client ran on another host than the CA and the DNS server.
    """
    full = {**env, "REQUESTS_CA_BUNDLE": str(ca_file)}
    argv = certbot_argv(directory, state, domains, *extra)
    if nice:
        argv = ["nice", "-n", str(nice), *argv]
    code, out, seconds = await _run(argv, full, state, timeout)
    live = state / "config" / "live" / domains[0].removeprefix("*.") / "cert.pem"
    return Issued(code, out, seconds, cert_names(live))


def hook_script(directory: Path) -> Path:
    """lego's EXEC_PATH is one program, not a command line: a script running dnssync's hook."""
    script = directory / "dnssync-hook"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m dnssync acme "$@"\n')
    script.chmod(0o755)
    return script


async def lego(
    directory: str,
    ca_file: Path,
    state: Path,
    domains: Sequence[str],
    provider: str,
    env: Mapping[str, str],
    resolver: str,
) -> Issued:
    """One lego run with DNS provider ``provider``; the certificate lands in its path.

    ``resolver`` (host:port, the test BIND) is where lego looks up zones, CNAMEs and
    its own propagation check; the NS-set check is off, as the zones' NS names point
    at port 53 where nothing listens on loopback.
    """
    binary = lego_peer.PEER.path("bin/lego")
    argv: list[str | Path] = [binary, "run", "--accept-tos", "--email", "interop@example.org"]
    argv += ["--server", directory, "--path", state, "--dns", provider, "--key-type", "ec256"]
    argv += ["--dns.resolvers", resolver, "--dns.propagation.disable-ans"]
    for domain in domains:
        argv += ["--domains", domain]
    full = {**env, "LEGO_CA_CERTIFICATES": str(ca_file)}
    code, out, seconds = await _run(argv, full, state)
    name = domains[0].replace("*", "_")
    return Issued(code, out, seconds, cert_names(state / "certificates" / f"{name}.crt"))


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
    secret.chmod(0o600)  # as a Secret volume would be; 0644 draws dnssync's warning
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
