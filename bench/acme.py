"""ACME figures (issue: ACME DNS-01), against raw dnspython in the same run, on BIND9.

- one challenge, present + visible + clean-up: dnssync's webhook over HTTPS with
  a front-proxy client certificate (trustme), served from its own process
  (as from its own Pod), vs a raw dnspython client doing
  add (UPDATE) / query until visible / delete (UPDATE) on the same server;
  rounds interleaved, medians compared (goal: ratio <= 1.2, issue #15; certbot-dns-rfc2136
  measured 2.4x).  The webhook's client stands in for the kube-apiserver (Go):
  a blocking keep-alive ``http.client``, as blocking as the floor's dnspython,
  so the figure is the webhook's cost and not an event loop's on the client
  side; the same rounds through an aiohttp client are shown beside it, and the
  webhook process's CPU per present + clean-up;
- for information, what two of the webhook's checks cost: in rounds of their
  own, the same webhook interleaved with one run with ``acme.verify: off`` (no
  read-back on the primary) and one with ``acme.markers: false``;
- 100 concurrent challenges over 10 names through the webhook: time from the
  first POST until all 100 succeeded and every value is visible on the server
  (goal: <= 1 s), with fresh TLS connections (each one a full handshake with
  a client certificate) and with warm ones (the apiserver keeps its pool).

Run from the repository root: ``python -m bench.acme [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import secrets
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncquery
import dns.message
import dns.query
import dns.rdatatype
import dns.update
import trustme

from bench.common import median, report, server, tsig
from dnssync.acme.solver import Solver
from dnssync.acme.webhook import FileAuth, Webhook
from dnssync.config import AcmeConfig
from tests.dnsservers import DNSServer

GROUP = "acme.dnssync.bench"
SOLVER = "dnssync"
HEADERS = {"X-Remote-User": "system:serviceaccount:cert-manager:cert-manager"}


def acme_value() -> str:
    return secrets.token_urlsafe(32)


def txt_values(answer: dns.message.Message, name: str) -> set[str]:
    out: set[str] = set()
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.TXT and rrset.name.to_text(omit_final_dot=True) == name:
            out.update(b"".join(rd.strings).decode() for rd in rrset)
    return out


def wait_visible(s: DNSServer, record: str, value: str) -> None:
    """Query (UDP, TCP on truncation) until ``value`` is served: the same code
    checks both sides of a round."""
    deadline = time.perf_counter() + 10
    while True:
        q = dns.message.make_query(record + ".", dns.rdatatype.TXT)
        answer, _ = dns.query.udp_with_fallback(q, s.host, port=s.port, timeout=5)
        if value in txt_values(answer, record):
            return
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{record}: value not visible within 10 s")


# --- the floor: raw dnspython -----------------------------------------------


def raw_round(s: DNSServer, zone: str, record: str, value: str) -> float:
    """add (signed UPDATE over TCP), query until visible (UDP), delete (UPDATE)."""
    key = tsig(s.key)
    t = time.perf_counter()
    add = dns.update.UpdateMessage(zone + ".", keyring=key)
    add.add(record + ".", 60, "TXT", f'"{value}"')
    assert dns.query.tcp(add, s.host, port=s.port, timeout=5).rcode() == 0
    wait_visible(s, record, value)
    delete = dns.update.UpdateMessage(zone + ".", keyring=key)
    delete.delete(record + ".", "TXT", f'"{value}"')
    assert dns.query.tcp(delete, s.host, port=s.port, timeout=5).rcode() == 0
    return time.perf_counter() - t


# --- the webhook, in its own thread and loop (like its own process) ------------------


class Tls:
    def __init__(self, workdir: Path) -> None:
        self.serving_ca, self.front_ca = trustme.CA(), trustme.CA()
        leaf = self.serving_ca.issue_cert("127.0.0.1")
        self.cert_file, self.key_file = workdir / "tls.crt", workdir / "tls.key"
        self.cert_file.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
        self.key_file.write_bytes(leaf.private_key_pem.bytes())
        self.front_ca_file = workdir / "front-proxy-ca.crt"
        self.front_ca.cert_pem.write_to_path(str(self.front_ca_file))
        self.proxy = self.front_ca.issue_cert(
            "front-proxy-client", common_name="front-proxy-client"
        )

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.serving_ca.configure_trust(ctx)
        self.proxy.configure_cert(ctx)
        return ctx


def _serve(cfg_json: str, files: tuple[str, str, str], ports: Any, stop: Any) -> None:
    """The webhook process: serve until ``stop`` is set, report the port on ``ports``."""

    async def main() -> None:
        cert_file, key_file, front_ca_file = (Path(f) for f in files)
        hook = Webhook(
            Solver(AcmeConfig.model_validate_json(cfg_json)),
            group_name=GROUP,
            solver_name=SOLVER,
            cert_file=cert_file,
            key_file=key_file,
            auth=FileAuth(front_ca_file, ("front-proxy-client",)),
            host="127.0.0.1",
            port=0,
        )
        async with hook:
            ports.put(hook.port)
            while not stop.is_set():
                await asyncio.sleep(0.1)

    asyncio.run(main())


class WebhookProcess:
    """The webhook in its own process, as it runs in its own Pod: no GIL shared
    with the bench's client and floor."""

    def __init__(
        self,
        s: DNSServer,
        zones: list[str],
        tls: Tls,
        *,
        server_options: dict[str, Any] | None = None,
        **acme: Any,
    ) -> None:
        entry = {
            "name": "bind",
            "server": {"host": s.host, "port": s.port},
            "key": {"name": s.key.name, "algorithm": s.key.algorithm, "secret": s.key.secret},
            "zones": zones,
            **(server_options or {}),
        }
        AcmeConfig.model_validate({"servers": [entry], **acme})  # fail here, not in the child
        # The secret reaches the child through a pipe, never argv or the environment.
        cfg_json = json.dumps({"servers": [entry], **acme})
        ctx = multiprocessing.get_context("spawn")
        self._ports = ctx.Queue()
        self._stop = ctx.Event()
        files = (str(tls.cert_file), str(tls.key_file), str(tls.front_ca_file))
        self._proc = ctx.Process(
            target=_serve, args=(cfg_json, files, self._ports, self._stop), daemon=True
        )
        self.port = 0

    def __enter__(self) -> WebhookProcess:
        self._proc.start()
        self.port = int(self._ports.get(timeout=30))
        return self

    def cpu(self) -> float:
        """User + system CPU seconds the webhook process has used so far."""
        with open(f"/proc/{self._proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()


def body(action: str, record: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "webhook.acme.cert-manager.io/v1alpha1",
        "kind": "ChallengePayload",
        "request": {
            "uid": "",
            "action": action,
            "type": "dns-01",
            "dnsName": record.removeprefix("_acme-challenge."),
            "key": value,
            "resourceNamespace": "cert-manager",
            "resolvedFQDN": record + ".",
            "allowAmbientCredentials": False,
        },
    }


async def call(
    session: aiohttp.ClientSession, url: str, action: str, record: str, value: str
) -> None:
    async with session.post(url, json=body(action, record, value), headers=HEADERS) as resp:
        succeeded(await resp.json())


def succeeded(doc: dict[str, Any]) -> None:
    """Raise the webhook's own message when its ChallengePayload answer says it failed."""
    if not doc["response"]["success"]:
        raise RuntimeError(doc["response"]["status"]["message"])


async def visible(s: DNSServer, record: str, values: set[str]) -> None:
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        q = dns.message.make_query(record + ".", dns.rdatatype.TXT)
        # Ten values at one name pass 512 bytes: TCP after a truncated UDP answer.
        answer, _ = await dns.asyncquery.udp_with_fallback(q, s.host, port=s.port, timeout=5)
        if values <= txt_values(answer, record):
            return
    raise RuntimeError(f"{record}: values not visible within 10 s")


async def webhook_round(
    session: aiohttp.ClientSession, url: str, s: DNSServer, record: str, value: str
) -> float:
    t = time.perf_counter()
    await call(session, url, "Present", record, value)
    wait_visible(s, record, value)  # blocking, as on the raw side; nothing else runs here
    await call(session, url, "CleanUp", record, value)
    return time.perf_counter() - t


class BlockingClient:
    """One kept-alive HTTPS connection, used the way the apiserver proxies a call."""

    def __init__(self, tls: Tls, port: int) -> None:
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls.client_context())
        self.path = f"/apis/{GROUP}/v1alpha1/{SOLVER}"
        self.headers = {**HEADERS, "Content-Type": "application/json"}

    def call(self, action: str, record: str, value: str) -> None:
        data = json.dumps(body(action, record, value))
        self.conn.request("POST", self.path, body=data, headers=self.headers)
        succeeded(json.loads(self.conn.getresponse().read()))

    def round(self, s: DNSServer, record: str, value: str) -> float:
        t = time.perf_counter()
        self.call("Present", record, value)
        wait_visible(s, record, value)
        self.call("CleanUp", record, value)
        return time.perf_counter() - t

    def close(self) -> None:
        self.conn.close()


async def concurrent(
    session: aiohttp.ClientSession, url: str, s: DNSServer, zone: str, n: int = 100
) -> tuple[float, float]:
    names = [f"_acme-challenge.c{i}.{zone}" for i in range(10)]
    work = [(names[i % 10], acme_value()) for i in range(n)]
    t = time.perf_counter()
    await asyncio.gather(*(call(session, url, "Present", r, v) for r, v in work))
    await asyncio.gather(*(visible(s, r, {v for rr, v in work if rr == r}) for r in names))
    presented = time.perf_counter() - t
    t = time.perf_counter()
    await asyncio.gather(*(call(session, url, "CleanUp", r, v) for r, v in work))
    cleaned = time.perf_counter() - t
    return presented, cleaned


async def single(
    s: DNSServer,
    tls: Tls,
    port: int,
    zones: dict[str, str],
    rounds: int,
    variants: dict[str, tuple[int, str]] | None = None,
) -> dict[str, list[float]]:
    """Interleaved rounds: the raw floor, one challenge through the webhook from
    the blocking client, and one from aiohttp; with ``variants`` (name -> port and
    zone of another webhook), one through each of them instead of aiohttp's."""
    url = f"https://127.0.0.1:{port}/apis/{GROUP}/v1alpha1/{SOLVER}"
    clients = {"ours": (BlockingClient(tls, port), zones["ours"])}
    for name, (other, zone) in (variants or {}).items():
        clients[name] = (BlockingClient(tls, other), zone)
    times: dict[str, list[float]] = {"raw": [], "aiohttp": [], **{n: [] for n in clients}}
    connector = aiohttp.TCPConnector(ssl=tls.client_context(), limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        for i in range(rounds + 5):
            took = {
                "raw": raw_round(
                    s, zones["raw"], f"_acme-challenge.h{i % 10}.{zones['raw']}", acme_value()
                )
            }
            for name, (client, zone) in clients.items():
                took[name] = client.round(s, f"_acme-challenge.h{i % 10}.{zone}", acme_value())
            if variants is None:
                took["aiohttp"] = await webhook_round(
                    session, url, s, f"_acme-challenge.a{i % 10}.{zones['ours']}", acme_value()
                )
            if i >= 5:  # warm-up excluded
                for name, t in took.items():
                    times[name].append(t)
    for client, _ in clients.values():
        client.close()
    return times


async def load(
    s: DNSServer, tls: Tls, port: int, zone: str
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """100 concurrent challenges: three times on warm connections, three on fresh ones."""
    url = f"https://127.0.0.1:{port}/apis/{GROUP}/v1alpha1/{SOLVER}"
    ctx = tls.client_context()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=200)) as session:
        await concurrent(session, url, s, zone)  # opens the pool
        warm = [await concurrent(session, url, s, zone) for _ in range(3)]
    cold = []
    for _ in range(3):
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=200)
        ) as fresh:
            cold.append(await concurrent(fresh, url, s, zone))
    return warm, cold


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    with server("bind") as s, tempfile.TemporaryDirectory() as tmp:
        zones = {
            "raw": "raw.acme.bench",
            "ours": "ours.acme.bench",
            "nov": "nov.acme.bench",
            "nom": "nom.acme.bench",
        }
        for z in zones.values():
            s.add_zone(z)
        tls = Tls(Path(tmp))
        with WebhookProcess(s, [zones["ours"]], tls) as hook:
            before = hook.cpu()
            times = asyncio.run(single(s, tls, hook.port, zones, args.rounds))
            # Each round is one call from each client (the blocking one and aiohttp's).
            cpu = (hook.cpu() - before) / (2 * (args.rounds + 5))
            warm, cold = asyncio.run(load(s, tls, hook.port, zones["ours"]))
            # For information, in rounds of their own: what the read-back on the
            # primary and the markers cost, each webhook interleaved with the others.
            with (
                WebhookProcess(s, [zones["nov"]], tls, verify=False) as nov,
                WebhookProcess(s, [zones["nom"]], tls, markers=False) as nom,
            ):
                others = {"nov": (nov.port, zones["nov"]), "nom": (nom.port, zones["nom"])}
                info = asyncio.run(single(s, tls, hook.port, zones, args.rounds, others))
    raw_m, ours_m, aio_m = median(times["raw"]), median(times["ours"]), median(times["aiohttp"])
    rows = [
        {
            "figure": f"raw dnspython add/query/delete (median of {len(times['raw'])})",
            "value": raw_m,
        },
        {
            "figure": "dnssync webhook present+visible+cleanup, HTTPS + client cert",
            "value": ours_m,
            "ratio": ours_m / raw_m,
            "goal": 1.2,
        },
        {
            "figure": "  same from an aiohttp client (info: its event loop counts too)",
            "value": aio_m,
            "ratio": aio_m / raw_m,
        },
        {
            "figure": "  webhook CPU (user + system) per present + clean-up (info)",
            "value": cpu,
        },
        *(
            {
                "figure": f"  {label} (info: its own interleaved rounds, raw floor alongside)",
                "value": median(info[name]),
                "ratio": median(info[name]) / median(info["raw"]),
            }
            for name, label in (
                ("ours", "same again"),
                ("nov", "  acme.verify off"),
                ("nom", "  acme.markers off"),
            )
        ),
        {
            "figure": "100 concurrent challenges presented+visible, fresh TLS (median of 3)",
            "value": median([p for p, _ in cold]),
        },
        {
            "figure": "100 concurrent challenges presented+visible, warm TLS (median of 3)",
            "value": median([p for p, _ in warm]),
        },
        {
            "figure": "100 concurrent clean-ups, warm TLS (median of 3)",
            "value": median([c for _, c in warm]),
        },
    ]
    report("acme", rows)


if __name__ == "__main__":
    main()
