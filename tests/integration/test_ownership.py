"""Leftover ownership records against real BIND9 (issue #10, item 2).

A record deleted by hand leaves its ownership TXT behind.  dnssync must never
keep a second value of ours beside it, must remove every value of ours when it
deletes the record, and must treat an ownership TXT of ours with no record as
an orphan -- or a manual record created at the name later reads as ours and
sync deletes it.
"""

from __future__ import annotations

import dns.query
import dns.update

from dnssync.dns.zones import ZoneReader
from dnssync.model import Endpoint, ObjectRef, Policy, RecordKey
from dnssync.plan import PlanOptions, plan
from tests.dnsservers import BindServer

from .test_engine import REGISTRY, client, foreign_update, sync, tsig

WEB = ObjectRef("service", "default", "web")
API = ObjectRef("service", "default", "api")


def delete_by_hand(server: BindServer, zone: str, name: str, type_: str) -> None:
    upd = dns.update.UpdateMessage(zone + ".", keyring=tsig(server.key))
    upd.delete(f"{name}.{zone}.", type_)
    assert dns.query.tcp(upd, server.host, port=server.port, timeout=5).rcode() == 0


async def test_leftover_ownership_never_makes_a_manual_record_deletable(
    bind_server: BindServer,
) -> None:
    """The issue's scenario: hand delete, re-create, object removed, manual A later survives."""
    zone = "leftover.test"
    bind_server.add_zone(zone)
    c = client(bind_server)
    reader = ZoneReader(c, zone)
    www, txt = f"www.{zone}", f"extdns-a-www.{zone}"
    await sync(c, reader, [Endpoint(www, "A", ("192.0.2.1",), WEB, 300)])
    delete_by_hand(bind_server, zone, "www", "A")
    snap = (await reader.read()).snapshot
    assert snap.get(www, "A") is None and snap.get(txt, "TXT") is not None
    # Another object asks for the name: the record comes back with one value of ours.
    result = await sync(c, reader, [Endpoint(www, "A", ("192.0.2.1",), API, 300)])
    assert not result.rejected
    snap = (await reader.read()).snapshot
    assert snap.get(txt, "TXT").values == (  # type: ignore[union-attr]
        REGISTRY.ownership(www, "A", zone=zone, resource=API.resource).value,
    )
    # The object is removed: the record and every value of ours go.
    result = await sync(c, reader, [])
    assert not result.rejected
    snap = (await reader.read()).snapshot
    assert snap.get(www, "A") is None and snap.get(txt, "TXT") is None
    # A manual record there later is nobody's, and sync leaves it.
    foreign_update(bind_server, zone, ("www", "A", "198.51.100.7"))
    snap = (await reader.read()).snapshot
    p = plan([], snap, REGISTRY, PlanOptions(policy=Policy.SYNC, max_change_ratio=None))
    assert all(www not in (c.name, *(o.rrset.name for o in c.old)) for c in p.changes)
    await sync(c, reader, [])
    final = (await ZoneReader(c, zone).read()).snapshot
    assert final.get(www, "A").values == ("198.51.100.7",)  # type: ignore[union-attr]


async def test_orphaned_ownership_record_listed_then_deleted(bind_server: BindServer) -> None:
    """An ownership TXT of ours with no record: an orphan under upsert-only, deleted under sync."""
    zone = "orphan-txt.test"
    bind_server.add_zone(zone)
    c = client(bind_server)
    reader = ZoneReader(c, zone)
    gone, txt = f"gone.{zone}", f"extdns-a-gone.{zone}"
    await sync(c, reader, [Endpoint(gone, "A", ("192.0.2.2",), WEB, 300)])
    delete_by_hand(bind_server, zone, "gone", "A")
    snap = (await reader.read()).snapshot
    p = plan([], snap, REGISTRY, PlanOptions(policy=Policy.UPSERT_ONLY, max_change_ratio=None))
    assert p.changes == ()
    assert [(o.rrset.name, o.rrset.type) for o in p.orphans] == [(txt, "TXT")]
    result = await sync(c, reader, [], Policy.SYNC)
    assert [ch.name for ch in result.applied] == [txt] and not result.rejected
    final = (await ZoneReader(c, zone).read()).snapshot
    assert RecordKey(txt, "TXT") not in final.rrsets
