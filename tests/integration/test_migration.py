"""migrate_from_txt_owner on real BIND: the old owner's records of live objects become ours.

A zone as another owner id left it: a record of an object the target still reads, one of an
object that is gone, and one of a third owner.  dnssync's plan lists the takeover, one
UPDATE rewrites the live one's TXT, the rest stays byte for byte, and the next plan is empty.
"""

from __future__ import annotations

import dns.query
import dns.rdatatype
import dns.tsig
import dns.zone
from pydantic import SecretStr

from dnssync.config import KeyConfig, ServerConfig, TargetConfig
from dnssync.controller import Target
from dnssync.model import Endpoint, ObjectRef, Policy
from dnssync.registry import format_labels
from tests.dnsservers import DNSServer

ZONE = "migrate.test"


def _txt(owner: str, resource: str) -> str:
    return '"' + format_labels({"owner": owner, "resource": resource}) + '"'


RECORDS = f"""
web 300 IN A 192.0.2.1
extdns-a-web 300 IN TXT {_txt("old-cluster", "service/web/web")}
gone 300 IN A 192.0.2.2
extdns-a-gone 300 IN TXT {_txt("old-cluster", "service/web/gone")}
other 300 IN A 192.0.2.3
extdns-a-other 300 IN TXT {_txt("someone-else", "service/web/web")}
"""


def _target(server: DNSServer) -> Target:
    return Target(
        TargetConfig(
            name="migrate",
            server=ServerConfig(host=server.host, port=server.port, timeout=2.0),
            zones=(ZONE,),
            key=KeyConfig(
                name=server.key.name,
                algorithm=server.key.algorithm,
                secret=SecretStr(server.key.secret),
            ),
            policy=Policy.SYNC,
            owner_id="mdapi",
            migrate_from_txt_owner="old-cluster",
            txt_prefix="extdns-",
        )
    )


def _zone(server: DNSServer) -> dict[str, set[str]]:
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = dns.query.xfr(server.host, ZONE + ".", port=server.port, keyring={key.name: key})
    return {
        f"{name} {dns.rdatatype.to_text(rds.rdtype)}": {r.to_text() for r in rds}
        for name, rds in dns.zone.from_xfr(xfr).iterate_rdatasets()
    }


async def test_takeover_of_live_objects_only(bind_server: DNSServer) -> None:
    """Only web (its Service is read) is taken over; gone and other keep their owners."""
    bind_server.add_zone(ZONE, RECORDS)
    target = _target(bind_server)
    web = Endpoint(f"web.{ZONE}", "A", ("192.0.2.1",), ObjectRef("service", "web", "web"))
    before = _zone(bind_server)

    planned = await target.reconcile([web], apply=False)
    (zr,) = planned.zones
    assert zr.plan is not None
    assert [(o.rrset.name, o.resource) for o in zr.plan.taken_over] == [
        (f"web.{ZONE}", "service/web/web")
    ]
    assert len(zr.plan.changes) == 1

    applied = await target.reconcile([web], apply=True)
    assert applied.ok, [z.error for z in applied.zones]
    after = _zone(bind_server)
    assert after["extdns-a-web TXT"] == {_txt("mdapi", "service/web/web")}
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {"extdns-a-web TXT", "@ SOA"}

    again = await target.reconcile([web], apply=False)
    (zr,) = again.zones
    assert zr.plan is not None and zr.plan.changes == () and zr.plan.taken_over == ()
