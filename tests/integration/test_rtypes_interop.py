"""Every record type through real BIND9, Knot DNS and PowerDNS: write, read back, re-plan.

Each record goes out with its ownership TXT in one UPDATE message, comes
back by AXFR (and IXFR) exactly as planned, and planning again gives
nothing; a user's TXT and MX at the same names survive sync and
upsert-only; bad values are one skip line each and cost nothing else.
"""

from __future__ import annotations

import itertools

import dns.message
import dns.query
import dns.rdatatype
import dns.update
import dns.zone
import pytest

from dnssync.dns import applier, updates
from dnssync.dns.client import Client
from dnssync.dns.zones import ZoneReader
from dnssync.model import Endpoint, ObjectRef, Plan, Policy, RecordKey, ZoneSnapshot
from dnssync.plan import PlanOptions, plan
from dnssync.rtypes import TYPES, parse_values
from tests.dnsservers import DNSServer

from .test_engine import REGISTRY, client, tsig

KINDS = ("bind", "knot", "pdns")
ALL_TYPES = frozenset(TYPES)
_numbers = itertools.count(1)
WEB = ObjectRef("dnsendpoint", "default", "web")
MAIL = ObjectRef("dnsendpoint", "default", "mail")
#: What a user manages by hand beside dnssync: TXT and MX at names dnssync
#: publishes at, and a TXT at the apex where dnssync publishes CAA.
USER_RECORDS = """
mail 300 IN TXT "user managed, keep me"
mail 300 IN MX 50 backup.example.org.
@ 300 IN TXT "google-site-verification=abc123"
"""
DKIM = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 12


def every_type(zone: str) -> list[Endpoint]:
    """One endpoint per type the table knows, values chosen to hit each codec's edges."""

    def ep(rel: str, type_: str, *targets: str, source: ObjectRef = WEB) -> Endpoint:
        name = zone if rel == "@" else f"{rel}.{zone}"
        return Endpoint(name, type_, targets, source, 300)

    return [
        ep("www", "A", "192.0.2.10", "192.0.2.11"),
        ep("www", "AAAA", "2001:db8::10"),
        ep("alias", "CNAME", "lb.example.org"),
        ep("mail", "A", "192.0.2.25", source=MAIL),
        ep(
            "txt",
            "TXT",
            "v=spf1 include:_spf.example.org ~all",
            DKIM,  # over 255 bytes: written as 255-byte strings
            '"first string" "second string"',  # two strings in one record
            'quote " and backslash \\ inside',
            '"\\"starts with a quote"',
        ),
        ep("mx", "MX", "10 mx1.example.org", "20 mx2.example.org."),
        ep("_sip._tcp", "SRV", "0 5 5060 sip1.example.org", "10 5 5061 sip2.example.org"),
        ep("@", "CAA", "0 issue letsencrypt.org", '0 iodef "mailto:security@example.org"'),
        ep("sub", "NS", "ns1.example.org", "ns2.example.org"),
        ep("ptr", "PTR", "host.example.org"),
    ]


@pytest.fixture(params=KINDS, ids=KINDS)
def server(request: pytest.FixtureRequest) -> DNSServer:
    """BIND, Knot and PowerDNS in turn (the session's servers)."""
    found = request.getfixturevalue(f"{request.param}_server")
    assert isinstance(found, DNSServer)
    return found


def new_zone(server: DNSServer, records: str = USER_RECORDS) -> str:
    name = f"rt{next(_numbers)}.test"
    server.add_zone(name, records)
    return name


def options(policy: Policy) -> PlanOptions:
    return PlanOptions(policy=policy, max_change_ratio=None, managed_types=ALL_TYPES)


async def plan_now(reader: ZoneReader, eps: list[Endpoint], policy: Policy) -> Plan:
    snap = (await reader.read()).snapshot
    return plan(eps, snap, REGISTRY, options(policy))


async def apply_plan(c: Client, reader: ZoneReader, p: Plan) -> None:
    result = await applier.apply(c, reader.zone, p.changes)
    assert not result.rejected, [str(r) for r in result.rejected]
    reader.mark_written()


def independent_axfr(server: DNSServer, zone: str) -> dns.zone.Zone:
    """The zone as dnspython's own AXFR client reads it (no dnssync code involved)."""
    key = tsig(server.key)
    return dns.zone.from_xfr(
        dns.query.xfr(
            server.host, zone + ".", port=server.port, keyring={key.name: key}, relativize=False
        ),
        relativize=False,
    )


def test_each_change_carries_its_record_and_ownership_txt_in_one_message() -> None:
    """The encoder puts every record set and its ownership TXT into the same UPDATE."""
    zone = "example.test"
    empty = ZoneSnapshot(zone, 1, {}, frozenset({zone}))
    p = plan(every_type(zone), empty, REGISTRY, options(Policy.SYNC))
    assert len(p.changes) == 9 and not p.skipped  # www carries A and AAAA in one change
    for change in p.changes:
        msg = dns.message.from_wire(updates.encode([change], zone, msg_id=1))
        assert isinstance(msg, dns.update.UpdateMessage)
        written = {(r.name.to_text(True), dns.rdatatype.to_text(r.rdtype)) for r in msg.update}
        for n in change.new:
            assert (n.rrset.name, n.rrset.type) in written
            assert (n.owner.name, "TXT") in written


async def test_every_type_round_trips(server: DNSServer) -> None:
    """Written with ownership, read back (AXFR, IXFR) as planned; re-plan empty; user data kept."""
    zone = new_zone(server)
    c = client(server)
    reader = ZoneReader(c, zone)
    eps = every_type(zone)
    first = await plan_now(reader, eps, Policy.SYNC)
    assert not first.skipped, first.skipped
    await apply_plan(c, reader, first)
    incremental = (await reader.read()).snapshot
    full = (await ZoneReader(c, zone).read()).snapshot
    assert incremental == full
    for e in eps:
        rr = full.get(e.name, e.type)
        assert rr is not None, e.key
        assert rr.values == parse_values(e.type, e.targets), e.key
        mine = REGISTRY.owns(REGISTRY.claims(full, e.name, e.type))
        assert mine is not None and mine.resource == e.source.resource, e.key
    # dnspython's own transfer sees the same data: TXT strings cut at 255 bytes.
    theirs = independent_axfr(server, zone)
    (dkim,) = [
        rd
        for rd in theirs.find_rdataset(f"txt.{zone}.", "TXT")
        if b"".join(rd.strings) == DKIM.encode()
    ]
    assert [len(s) for s in dkim.strings] == [255] * (len(DKIM) // 255) + [len(DKIM) % 255]
    two = [rd for rd in theirs.find_rdataset(f"txt.{zone}.", "TXT") if len(rd.strings) == 2]
    assert [s for rd in two for s in rd.strings] == [b"first string", b"second string"]
    for policy in Policy:
        again = await plan_now(reader, eps, policy)
        assert again.changes == () and not again.skipped, (policy, again.changes)
    assert_user_records_intact(full, zone)


def assert_user_records_intact(snap: ZoneSnapshot, zone: str) -> None:
    assert snap.get(f"mail.{zone}", "TXT").values == ("user managed, keep me",)  # type: ignore[union-attr]
    assert snap.get(f"mail.{zone}", "MX").values == ("50 backup.example.org",)  # type: ignore[union-attr]
    assert snap.get(zone, "TXT").values == ("google-site-verification=abc123",)  # type: ignore[union-attr]


@pytest.mark.parametrize("policy", [Policy.SYNC, Policy.UPSERT_ONLY], ids=str)
async def test_user_txt_and_mx_survive_changes_and_deletes(
    server: DNSServer, policy: Policy
) -> None:
    """A user's TXT and MX beside ours stay through updates and deletes of ours."""
    zone = new_zone(server)
    c = client(server)
    reader = ZoneReader(c, zone)
    eps = every_type(zone)
    await apply_plan(c, reader, await plan_now(reader, eps, policy))
    # Our records change, then go: the user's records at those names stay.
    changed = [
        Endpoint(e.name, e.type, ("192.0.2.26",), e.source, 60) if e.source == MAIL else e
        for e in eps
    ]
    changed.append(Endpoint(f"mail.{zone}", "TXT", ("ours, please",), MAIL, 300))
    step = await plan_now(reader, changed, policy)
    assert [s.key for s in step.skipped] == [RecordKey(f"mail.{zone}", "TXT")]
    assert "no ownership record" in step.skipped[0].reason
    await apply_plan(c, reader, step)
    await apply_plan(c, reader, await plan_now(reader, [], policy))
    after = (await ZoneReader(c, zone).read()).snapshot
    assert_user_records_intact(after, zone)
    if policy is Policy.SYNC:
        assert after.get(f"mail.{zone}", "A") is None
        assert all(after.get(e.name, e.type) is None for e in eps), "sync deletes ours"
    else:
        assert after.get(f"mail.{zone}", "A").values == ("192.0.2.26",)  # type: ignore[union-attr]


BAD = [
    ("srv-no-port", "SRV", "10 5 sip.example.org", "needs 4 fields"),
    ("caa-flag", "CAA", "1 issue letsencrypt.org", "flags '1' are unknown"),
    ("txt-long", "TXT", "x" * 5000, "one value may hold at most 4096"),
    ("mx-no-host", "MX", "10", "needs 2 fields, 'preference host'"),
]


async def test_bad_values_are_one_line_each_and_lose_nothing(server: DNSServer) -> None:
    """Each bad value skips its record set with one line; everything else applies;
    a record of ours whose desired value turns bad stays as it is, under sync too."""
    zone = new_zone(server)
    c = client(server)
    reader = ZoneReader(c, zone)
    good = every_type(zone)
    await apply_plan(c, reader, await plan_now(reader, good, Policy.SYNC))
    bad = [Endpoint(f"{n}.{zone}", t, (v,), WEB, 300) for n, t, v, _ in BAD]
    # The MX of ours turns bad too: it must stay, not be deleted as undesired.
    turned = [
        Endpoint(e.name, e.type, ("10",), e.source, 300) if e.type == "MX" else e for e in good
    ]
    p = await plan_now(reader, [*turned, *bad], Policy.SYNC)
    reasons = {s.key: s.reason for s in p.skipped}
    for (n, _, _, message), e in zip(BAD, bad, strict=True):
        assert message in reasons[e.key] and "\n" not in reasons[e.key], n
    assert "needs 2 fields" in reasons[RecordKey(f"mx.{zone}", "MX")]
    assert p.changes == ()
    await apply_plan(c, reader, p)
    after = (await ZoneReader(c, zone).read()).snapshot
    assert after.get(f"mx.{zone}", "MX").values == ("10 mx1.example.org", "20 mx2.example.org")  # type: ignore[union-attr]
    assert REGISTRY.owns(REGISTRY.claims(after, f"mx.{zone}", "MX")) is not None
