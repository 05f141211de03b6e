"""The Technitium 15 stand-in (tests/technitium.py) behaves as Technitium's source says,
and dnssync syncs the seed's layout (apex + `*.zone` policy rows) on it.

Each test names the behaviour and the source place it pins (see the stand-in's
docstrings and ../shared/TECHNITIUM.md).
"""

from __future__ import annotations

import itertools
import socket
import struct
import time

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from dnssync.dns import applier, tsig, wire
from dnssync.dns.client import Client, Timeouts
from dnssync.dns.zones import ZoneReader
from dnssync.errors import DNSTimeout, PrerequisiteFailed, ServerRefused
from dnssync.model import Endpoint, ObjectRef, Policy
from dnssync.plan import PlanOptions, plan
from tests.dnsservers import TechnitiumServer, TsigKey
from tests.integration.test_dnsservers import keyring, lookup, outcome, serial
from tests.integration.test_engine import REGISTRY, endpoints

_numbers = itertools.count(1)


def fresh_zone(server: TechnitiumServer, records: str = "", **options: object) -> str:
    """A new zone; "{zone}" in option values is replaced by its name."""
    name = f"t{next(_numbers)}.tech.test"
    server.add_zone(name, records)
    if options:
        text = {k: _fill(v, name) for k, v in options.items()}
        server.set_zone_options(name, **text)
    return name


def _fill(value: object, zone: str) -> object:
    if isinstance(value, str):
        return value.replace("{zone}", zone)
    if isinstance(value, list):
        return [_fill(v, zone) for v in value]
    return value


def rows(key: TsigKey, *domains: tuple[str, list[str]]) -> list[list[object]]:
    """updateSecurityPolicies rows for ``key``: (domain, types) pairs."""
    return [[key.name, domain, types] for domain, types in domains]


def update(
    zone: str, key: TsigKey, *adds: tuple[str, str, str], section_zone: str | None = None
) -> dns.update.UpdateMessage:
    msg = dns.update.UpdateMessage(
        (section_zone or zone) + ".", keyring=keyring(key), keyname=dns.name.from_text(key.name)
    )
    for name, type_, value in adds:
        msg.add(dns.name.from_text(name, dns.name.from_text(zone)), 300, type_, value)
    return msg


def answer(server: TechnitiumServer, msg: dns.message.Message) -> dns.message.Message:
    return dns.query.tcp(msg, server.host, port=server.port, timeout=5)


def client(server: TechnitiumServer, key: TsigKey | None = None, **kw: float) -> Client:
    k = key or server.key
    return Client(
        server.host,
        server.port,
        key=dns.tsig.Key(k.name, k.secret, k.algorithm),
        timeouts=Timeouts(**kw),  # type: ignore[arg-type]
    )


def test_apex_and_wildcard_rows_cover_apex_and_any_depth(
    technitium_server: TechnitiumServer,
) -> None:
    """Policy `zone` + `*.zone` (IsUpdatePermittedAsync, DnsServer.cs L2926-2929): apex,
    child and grandchild names may be written."""
    zone = fresh_zone(technitium_server)
    key = technitium_server.key
    for owner in ("@", "www", "a.b.c"):
        assert outcome(technitium_server, update(zone, key, (owner, "A", "192.0.2.1"))) == (
            "NOERROR"
        )
    assert lookup(technitium_server, f"a.b.c.{zone}", "A") == ["192.0.2.1"]


def test_wildcard_row_excludes_the_apex(technitium_server: TechnitiumServer) -> None:
    """`*.zone` alone matches `name.EndsWith(".zone")` (L2928): the apex is REFUSED, signed."""
    key = technitium_server.key
    zone = fresh_zone(technitium_server, updateSecurityPolicies=rows(key, ("*.{zone}", ["ANY"])))
    refused = answer(technitium_server, update(zone, key, ("@", "A", "192.0.2.1")))
    assert refused.rcode() == dns.rcode.REFUSED and refused.had_tsig
    assert outcome(technitium_server, update(zone, key, ("www", "A", "192.0.2.1"))) == "NOERROR"


def test_exact_row_covers_only_that_name(technitium_server: TechnitiumServer) -> None:
    """A row for `zone` alone covers the apex only (issues #755, #1658): www is REFUSED."""
    key = technitium_server.key
    zone = fresh_zone(technitium_server, updateSecurityPolicies=rows(key, ("{zone}", ["ANY"])))
    assert outcome(technitium_server, update(zone, key, ("@", "TXT", "apex"))) == "NOERROR"
    assert outcome(technitium_server, update(zone, key, ("www", "A", "192.0.2.1"))) == "REFUSED"


def test_typed_rows_refuse_delete_by_name_but_allow_delete_by_type(
    technitium_server: TechnitiumServer,
) -> None:
    """Types A,TXT: a delete-name RR has type ANY and is REFUSED; per-type deletes pass (L2931)."""
    key = technitium_server.key
    zone = fresh_zone(
        technitium_server,
        'www 300 IN A 192.0.2.1\nwww 300 IN TXT "t"\n',
        updateSecurityPolicies=rows(key, ("{zone}", ["A", "TXT"]), ("*.{zone}", ["A", "TXT"])),
    )
    by_name = update(zone, key)
    by_name.delete(f"www.{zone}.")
    assert outcome(technitium_server, by_name) == "REFUSED"
    by_type = update(zone, key)
    by_type.delete(f"www.{zone}.", "A")
    by_type.delete(f"www.{zone}.", "TXT")
    assert outcome(technitium_server, by_type) == "NOERROR"
    assert lookup(technitium_server, f"www.{zone}", "A") == []
    cname = update(zone, key, ("alias", "CNAME", "www"))
    assert outcome(technitium_server, cname) == "REFUSED"


def test_key_in_no_policy_row_is_refused_signed(technitium_server: TechnitiumServer) -> None:
    """A valid key the zone's policies do not list: REFUSED, and the answer is signed."""
    zone = fresh_zone(technitium_server)
    refused = answer(
        technitium_server, update(zone, technitium_server.other_key, ("x", "A", "192.0.2.1"))
    )
    assert refused.rcode() == dns.rcode.REFUSED and refused.had_tsig


def test_prerequisites_come_before_permissions(technitium_server: TechnitiumServer) -> None:
    """A key with no permission still sees YXDOMAIN for a failed prerequisite (L2963-3078)."""
    zone = fresh_zone(technitium_server, "www 300 IN A 192.0.2.1\n")
    msg = update(zone, technitium_server.other_key, ("www", "A", "192.0.2.9"))
    msg.absent(f"www.{zone}.")
    assert outcome(technitium_server, msg) == "YXDOMAIN"
    msg = update(zone, technitium_server.other_key, ("new", "A", "192.0.2.9"))
    msg.absent(f"new.{zone}.")
    assert outcome(technitium_server, msg) == "REFUSED"


def test_zone_is_the_closest_enclosing_one(technitium_server: TechnitiumServer) -> None:
    """FindAuthZoneInfo (AuthZoneManager.cs L827): a zone section below the apex updates the
    enclosing zone; a zone the server does not host is NOTAUTH."""
    zone = fresh_zone(technitium_server)
    key = technitium_server.key
    deep = update(zone, key, ("_acme-challenge.x", "TXT", "v"), section_zone=f"x.{zone}")
    assert outcome(technitium_server, deep) == "NOERROR"
    assert lookup(technitium_server, f"_acme-challenge.x.{zone}", "TXT") == ['"v"']
    nowhere = update("elsewhere.example", key, ("a", "A", "192.0.2.1"))
    assert outcome(technitium_server, nowhere) == "NOTAUTH"


def test_serial_goes_up_per_record(technitium_server: TechnitiumServer) -> None:
    """CommitAndIncrementSerial per added/deleted record (ApexZone.cs L629): 3 RRs -> +3."""
    zone = fresh_zone(technitium_server)
    before = serial(technitium_server, zone)
    adds = (("a", "A", "192.0.2.1"), ("a", "TXT", "x"), ("b", "A", "192.0.2.2"))
    assert outcome(technitium_server, update(zone, technitium_server.key, *adds)) == "NOERROR"
    assert serial(technitium_server, zone) == before + 3


def test_tsig_errors_as_technitium_answers_them(technitium_server: TechnitiumServer) -> None:
    """VerifySignedRequest (Library L1398): unknown key and hmac-sha224 BADKEY, wrong secret
    BADSIG (both unsigned), a skewed clock BADTIME (signed)."""
    zone = fresh_zone(technitium_server)
    sha224 = TsigKey("sha224-key", "hmac-sha224", technitium_server.key.secret)
    technitium_server.add_key(sha224)  # configured, yet GetTsigMacSize has no case for it
    add = ("x", "A", "192.0.2.1")
    unknown = TsigKey.generate("nobody-knows")
    assert outcome(technitium_server, update(zone, unknown, add)) == "PeerBadKey"
    assert outcome(technitium_server, update(zone, sha224, add)) == "PeerBadKey"
    wrong = TsigKey.generate(technitium_server.key.name)
    assert outcome(technitium_server, update(zone, wrong, add)) == "PeerBadSignature"
    key = technitium_server.key
    signer = tsig.Signer(dns.tsig.Key(key.name, key.secret, key.algorithm))
    query = dns.message.make_query(f"{zone}.", "SOA").to_wire()
    data, mac = signer.sign(query, int(time.time()) - 3600)
    with socket.create_connection((technitium_server.host, technitium_server.port), 5) as s:
        s.sendall(struct.pack("!H", len(data)) + data)
        (n,) = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))
        reply = s.recv(n, socket.MSG_WAITALL)
    msg = wire.parse(reply)
    assert msg.rcode == dns.rcode.NOTAUTH
    assert msg.tsig is not None and msg.tsig.error == dns.rcode.BADTIME and msg.tsig.mac
    with pytest.raises(dns.tsig.PeerBadTime):
        tsig.Verifier(signer, mac).verify(reply, msg.tsig, int(time.time()))


def test_axfr_over_udp_is_formerr(technitium_server: TechnitiumServer) -> None:
    """AXFR over UDP -> FORMERR (DnsServer.cs L2722-2726)."""
    zone = fresh_zone(technitium_server)
    query = dns.message.make_query(f"{zone}.", "AXFR")
    reply = dns.query.udp(query, technitium_server.host, port=technitium_server.port, timeout=5)
    assert reply.rcode() == dns.rcode.FORMERR


async def test_transfer_needs_a_listed_key(technitium_server: TechnitiumServer) -> None:
    """zoneTransferTsigKeyNames (A.4): unsigned or another key's AXFR is REFUSED."""
    zone = fresh_zone(technitium_server)
    with pytest.raises(ServerRefused) as info:
        await client(technitium_server, technitium_server.other_key).transfer(zone)
    assert info.value.rcode == "REFUSED"
    unsigned = Client(technitium_server.host, technitium_server.port)
    with pytest.raises(ServerRefused):
        await unsigned.transfer(zone)


async def test_transfers_come_in_signed_messages_of_16k(
    technitium_server: TechnitiumServer,
) -> None:
    """MAX_XFR_RESPONSE_SIZE (Library L70) and SignResponse over the chain (L1517+): a 3000
    record AXFR comes in several messages of at most 16 KiB, every one signed and verified."""
    records = "".join(f"h{i} 300 IN A 10.0.{i // 256}.{i % 256}\n" for i in range(3000))
    zone = fresh_zone(technitium_server, records)
    key = technitium_server.key
    signer = tsig.Signer(dns.tsig.Key(key.name, key.secret, key.algorithm))
    query = dns.message.make_query(f"{zone}.", "AXFR")
    data, mac = signer.sign(query.to_wire(), int(time.time()))
    verifier = tsig.Verifier(signer, mac)
    assembler = wire.TransferAssembler(zone, serial=None)
    sizes = []
    with socket.create_connection((technitium_server.host, technitium_server.port), 5) as s:
        s.sendall(struct.pack("!H", len(data)) + data)
        while not assembler.done:
            (n,) = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))
            reply = s.recv(n, socket.MSG_WAITALL)
            sizes.append(n)
            msg = wire.parse(reply)
            assert msg.tsig is not None, "every message is signed"
            verifier.verify(reply, msg.tsig, int(time.time()))
            assembler.feed(msg.records)
    assert len(sizes) > 3 and max(sizes) <= 16384, sizes
    assert len(assembler.full) == 3000 + 2  # + NS and ns1's A
    read = await ZoneReader(client(technitium_server), zone).read()
    assert read.transfer == "axfr" and len(read.snapshot.rrsets) >= 3000


async def test_ixfr_from_the_per_record_history(technitium_server: TechnitiumServer) -> None:
    """IXFR (RFC 1995) from the history CommitAndIncrementSerial keeps: one SOA step per
    record, read incrementally by dnssync and equal to a full read."""
    zone = fresh_zone(technitium_server, "old 300 IN A 192.0.2.1\n")
    c = client(technitium_server)
    reader = ZoneReader(c, zone)
    first = await reader.read()
    msg = update(zone, technitium_server.key, ("new", "A", "192.0.2.2"), ("new", "TXT", "t"))
    msg.delete(f"old.{zone}.", "A")
    assert outcome(technitium_server, msg) == "NOERROR"
    result = await c.transfer(zone, serial=first.snapshot.serial)
    assert result.kind == "ixfr" and len(result.deltas) == 3
    assert result.serial == first.snapshot.serial + 3
    inc = await reader.read()
    assert inc.transfer == "ixfr"
    assert inc.snapshot == (await ZoneReader(c, zone).read()).snapshot


async def test_ttl_above_soa_expire_gets_no_answer_and_no_change(
    technitium_server: TechnitiumServer,
) -> None:
    """ "TTL cannot be greater than SOA EXPIRE" (PrimaryZone.cs L2685) is an exception on the
    UPDATE path: no answer at all (A.2 step 7), the touched records rolled back."""
    zone = fresh_zone(technitium_server)
    before = serial(technitium_server, zone)
    c = client(technitium_server, query=1.0)
    msg = dns.update.UpdateMessage(f"{zone}.")  # signed by the client
    msg.add(f"ok.{zone}.", 300, "A", "192.0.2.1")
    msg.add(f"long.{zone}.", 86401, "A", "192.0.2.2")  # SOA EXPIRE is 86400
    with pytest.raises(DNSTimeout) as info:
        await c.update(msg, zone)
    assert "outcome unknown" in str(info.value)
    assert serial(technitium_server, zone) == before
    assert lookup(technitium_server, f"ok.{zone}", "A") == []


# --- dnssync on the stand-in ------------------------------------------------------


def _layout(zone: str) -> list[Endpoint]:
    ref = ObjectRef("ingress", "default", "site")
    return [
        Endpoint(zone, "A", ("192.0.2.10",), ref, 300),
        Endpoint(f"alias.{zone}", "CNAME", ("lb.example.org",), ref, 300),
        *endpoints(zone, 40),
        Endpoint(f"deep.apps.{zone}", "AAAA", ("2001:db8::5",), ref, 300),
    ]


async def _sync(c: Client, zone: str, eps: list[Endpoint]) -> applier.ApplyResult:
    snap = (await ZoneReader(c, zone).read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(policy=Policy.SYNC, max_change_ratio=None))
    return await applier.apply(c, zone, p.changes)


async def test_full_sync_of_the_seed_layout(technitium_server: TechnitiumServer) -> None:
    """Apex + `*.zone` rows (the seed's home.tillo.ch): apex, children and deeper names sync,
    and the next plan is empty."""
    zone = fresh_zone(technitium_server, "manual 300 IN A 192.0.2.50\ndhcp 60 IN A 192.0.2.51\n")
    c = client(technitium_server)
    eps = _layout(zone)
    result = await _sync(c, zone, eps)
    assert not result.rejected and len(result.applied) == len(eps)
    snap = (await ZoneReader(c, zone).read()).snapshot
    again = plan(eps, snap, REGISTRY, PlanOptions(policy=Policy.SYNC, max_change_ratio=None))
    assert again.changes == ()
    assert snap.get(zone, "A").values == ("192.0.2.10",)  # type: ignore[union-attr]
    assert snap.get(f"manual.{zone}", "A") is not None, "manual records untouched"


async def test_record_outside_the_policy_is_rejected_and_named(
    technitium_server: TechnitiumServer,
) -> None:
    """Rows grant A/AAAA/TXT only: the CNAME change is REFUSED, named, and neither it nor its
    ownership TXT is written; every other change applies."""
    key = technitium_server.key
    types = ["A", "AAAA", "TXT"]
    zone = fresh_zone(
        technitium_server, updateSecurityPolicies=rows(key, ("{zone}", types), ("*.{zone}", types))
    )
    c = client(technitium_server)
    eps = _layout(zone)
    result = await _sync(c, zone, eps)
    assert [r.change.name for r in result.rejected] == [f"alias.{zone}"]
    assert not isinstance(result.rejected[0].error, PrerequisiteFailed)
    assert f"alias.{zone}" in str(result.rejected[0]) and "REFUSED" in str(result.rejected[0])
    assert len(result.applied) == len(eps) - 1
    snap = (await ZoneReader(c, zone).read()).snapshot
    assert snap.get(f"alias.{zone}", "CNAME") is None
    assert REGISTRY.claims(snap, f"alias.{zone}", "CNAME") == [], "never half-applied"


async def test_name_outside_the_policy_is_rejected_and_named(
    technitium_server: TechnitiumServer,
) -> None:
    """Rows for `*.apps.zone` only: `www.zone` is REFUSED and named with its ownership TXT
    unwritten, while the names under apps apply."""
    key = technitium_server.key
    zone = fresh_zone(
        technitium_server, updateSecurityPolicies=rows(key, ("*.apps.{zone}", ["ANY"]))
    )
    ref = ObjectRef("service", "default", "web")
    eps = [
        Endpoint(f"a.apps.{zone}", "A", ("192.0.2.1",), ref, 300),
        Endpoint(f"b.apps.{zone}", "A", ("192.0.2.2",), ref, 300),
        Endpoint(f"www.{zone}", "A", ("192.0.2.3",), ref, 300),
    ]
    c = client(technitium_server)
    result = await _sync(c, zone, eps)
    assert [r.change.name for r in result.rejected] == [f"www.{zone}"]
    assert "REFUSED" in str(result.rejected[0]) and f"www.{zone}" in str(result.rejected[0])
    assert sorted(ch.name for ch in result.applied) == [f"a.apps.{zone}", f"b.apps.{zone}"]
    snap = (await ZoneReader(c, zone).read()).snapshot
    assert snap.get(f"www.{zone}", "A") is None
    assert REGISTRY.claims(snap, f"www.{zone}", "A") == [], "never half-applied"
