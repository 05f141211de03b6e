"""create_ptr on real BIND: a forward and a reverse zone, the PTRs follow the A records.

dnssync alone, under sync: an A gets its PTR (and both their ownership TXTs) in the reverse
zone, a moved address moves the PTR, a deleted Service takes its PTR along, and records
nobody manages in the reverse zone stay.
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
from tests.dnsservers import DNSServer

FWD, REV = "rev-fwd.test", "77.10.in-addr.arpa"


def _target(server: DNSServer) -> Target:
    return Target(
        TargetConfig(
            name="rev",
            server=ServerConfig(host=server.host, port=server.port, timeout=2.0),
            zones=(FWD, REV),
            key=KeyConfig(
                name=server.key.name,
                algorithm=server.key.algorithm,
                secret=SecretStr(server.key.secret),
            ),
            policy=Policy.SYNC,
            owner_id="me",
            txt_prefix="extdns-",
            managed_record_types=("A", "AAAA", "CNAME", "PTR"),
            create_ptr=True,
        )
    )


def _a(name: str, ip: str) -> Endpoint:
    return Endpoint(f"{name}.{FWD}", "A", (ip,), ObjectRef("service", "web", name))


def _zone(server: DNSServer, zone: str) -> dict[tuple[str, str], set[str]]:
    key = dns.tsig.Key(server.key.name, server.key.secret, server.key.algorithm)
    xfr = dns.query.xfr(server.host, zone + ".", port=server.port, keyring={key.name: key})
    return {
        (str(name), dns.rdatatype.to_text(rds.rdtype)): {r.to_text() for r in rds}
        for name, rds in dns.zone.from_xfr(xfr).iterate_rdatasets()
        if rds.rdtype not in (dns.rdatatype.SOA, dns.rdatatype.NS) and str(name) != "ns1"
    }


async def test_ptrs_follow_the_a_records_under_sync(bind_server: DNSServer) -> None:
    """Create, move, delete A records: the reverse zone holds just their PTRs, and the rest."""
    bind_server.add_zone(FWD)
    bind_server.add_zone(REV, "9.9 300 IN PTR printer.lan.\n")
    target = _target(bind_server)
    owner = '"heritage=external-dns,external-dns/owner=me"'
    manual = {("9.9", "PTR"): {"printer.lan."}}

    result = await target.reconcile([_a("web", "10.77.0.1"), _a("db", "10.77.0.2")], apply=True)
    assert result.ok, [z.error for z in result.zones]
    assert _zone(bind_server, REV) == {
        **manual,
        ("1.0", "PTR"): {f"web.{FWD}."},
        ("2.0", "PTR"): {f"db.{FWD}."},
        ("extdns-ptr-1.0", "TXT"): {owner},
        ("extdns-ptr-2.0", "TXT"): {owner},
    }

    result = await target.reconcile([_a("web", "10.77.0.3")], apply=True)
    assert result.ok, [z.error for z in result.zones]
    assert _zone(bind_server, REV) == {
        **manual,
        ("3.0", "PTR"): {f"web.{FWD}."},
        ("extdns-ptr-3.0", "TXT"): {owner},
    }
    assert ("db", "A") not in _zone(bind_server, FWD)

    again = await target.reconcile([_a("web", "10.77.0.3")], apply=False)
    assert [len(z.plan.changes) for z in again.zones if z.plan] == [0, 0]
