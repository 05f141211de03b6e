"""DNS over TLS (XoT, RFC 9103): its cost beside plain TCP, on one BIND 9.18, same run.

- apply N A records + ownership TXTs from empty, over TCP and over TLS;
- full read (AXFR) of the N-record zone, over TCP and over TLS, beside dnspython's
  plain-TCP AXFR (the floor);
- unchanged-zone check: one signed SOA query (UDP, or a TLS connection per query).

Run: ``python -m bench.xot [--records N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import trustme

from bench.common import median, report, tsig
from bench.engine import _endpoints, raw_axfr
from dnssync.config import ServerConfig, TLSConfig
from dnssync.dns import applier
from dnssync.dns.client import Client, server_tls
from dnssync.dns.zones import ZoneReader
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions
from tests.dnsservers import TlsBindServer

REGISTRY = Registry(RegistryOptions(owner_id="bench", prefix="extdns-"))
NAME = "ns1.xot.bench"


def _clients(s: TlsBindServer, ca_file: Path) -> dict[str, Client]:
    cfg = ServerConfig(
        host=s.host, port=s.tls_port, tls=TLSConfig(ca_file=ca_file, server_name=NAME)
    )
    return {
        "TCP": Client(s.host, s.port, key=tsig(s.key)),
        "TLS": Client(s.host, s.tls_port, key=tsig(s.key), tls=server_tls(cfg)),
    }


async def _apply(c: Client, zone: str, n: int) -> float:
    t = time.perf_counter()
    snap = (await ZoneReader(c, zone).read()).snapshot
    p = plan(_endpoints(zone, n), snap, REGISTRY, PlanOptions(max_change_ratio=None))
    result = await applier.apply(c, zone, p.changes)
    assert len(result.applied) == n
    return time.perf_counter() - t


async def _read(c: Client, zone: str) -> float:
    t = time.perf_counter()
    assert (await ZoneReader(c, zone).read()).transfer == "axfr"
    return time.perf_counter() - t


async def _check(c: Client, zone: str, rounds: int) -> float:
    reader = ZoneReader(c, zone)
    await reader.read()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        assert (await reader.read()).transfer == "none"
        times.append(time.perf_counter() - t)
    return median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records
    ca = trustme.CA()
    cert = ca.issue_cert(NAME)
    s = TlsBindServer(cert.private_key_and_cert_chain_pem.bytes(), cert.private_key_pem.bytes())
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        try:
            s.start()
            times: dict[str, dict[str, list[float]]] = {
                k: {"apply": [], "read": [], "check": []} for k in ("TCP", "TLS")
            }
            for r in range(args.rounds):
                for kind, c in _clients(s, ca_file).items():
                    zone = f"{kind.lower()}{r}.bench"
                    s.add_zone(zone)
                    times[kind]["apply"].append(asyncio.run(_apply(c, zone, n)))
                    times[kind]["read"].append(asyncio.run(_read(c, zone)))
                    times[kind]["check"].append(asyncio.run(_check(c, zone, 30)))
            floor = median([raw_axfr(s, f"tcp{r}.bench") for r in range(args.rounds)])
        finally:
            s.close()
    m = {k: {f: median(v) for f, v in fs.items()} for k, fs in times.items()}
    rows = [
        {"figure": f"dnssync read+plan+apply {n} over TCP", "value": m["TCP"]["apply"]},
        {
            "figure": f"dnssync read+plan+apply {n} over TLS",
            "value": m["TLS"]["apply"],
            "ratio": m["TLS"]["apply"] / m["TCP"]["apply"],
            "goal": "vs TCP",
        },
        {"figure": f"raw dnspython AXFR {n} over TCP (floor)", "value": floor},
        {
            "figure": f"dnssync full read {n} over TCP",
            "value": m["TCP"]["read"],
            "ratio": m["TCP"]["read"] / floor,
            "goal": 1.2,
        },
        {
            "figure": f"dnssync full read {n} over TLS",
            "value": m["TLS"]["read"],
            "ratio": m["TLS"]["read"] / floor,
            "goal": "vs floor",
        },
        {"figure": "unchanged-zone check, UDP SOA", "value": m["TCP"]["check"]},
        {
            "figure": "unchanged-zone check, SOA over a TLS connection",
            "value": m["TLS"]["check"],
            "ratio": m["TLS"]["check"] / m["TCP"]["check"],
            "goal": "vs UDP",
        },
    ]
    report("xot", rows)


if __name__ == "__main__":
    main()
