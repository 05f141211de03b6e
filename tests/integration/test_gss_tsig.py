"""GSS-TSIG (RFC 3645) against a real MIT Kerberos KDC and a real BIND with
`tkey-gssapi-keytab`, both on loopback (tests/kerberos.py).

The target's `server.gss` names a principal and its keytab; dnssync negotiates a TKEY
context with BIND, then UPDATEs and AXFR/IXFR are signed with it.  BIND's update policy
grants one principal (`dnssync@DNSSYNC.TEST`); another (`intruder@`) holds a valid
context but may not write.  A principal whose tickets last seconds shows the context
renewed before it runs out, and a restarted BIND (which forgets every context) shows
it made anew after BADKEY.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dnssync.acme.solver import Solver
from dnssync.config import AcmeConfig, GSSConfig, ServerConfig, TargetConfig
from dnssync.controller import Target
from dnssync.dns import applier
from dnssync.errors import GSSFailure, ServerRefused
from dnssync.plan import PlanOptions, plan
from tests.dnsservers import DNSServerError
from tests.integration.acme.conftest import txt_at
from tests.integration.test_engine import REGISTRY, endpoints
from tests.kerberos import KDC, REALM, SERVICE, GssBindServer, client_env, restore_env, set_env

ZONE = "gss.test"
POLICY = f"grant dnssync@{REALM} zonesub ANY; grant brief@{REALM} zonesub ANY;"
BRIEF = 15  # seconds a "brief@" ticket lasts
N = 1500  # records of the big sync: its AXFR takes several messages


@dataclass
class Realm:
    kdc: KDC
    bind: GssBindServer
    keytabs: dict[str, Path]


@pytest.fixture(scope="module")
def realm() -> Iterator[Realm]:
    """A KDC with principals dnssync, intruder and brief (short tickets), and BIND."""
    try:
        kdc = KDC()
    except DNSServerError as e:
        pytest.fail(str(e), pytrace=False)
    old = set_env(client_env(kdc))
    bind: GssBindServer | None = None
    try:
        keytabs = {
            "dnssync": kdc.add_principal("dnssync"),
            "intruder": kdc.add_principal("intruder"),
            "brief": kdc.add_principal("brief", maxlife=f"{BRIEF} seconds"),
        }
        kdc.start()
        bind = GssBindServer(kdc)
        bind.start()
        bind.add_gss_zone(ZONE, POLICY)
        yield Realm(kdc, bind, keytabs)
    except DNSServerError as e:
        pytest.fail(str(e), pytrace=False)
    finally:
        if bind is not None:
            bind.close()
        kdc.close()
        restore_env(old)


def _target(realm: Realm, principal: str, *, zone: str = ZONE) -> Target:
    gss = GSSConfig(
        principal=f"{principal}@{REALM}", keytab=realm.keytabs[principal], service=SERVICE
    )
    return Target(
        TargetConfig(
            name=f"gss-{principal}",
            server=ServerConfig(host=realm.bind.host, port=realm.bind.port, gss=gss),
            zones=(zone,),
            owner_id=principal,
            max_change_ratio=None,
        )
    )


async def _sync(target: Target, n: int, octet: int, prefix: str = "") -> applier.ApplyResult:
    reader = target.readers[ZONE]
    eps = endpoints(ZONE, n, prefix=prefix or target.cfg.owner_id, octet=octet)
    snap = (await reader.read()).snapshot
    changes = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None)).changes
    result = await applier.apply(target.client, ZONE, changes, max_bytes=8000)
    reader.mark_written()
    return result


async def test_sync_through_gss_tsig_writes_and_reads_back(realm: Realm) -> None:
    """A sync as dnssync@REALM: every record applies, the signed IXFR and a multi-message
    AXFR (each message's MIC chained to the last) read them back, re-planning is empty,
    and BIND logged the writes under the principal."""
    target = _target(realm, "dnssync")
    result = await _sync(target, N, octet=1)
    assert not result.rejected, [str(r.error) for r in result.rejected][:3]
    assert len(result.applied) == N
    reader = target.readers[ZONE]
    read = await reader.read()
    assert read.transfer in ("ixfr", "axfr")
    eps = endpoints(ZONE, N, prefix="dnssync", octet=1)
    assert plan(eps, read.snapshot, REGISTRY, PlanOptions(max_change_ratio=None)).changes == ()
    reader.forget()
    full = await reader.read()
    assert full.transfer == "axfr"
    assert sum(1 for k in full.snapshot.rrsets if k.type == "A") == N + 1  # + ns1
    axfr = await target.transfer_client.transfer(ZONE)
    assert axfr.messages > 1, axfr.messages
    assert target.client.negotiations == 1
    log = realm.bind.log_path.read_text(errors="replace")
    assert f"dnssync\\@{REALM}: updating zone '{ZONE}/IN'" in log


async def test_principal_outside_the_policy_is_refused_and_named(realm: Realm) -> None:
    """intruder@REALM negotiates a valid context but the policy grants it nothing: the
    sync fails REFUSED, the error names the principal, and nothing of it is in the zone."""
    target = _target(realm, "intruder")
    with pytest.raises(ServerRefused) as info:
        await _sync(target, 3, octet=2)
    assert info.value.rcode == "REFUSED"
    assert f"gss-tsig intruder@{REALM}" in str(info.value)
    assert target.client.negotiations == 1
    snap = (await _target(realm, "dnssync").readers[ZONE].read()).snapshot
    assert not any(k.name.startswith("intruder") for k in snap.rrsets)


async def test_context_is_renewed_before_it_expires(realm: Realm) -> None:
    """brief@REALM's tickets last 15 s: its context is good for about that long, and a sync
    after most of it has passed negotiates a new one first, then applies."""
    target = _target(realm, "brief")
    first = await _sync(target, 5, octet=3)
    assert not first.rejected and target.client.negotiations == 1
    (context,) = target.client._contexts.values()
    assert context.lifetime <= BRIEF
    print(f"gss-tsig: brief@ context good for {context.lifetime:.0f} s")
    await asyncio.sleep(max(0.0, context.until - time.monotonic() - context.lifetime / 5) + 0.5)
    second = await _sync(target, 10, octet=3)
    assert not second.rejected, [str(r.error) for r in second.rejected][:3]
    assert len(second.applied) == 5  # the five more
    assert target.client.negotiations == 2
    (renewed,) = target.client._contexts.values()
    print(f"gss-tsig: renewed context good for {renewed.lifetime:.0f} s")
    # A fresh ticket from the keytab, not the rest of the old one: the full life again.
    assert renewed.lifetime > BRIEF / 2


async def test_context_the_server_forgot_is_made_anew(realm: Realm) -> None:
    """A BIND restarted without its saved contexts knows none: the next read, or the next
    UPDATE, gets BADKEY (an UPDATE so refused is not applied), a new context is negotiated
    and the exchange goes again, once."""
    target = _target(realm, "dnssync")
    first = await _sync(target, 2, octet=4, prefix="again")
    assert not first.rejected and target.client.negotiations == 1
    realm.bind.restart_forgetting_contexts()
    cached = (await target.readers[ZONE].read()).snapshot  # after the restart: BADKEY too
    assert target.client.negotiations == 2
    eps = endpoints(ZONE, 4, prefix="again", octet=4)
    changes = plan(eps, cached, REGISTRY, PlanOptions(max_change_ratio=None)).changes
    second = await applier.apply(target.client, ZONE, changes, max_bytes=8000)
    assert not second.rejected, [str(r.error) for r in second.rejected][:3]
    assert len(second.applied) == 2
    assert target.client.negotiations == 2
    realm.bind.restart_forgetting_contexts()  # and once more, now for an UPDATE first
    eps = endpoints(ZONE, 6, prefix="again", octet=4)
    changes = plan(eps, cached, REGISTRY, PlanOptions(max_change_ratio=None)).changes
    third = await applier.apply(target.client, ZONE, changes[-2:], max_bytes=8000)
    assert not third.rejected, [str(r.error) for r in third.rejected][:3]
    assert len(third.applied) == 2
    assert target.client.negotiations == 3


async def test_a_principal_without_tickets_fails_in_one_named_line(realm: Realm) -> None:
    """A principal the keytab does not hold gets no ticket: the read fails with GSSFailure
    naming the principal and the server's principal, in one line, before any DNS query."""
    gss = GSSConfig(principal=f"ghost@{REALM}", keytab=realm.keytabs["dnssync"], service=SERVICE)
    target = Target(
        TargetConfig(
            name="gss-ghost",
            server=ServerConfig(host=realm.bind.host, port=realm.bind.port, gss=gss, timeout=2),
            zones=(ZONE,),
        )
    )
    with pytest.raises(GSSFailure) as info:
        await target.readers[ZONE].read()
    text = str(info.value)
    assert f"no Kerberos ticket of ghost@{REALM} for {SERVICE}" in text
    assert "\n" not in text


async def test_acme_present_and_cleanup_through_gss_tsig(realm: Realm) -> None:
    """The ACME solver signs with `server.gss` too: a value presented at _acme-challenge is
    served, and clean-up removes exactly it."""
    gss = {"principal": f"dnssync@{REALM}", "keytab": str(realm.keytabs["dnssync"])}
    entry = {
        "name": "gss",
        "server": {
            "host": realm.bind.host,
            "port": realm.bind.port,
            "gss": gss | {"service": SERVICE},
        },
        "zones": [ZONE],
    }
    solver = Solver(
        AcmeConfig.model_validate(
            {"servers": [entry], "propagation": {"timeout": 2.0, "interval": 0.05}}
        )
    )
    record = f"_acme-challenge.www.{ZONE}"
    value = secrets.token_urlsafe(32)
    await solver.present(record, value, wait=False)
    assert value in await txt_at(realm.bind, record)
    await solver.cleanup(record, value)
    assert value not in await txt_at(realm.bind, record)
