"""Fixtures for the ACME tests: fresh zones on BIND9, TLS material, the webhook, a client.

- `acme_zone`: a fresh zone `acme<N>.test` on the session's BIND (key may update it);
- `certs`: trustme CAs and leaves -- the serving certificate (files on disk), the
  front-proxy CA and its client certificate (CN front-proxy-client), a client with a
  CN that is not allowed, and a client from an unrelated CA;
- `webhook(solver, **kw)`: an async context manager serving a Webhook over HTTPS;
- `https(...)`: an aiohttp session trusting the serving CA, optionally with a client cert.
"""

from __future__ import annotations

import itertools
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncquery
import dns.message
import dns.rdatatype
import pytest
import trustme

from dnssync.acme.solver import Solver
from dnssync.acme.webhook import AuthSource, FileAuth, Webhook
from dnssync.config import AcmeConfig
from tests.dnsservers import BindServer, TsigKey

GROUP = "acme.dnssync.test"
SOLVER = "dnssync"
PROXY_CN = "front-proxy-client"
_numbers = itertools.count(1)


@pytest.fixture
def acme_zone(bind_server: BindServer) -> str:
    """A fresh, empty zone on BIND that `bind_server.key` may update."""
    name = f"acme{next(_numbers)}.test"
    bind_server.add_zone(name)
    return name


def server_entry(
    server: BindServer, zones: list[str] | tuple[str, ...], *, key: TsigKey | None = None
) -> dict[str, Any]:
    key = key or server.key
    return {
        "name": "bind",
        "server": {"host": server.host, "port": server.port, "timeout": 2.0},
        "key": {"name": key.name, "algorithm": key.algorithm, "secret": key.secret},
        "zones": list(zones),
    }


def acme_config(
    server: BindServer,
    zones: list[str] | tuple[str, ...],
    *,
    key: TsigKey | None = None,
    **extra: Any,
) -> AcmeConfig:
    """An acme section with one BIND server."""
    return AcmeConfig.model_validate({"servers": [server_entry(server, zones, key=key)], **extra})


async def txt_at(server: BindServer, name: str) -> set[str]:
    """The TXT values BIND serves at `name` (a plain query: independent of the solver)."""
    q = dns.message.make_query(name + ".", dns.rdatatype.TXT)
    answer = await dns.asyncquery.tcp(q, server.host, port=server.port, timeout=3)
    out: set[str] = set()
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.TXT and rrset.name.to_text(omit_final_dot=True) == name:
            out.update(b"".join(rd.strings).decode() for rd in rrset)
    return out


async def serial_of(server: BindServer, zone: str) -> int:
    q = dns.message.make_query(zone + ".", dns.rdatatype.SOA)
    answer = await dns.asyncquery.tcp(q, server.host, port=server.port, timeout=3)
    return int(answer.answer[0][0].serial)


@dataclass
class Certs:
    """TLS material for one session."""

    serving_ca: trustme.CA
    front_ca: trustme.CA
    rogue_ca: trustme.CA
    cert_file: Path
    key_file: Path
    front_ca_file: Path
    proxy: trustme.LeafCert  # CN front-proxy-client, from the front-proxy CA
    stranger: trustme.LeafCert  # CN not allowed, from the front-proxy CA
    rogue: trustme.LeafCert  # CN front-proxy-client, from an unrelated CA

    def client_context(
        self, cert: trustme.LeafCert | None = None, *, trust: trustme.CA | None = None
    ) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        (trust or self.serving_ca).configure_trust(ctx)
        if cert is not None:
            cert.configure_cert(ctx)
        return ctx


def write_serving(ca: trustme.CA, cert_file: Path, key_file: Path) -> None:
    leaf = ca.issue_cert("127.0.0.1", "localhost", "dnssync-webhook.dnssync.svc")
    cert_file.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    key_file.write_bytes(leaf.private_key_pem.bytes())


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """Serving certificate files, a front-proxy CA file and three client certificates."""
    d = tmp_path_factory.mktemp("acme-tls")
    serving_ca, front_ca, rogue_ca = trustme.CA(), trustme.CA(), trustme.CA()
    cert_file, key_file, front_ca_file = d / "tls.crt", d / "tls.key", d / "front-proxy-ca.crt"
    write_serving(serving_ca, cert_file, key_file)
    front_ca.cert_pem.write_to_path(str(front_ca_file))
    return Certs(
        serving_ca,
        front_ca,
        rogue_ca,
        cert_file,
        key_file,
        front_ca_file,
        proxy=front_ca.issue_cert(PROXY_CN, common_name=PROXY_CN),
        stranger=front_ca.issue_cert("someone-else", common_name="someone-else"),
        rogue=rogue_ca.issue_cert(PROXY_CN, common_name=PROXY_CN),
    )


WebhookFactory = Callable[..., AbstractAsyncContextManager[Webhook]]


@pytest.fixture
def webhook(certs: Certs) -> WebhookFactory:
    """`async with webhook(solver, **kw) as hook:` serves on a free port until the block ends."""

    @asynccontextmanager
    async def serve(
        solver: Solver,
        *,
        auth: AuthSource | None = None,
        allowed_names: tuple[str, ...] = (PROXY_CN,),
        cert_file: Path | None = None,
        key_file: Path | None = None,
        **kw: Any,
    ) -> AsyncIterator[Webhook]:
        hook = Webhook(
            solver,
            group_name=GROUP,
            solver_name=SOLVER,
            cert_file=cert_file or certs.cert_file,
            key_file=key_file or certs.key_file,
            auth=auth or FileAuth(certs.front_ca_file, allowed_names),
            host="127.0.0.1",
            **{"port": 0, **kw},
        )
        async with hook:
            yield hook

    return serve


@asynccontextmanager
async def https(ctx: ssl.SSLContext) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that uses `ctx` for every request."""
    connector = aiohttp.TCPConnector(ssl=ctx, limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


def payload(
    action: str,
    key: str,
    *,
    record: str = "",
    dns_name: str = "",
    uid: str = "",
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ChallengePayload as cert-manager sends it."""
    return {
        "apiVersion": "webhook.acme.cert-manager.io/v1alpha1",
        "kind": "ChallengePayload",
        "request": {
            "uid": uid,
            "action": action,
            "type": "dns-01",
            "dnsName": dns_name,
            "key": key,
            "resourceNamespace": "cert-manager",
            "resolvedFQDN": record + "." if record else "",
            "resolvedZone": "",
            "allowAmbientCredentials": False,
            "config": config,
        },
    }


def solve_url(hook: Webhook, *, group: str = GROUP, solver: str = SOLVER) -> str:
    return f"https://127.0.0.1:{hook.port}/apis/{group}/v1alpha1/{solver}"


HEADERS = {"X-Remote-User": "system:serviceaccount:cert-manager:cert-manager"}


@asynccontextmanager
async def served(
    hook_cm: AbstractAsyncContextManager[Webhook], ctx: ssl.SSLContext
) -> AsyncIterator[tuple[Webhook, aiohttp.ClientSession]]:
    """A running webhook and a client session using `ctx`."""
    async with hook_cm as hook, https(ctx) as session:
        yield hook, session
