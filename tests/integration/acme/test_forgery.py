"""The ACME side cannot forge ownership, against real BIND9 (issue #10, item 1).

With one zone served to both the sync side and the ACME side, a caller of the
webhook, the hooks or the solver could write any TXT at any name -- an
external-dns ownership record naming our owner id beside a manual record,
which sync would then delete.  The solver now writes only digest-shaped values
at ``_acme-challenge`` names, and refuses the rest with one stable line.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dns.query
import dns.tsig
import dns.update
import pytest

from dnssync.acme.solver import Solver
from dnssync.dns.client import Client
from dnssync.dns.zones import ZoneReader
from dnssync.errors import InvalidInput
from dnssync.model import Policy, RecordKey
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions
from tests.dnsservers import BindServer

from .conftest import Certs, WebhookFactory, acme_config, payload, serial_of, served, solve_url
from .test_hooks import dnssync, write_config
from .test_webhook import message, post

pytestmark = pytest.mark.timeout(60)

OWNER = "prod"
REGISTRY = Registry(RegistryOptions(owner_id=OWNER))


def forged(zone: str) -> str:
    return f"heritage=external-dns,external-dns/owner={OWNER},external-dns/resource=service/x/y"


def attempts(zone: str) -> list[tuple[str, str]]:
    """(record, value) pairs a hostile caller tries: ownership names, ownership values."""
    digest = secrets.token_urlsafe(32)
    return [
        (f"a-victim.{zone}", forged(zone)),
        (f"a-victim.{zone}", digest),
        (f"_acme-challenge.victim.{zone}", forged(zone)),
        (f"_acme-challenge.victim.{zone}", "123d=="),
        (f"x._acme-challenge.victim.{zone}", digest),
    ]


def seed_victim(server: BindServer, zone: str) -> None:
    upd = dns.update.UpdateMessage(
        zone + ".", keyring=dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    )
    upd.add(f"victim.{zone}.", 300, "A", "192.0.2.10")
    assert dns.query.tcp(upd, server.host, port=server.port, timeout=5).rcode() == 0


async def sync_would_touch_victim(server: BindServer, zone: str) -> bool:
    """Whether a sync-policy plan over the zone as read now touches the manual record."""
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    snap = (await ZoneReader(Client(server.host, server.port, key=key), zone).read()).snapshot
    p = plan([], snap, REGISTRY, PlanOptions(policy=Policy.SYNC, max_change_ratio=None))
    victim = RecordKey(f"victim.{zone}", "A")
    return any(o.rrset.key == victim for c in p.changes for o in c.old)


async def test_solver_refuses_every_forgery_and_writes_nothing(
    bind_server: BindServer, acme_zone: str
) -> None:
    """Present and clean-up at non-challenge names or with non-digest values change nothing."""
    seed_victim(bind_server, acme_zone)
    solver = Solver(acme_config(bind_server, [acme_zone], owner_id=OWNER))
    before = await serial_of(bind_server, acme_zone)
    for record, value in attempts(acme_zone):
        with pytest.raises(InvalidInput) as info:
            await solver.present(record, value)
        assert "\n" not in str(info.value)
        with pytest.raises(InvalidInput):
            await solver.cleanup(record, value)
    assert await serial_of(bind_server, acme_zone) == before
    assert not await sync_would_touch_victim(bind_server, acme_zone)


async def test_webhook_refuses_forgery_with_one_stable_line(
    bind_server: BindServer, acme_zone: str, certs: Certs, webhook: WebhookFactory
) -> None:
    """The webhook answers success false, InvalidPayload, the same line twice; the zone stays."""
    seed_victim(bind_server, acme_zone)
    before = await serial_of(bind_server, acme_zone)
    solver = Solver(acme_config(bind_server, [acme_zone], owner_id=OWNER))
    async with served(webhook(solver), certs.client_context(certs.proxy)) as (hook, session):
        for record, value in attempts(acme_zone):
            texts = set()
            for _ in range(2):
                status, doc = await post(
                    session, solve_url(hook), payload("Present", value, record=record)
                )
                assert status == 201
                assert doc["response"]["success"] is False
                assert doc["response"]["status"]["reason"] == "InvalidPayload"
                texts.add(message(doc))
            (text,) = texts
            assert "\n" not in text
            assert "first label is _acme-challenge" in text or "not an ACME DNS-01 digest" in text
    assert await serial_of(bind_server, acme_zone) == before
    assert not await sync_would_touch_victim(bind_server, acme_zone)


async def test_hooks_refuse_forgery(
    bind_server: BindServer, acme_zone: str, tmp_path: Path
) -> None:
    """`dnssync acme present <fqdn> <value>` (lego exec) exits non-zero with one line, no write."""
    seed_victim(bind_server, acme_zone)
    config = write_config(tmp_path, bind_server, acme_zone)
    before = await serial_of(bind_server, acme_zone)
    for record, value in attempts(acme_zone):
        done = await dnssync("present", record + ".", value, config=config)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "Traceback" not in done.stderr
    certbot = {"CERTBOT_DOMAIN": f"victim.{acme_zone}", "CERTBOT_VALIDATION": forged(acme_zone)}
    done = await dnssync("present", config=config, env=certbot)
    assert done.returncode != 0
    assert "not an ACME DNS-01 digest" in done.stderr
    assert await serial_of(bind_server, acme_zone) == before
    assert not await sync_would_touch_victim(bind_server, acme_zone)
