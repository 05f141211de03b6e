"""``dnssync check`` for the acme section: can each configured zone take a challenge?

Per server and configured zone: the zone's SOA (signed), whether it is DNSSEC-signed,
and one real round trip -- a probe value presented at ``_acme-challenge.<zone>`` (as a
Present does: with its marker, verified as ``acme.verify`` says) and cleaned up again.
Only that exact value is ever removed, so live challenges at the name stay. A signed zone
without its private keys fails the round trip with SERVFAIL, and the row says so.
"""

from __future__ import annotations

import secrets

from dnssync.acme.records import challenge_name
from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig
from dnssync.errors import DnssyncError
from dnssync.rfc2136.client import Client, server_tls
from dnssync.rfc2136.dnssec import dnskey_count

Row = tuple[str, str, str, bool, str]  # server, zone, check, passed, detail


async def probe(cfg: AcmeConfig) -> list[Row]:
    """One row per check; servers without configured zones are listed as not probed."""
    solver = Solver(cfg)
    rows: list[Row] = []
    for server in cfg.servers:
        if not server.zones:
            rows.append((server.name, "-", "zones", True, "none configured: found per name"))
            continue
        key = server.key.tsig() if server.key is not None else None
        hosts = server.server.addresses()
        client = Client(
            hosts[0][0], hosts[0][1], hosts=hosts, key=key, tls=server_tls(server.server)
        )
        for zone in server.zones:
            rows.extend(await _zone_rows(solver, client, server.name, zone))
        client.close()
    return rows


async def _zone_rows(solver: Solver, client: Client, server: str, zone: str) -> list[Row]:
    rows: list[Row] = []
    try:
        rows.append((server, zone, "SOA query", True, f"serial {await client.soa_serial(zone)}"))
        keys = await dnskey_count(client, zone)
    except DnssyncError as e:
        return [*rows, (server, zone, "SOA query" if not rows else "DNSKEY query", False, str(e))]
    signed = f"signed ({keys} DNSKEY): updates need the server to hold the private keys"
    rows.append((server, zone, "DNSSEC", True, signed if keys else "unsigned"))
    record = challenge_name(zone)
    value = secrets.token_urlsafe(32)  # shaped like a DNS-01 digest, as the solver requires
    try:
        await solver.present(record, value)
        await solver.cleanup(record, value)
    except DnssyncError as e:
        return [*rows, (server, zone, "present + clean-up", False, str(e))]
    return [*rows, (server, zone, "present + clean-up", True, f"a probe value at {record}")]
