"""``dnssync check``: what each configured zone allows, without changing it.

Per zone of every target: a signed SOA query (is the zone served, is the key
known), a signed AXFR (may the key transfer it), and an UPDATE probe that
reaches the server's update-policy check while changing nothing.  The probe
must have a prerequisite that *holds*: BIND evaluates prerequisites before
the update policy, so a failing prerequisite says nothing about the key's
rights.  It therefore requires the apex to exist (it always does: its SOA)
and deletes one TXT value at ``_dnssync-check.<zone>`` that nobody wrote (a
random token), a no-op every server accepts without a new serial.  The ACME
servers get the SOA query and one real Present and CleanUp of a probe value at
``_acme-challenge.<zone>`` (their key must write there, not merely reach the policy).

What the servers in the test suite answer, and the cause named here:

=====================  ==================  ==================  ==================
case                   BIND 9.18           Knot 3              PowerDNS 4.7
=====================  ==================  ==================  ==================
zone not served        REFUSED (SOA)       NOTAUTH, unsigned   REFUSED (SOA)
key not granted        REFUSED (UPDATE)    BADKEY (SOA)        REFUSED (UPDATE)
wrong secret           BADSIG              BADSIG              unsigned answer
unknown key name       BADKEY              BADKEY              unsigned answer
=====================  ==================  ==================  ==================

The Technitium stand-in answers a key not granted and bad key material as
BIND does.  An unsigned answer to a signed query is told apart by asking
again unsigned: a zone the server does not serve is refused then too.
"""

from __future__ import annotations

import secrets

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.update

from dnssync.acme.records import challenge_name
from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig, AcmeServerConfig, ServerConfig, TargetConfig
from dnssync.controller import Target
from dnssync.dns.client import Client
from dnssync.dns.dnssec import dnskey_count
from dnssync.dns.scopes import scope_rows
from dnssync.dns.zones import ZoneReader
from dnssync.errors import DnssyncError, PrerequisiteFailed, ServerRefused, TSIGFailure
from dnssync.names import to_dns

#: One line of the report: zone, check, passed, detail.
Row = tuple[str, str, bool, str]

_NOT_SERVED = frozenset({"REFUSED", "NOTAUTH", "NXDOMAIN", "NOTZONE"})
_POLICY = "BIND update-policy, Knot acl action update, PowerDNS TSIG-ALLOW-DNSUPDATE"
_TRANSFER = "BIND allow-transfer, Knot acl action transfer, PowerDNS TSIG-ALLOW-AXFR"


async def probe_target(cfg: TargetConfig) -> list[Row]:
    """SOA, signed AXFR, the UPDATE probe and the write scopes (apex, ``*.zone``,
    deeper: :mod:`dnssync.dns.scopes`) for every zone of one target."""
    target = Target(cfg)
    key = cfg.key.name if cfg.key else _principal(cfg.server)
    rows: list[Row] = []
    try:
        for zone, reader in target.readers.items():
            soa = await _soa(target.client, cfg.server, zone, key)
            rows.append(soa)
            if soa[2]:
                rows.append(await _transfer(reader, zone, key))
                rows.append(await _update(target.client, zone, f"_dnssync-check.{zone}", key))
                rows.extend(await scope_rows(target.client, (zone,)))
    finally:
        target.client.close()
        target.transfer_client.close()
    return rows


async def probe_acme(cfg: AcmeConfig) -> list[tuple[str, Row]]:
    """``(server, row)`` for every zone of every ACME server: the SOA query, whether
    the zone is DNSSEC-signed, and one real round trip -- a probe value presented at
    ``_acme-challenge.<zone>`` as a Present does (marker, ``acme.verify``) and cleaned
    up again.  Only that exact value is removed, so live challenges stay.  A signed
    zone whose server lacks its private keys fails the round trip with SERVFAIL."""
    solver = Solver(cfg)
    out: list[tuple[str, Row]] = []
    for server in cfg.servers:
        if not server.zones:
            found = "none listed: found by SOA queries at Present time"
            out.append((server.name, ("(any)", "zones", True, found)))
            continue
        key = server.key.tsig() if server.key else None
        client = _client(server.server, key, f"acme server {server.name}", signed=True)
        try:
            for zone in server.zones:
                rows = await _acme_zone(solver, client, server, zone)
                out.extend((server.name, row) for row in rows)
        finally:
            client.close()
    return out


async def _acme_zone(solver: Solver, client: Client, cfg: AcmeServerConfig, zone: str) -> list[Row]:
    key = cfg.key.name if cfg.key else _principal(cfg.server)
    soa = await _soa(client, cfg.server, zone, key)
    if not soa[2]:
        return [soa]
    try:
        keys = await dnskey_count(client, zone)
    except DnssyncError as e:
        return [soa, (zone, "DNSKEY query", False, str(e))]
    signed = f"signed ({keys} DNSKEY): updates need the server to hold the private keys"
    rows = [soa, (zone, "DNSSEC", True, signed if keys else "unsigned")]
    check, record = "present + clean-up", challenge_name(zone)
    value = secrets.token_urlsafe(32)  # shaped like a DNS-01 digest, as the solver requires
    try:
        await solver.present(record, value)
        await solver.cleanup(record, value)
    except TSIGFailure as e:
        return [*rows, (zone, check, False, _tsig_cause(e, key))]
    except ServerRefused as e:
        if e.rcode == "REFUSED":
            refused = f"REFUSED: key {key!r} may not write TXT at {record} ({_POLICY})"
            return [*rows, (zone, check, False, refused)]
        return [*rows, (zone, check, False, str(e))]
    except DnssyncError as e:
        return [*rows, (zone, check, False, str(e))]
    return [*rows, (zone, check, True, f"a probe value at {record}, written and removed")]


async def _soa(client: Client, server: ServerConfig, zone: str, key: str) -> Row:
    check = "SOA query"
    try:
        serial = await client.soa_serial(zone)
    except TSIGFailure as e:
        if e.tsig_error == "UNSIGNED" and await _refused_unsigned(server, zone):
            return zone, check, False, _not_served(zone, f"{e.rcode}, unsigned")
        return zone, check, False, _tsig_cause(e, key)
    except ServerRefused as e:
        if e.rcode in _NOT_SERVED:
            return zone, check, False, _not_served(zone, e.rcode)
        return zone, check, False, str(e)
    except DnssyncError as e:
        return zone, check, False, str(e)
    return zone, check, True, f"serial {serial}" + (f", signed by {key}" if key else "")


async def _refused_unsigned(server: ServerConfig, zone: str) -> bool:
    """Whether an unsigned SOA query for ``zone`` is refused too (not served)."""
    client = _client(server, None, "")
    try:
        await client.soa_serial(zone)
    except ServerRefused as e:
        return e.rcode in _NOT_SERVED
    except DnssyncError:
        return False
    finally:
        client.close()
    return False


def _principal(server: ServerConfig) -> str:
    return f"gss-tsig {server.gss.principal}" if server.gss else ""


def _client(
    server: ServerConfig, key: dns.tsig.Key | None, label: str, *, signed: bool = False
) -> Client:
    where = ", ".join(f"{h}:{p}" for h, p in server.addresses())
    label = f"{label} ({where})" if label else ""
    return Client.for_server(server, key, label=label, gss=signed)


def _not_served(zone: str, rcode: str) -> str:
    return (
        f"the server does not serve zone {zone} ({rcode}): check the zone name, "
        "and that this is the zone's primary"
    )


def _tsig_cause(e: TSIGFailure, key: str) -> str:
    code = e.tsig_error
    if code == "BADKEY":
        return f"TSIG BADKEY: the server does not know key {key!r}, or not for this zone"
    if code == "BADSIG":
        return f"TSIG BADSIG: the server knows key {key!r} with another secret or algorithm"
    if code == "BADTIME":
        return "TSIG BADTIME: this host's clock and the server's differ too much"
    if code == "UNSIGNED":
        return (
            f"the server answered our signed query unsigned ({e.rcode}): it does not accept "
            f"key {key!r} (wrong name, secret or algorithm)"
        )
    return str(e)


async def _transfer(reader: ZoneReader, zone: str, key: str) -> Row:
    check = "signed AXFR"
    try:
        read = await reader.read()
    except TSIGFailure as e:
        return zone, check, False, _tsig_cause(e, key)
    except ServerRefused as e:
        if e.rcode in ("REFUSED", "NOTAUTH"):
            return zone, check, False, f"{e.rcode}: the key may not transfer the zone ({_TRANSFER})"
        return zone, check, False, str(e)
    except DnssyncError as e:
        text = str(e)
        if "REFUSED" in text or "NOTAUTH" in text:
            text += f" (may the key transfer the zone? {_TRANSFER})"
        return zone, check, False, text
    n = sum(1 for k in read.snapshot.rrsets if k.type != "TXT")
    return zone, check, True, f"{n} record sets of managed types"


async def _update(client: Client, zone: str, name: str, key: str) -> Row:
    check = "UPDATE probe"
    msg = dns.update.UpdateMessage(to_dns(zone))
    msg.present(to_dns(zone))  # holds: the apex has its SOA
    token = f'"dnssync-check-{secrets.token_hex(8)}"'
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, token)
    msg.delete(to_dns(name), rdata)  # a value nobody wrote: nothing changes
    try:
        await client.update(msg, zone, what="UPDATE probe")
    except TSIGFailure as e:
        return zone, check, False, _tsig_cause(e, key)
    except PrerequisiteFailed as e:
        return zone, check, False, f"inconclusive: the apex prerequisite failed ({e.rcode})"
    except ServerRefused as e:
        if e.rcode == "REFUSED":
            return (
                zone,
                check,
                False,
                f"REFUSED: key {key!r} may not write TXT at {name} ({_POLICY})",
            )
        if e.rcode == "NOTAUTH":
            return zone, check, False, "NOTAUTH: the server takes no updates for the zone here"
        return zone, check, False, str(e)
    except DnssyncError as e:
        return zone, check, False, str(e)
    return zone, check, True, f"key may write TXT at {name} (a no-op UPDATE was accepted)"
