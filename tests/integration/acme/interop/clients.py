"""How the interop tier runs the real ACME clients: certbot and lego as separate processes.

Shared by the tests and bench/acme_clients.py. Each run gets its own state directory, so
clients never share an account or a lock; the certificate that comes out is parsed and
its names compared with those ordered.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from tests.peers import certbot as certbot_peer
from tests.peers import lego as lego_peer

RUN_TIMEOUT = 300.0
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
    argv: Sequence[str | Path], env: Mapping[str, str], cwd: Path
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
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
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
) -> Issued:
    """One certbot run; the certificate lands at live/<first domain>/cert.pem."""
    full = {**env, "REQUESTS_CA_BUNDLE": str(ca_file)}
    code, out, seconds = await _run(certbot_argv(directory, state, domains, *extra), full, state)
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
