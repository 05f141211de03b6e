"""The UPDATE builder: atomic changes, exact prerequisites, size-cut batches."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig

from dnssync.dns import tsig, updates
from dnssync.dns.client import Client
from dnssync.model import Action, Change, Owned, Ownership, RecordKey, RRset

ZONE = "example.test"
KEY = dns.tsig.Key("k.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "hmac-sha256")


def _owned(
    name: str, type_: str, values: tuple[str, ...], resource: str = "service/ns/web"
) -> Owned:
    first, _, rest = name.partition(".")
    owner = Ownership(
        f"extdns-{type_.lower()}-{first}.{rest}",
        f"heritage=external-dns,external-dns/owner=me,external-dns/resource={resource}",
    )
    return Owned(RRset.of(name, type_, 300, values), owner, resource)


def _create(i: int) -> Change:
    new = _owned(f"host{i}.{ZONE}", "A", (f"10.0.{i // 256 % 256}.{i % 256}",))
    return Change(
        Action.CREATE,
        new.rrset.name,
        new=(new,),
        require_absent=(new.rrset.key, RecordKey(new.owner.name, "TXT")),
    )


def _build(changes: list[Change], zone: str) -> dns.message.Message:
    """Encode, then parse back with dnspython: the wire must be valid DNS."""
    return dns.message.from_wire(updates.encode(changes, zone, msg_id=7))


def _sections(msg: dns.message.Message) -> dict[str, list[tuple[str, str, str, str]]]:
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    names = {"prerequisite": msg.sections[1], "update": msg.sections[2]}
    for section, rrsets in names.items():
        rows = []
        for rrset in rrsets:
            cls = dns.rdataclass.to_text(rrset.deleting or rrset.rdclass)
            typ = dns.rdatatype.to_text(rrset.rdtype)
            values = [rd.to_text() for rd in rrset] or [""]
            rows += [(rrset.name.to_text(), cls, typ, v) for v in values]
        out[section] = rows
    return out


def test_create_carries_record_txt_and_absence_prerequisites() -> None:
    """A create adds the record and its ownership TXT, guarded by NXRRSET on both."""
    msg = _build([_create(1)], ZONE)
    s = _sections(msg)
    assert s["prerequisite"] == [
        ("host1.example.test.", "NONE", "A", ""),
        ("extdns-a-host1.example.test.", "NONE", "TXT", ""),
    ]
    assert ("host1.example.test.", "IN", "A", "10.0.0.1") in s["update"]
    assert any(r[0] == "extdns-a-host1.example.test." and r[2] == "TXT" for r in s["update"])


def test_type_change_is_one_message_with_exact_prerequisites() -> None:
    """CNAME -> A: the CNAME and its TXT go, the A and its TXT come, guarded exactly."""
    old = _owned(f"www.{ZONE}", "CNAME", ("lb.example.org",))
    new = _owned(f"www.{ZONE}", "A", ("192.0.2.7",))
    txt = RRset.of(old.owner.name, "TXT", 300, (old.owner.value,))
    change = Change(
        Action.UPDATE,
        f"www.{ZONE}",
        old=(old,),
        new=(new,),
        require=(old.rrset, txt),
        require_absent=(new.rrset.key, RecordKey(new.owner.name, "TXT")),
    )
    s = _sections(_build([change], ZONE))
    assert ("www.example.test.", "IN", "CNAME", "lb.example.org.") in s["prerequisite"]
    assert ("www.example.test.", "ANY", "CNAME", "") in s["update"]
    assert ("extdns-cname-www.example.test.", "NONE", "TXT", f'"{old.owner.value}"') in s["update"]
    assert ("www.example.test.", "IN", "A", "192.0.2.7") in s["update"]


def test_update_keeps_unchanged_ownership_record() -> None:
    """Changing targets with the same owner rewrites the RRset, not the TXT."""
    old = _owned(f"www.{ZONE}", "A", ("192.0.2.1",))
    new = _owned(f"www.{ZONE}", "A", ("192.0.2.2", "192.0.2.3"))
    change = Change(Action.UPDATE, old.rrset.name, old=(old,), new=(new,), require=(old.rrset,))
    s = _sections(_build([change], ZONE))
    assert not [r for r in s["update"] if r[2] == "TXT"]
    assert ("www.example.test.", "ANY", "A", "") in s["update"]


def test_batches_cut_by_bytes_and_stay_under_the_cap() -> None:
    """10,000 creates fill messages close to 60 KB, none past 65,535 bytes signed."""
    changes = [_create(i) for i in range(10_000)]
    groups = updates.batches(changes, ZONE)
    assert sum(len(g) for g in groups) == 10_000
    sizes = []
    for g in groups:
        signed, _ = Client.sign(updates.encode(g, ZONE, msg_id=1), tsig.Signer(KEY))
        sizes.append(len(signed))
    assert max(sizes) <= 65_535
    assert min(sizes[:-1]) > 40_000  # the estimate is not wildly pessimistic
    assert len(groups) <= sum(sizes) // 40_000 + 1


def test_single_large_change_gets_its_own_message() -> None:
    """A change above the limit is alone in its batch rather than dropped."""
    big = Change(
        Action.CREATE,
        f"big.{ZONE}",
        new=(_owned(f"big.{ZONE}", "A", tuple(f"10.1.{i // 256}.{i % 256}" for i in range(5000))),),
    )
    groups = updates.batches([_create(1), big, _create(2)], ZONE)
    assert [len(g) for g in groups] == [1, 1, 1]


def test_describe_names_action_name_type_and_resource() -> None:
    """Reports name the change the way an operator reads it."""
    assert updates.describe(_create(3)) == "create host3.example.test A (service/ns/web)"


def test_encoding_matches_dnspython_and_signs_verifiably() -> None:
    """Our wire parses as dnspython would build it, and its TSIG verifies."""
    old = _owned(f"www.{ZONE}", "A", ("192.0.2.1",))
    new = _owned(f"www.{ZONE}", "AAAA", ("2001:db8::1",), resource="ingress/a/b")
    change = Change(Action.UPDATE, old.rrset.name, old=(old,), new=(new,), require=(old.rrset,))
    wire = updates.encode([change, _create(5)], ZONE, msg_id=4242)
    msg = dns.message.from_wire(wire)
    assert msg.id == 4242
    assert msg.opcode() == dns.opcode.UPDATE
    signed, mac = Client.sign(wire, tsig.Signer(KEY))
    parsed = dns.message.from_wire(signed, keyring={KEY.name: KEY})
    assert parsed.had_tsig
    assert mac
    s = _sections(parsed)
    assert ("www.example.test.", "IN", "AAAA", "2001:db8::1") in s["update"]


def test_query_wire_is_dnspython_s_query_without_rd() -> None:
    """The hand-written query is byte for byte dnspython's make_query with RD cleared."""
    for name, rdtype in [
        ("_acme-challenge.www.example.test", dns.rdatatype.TXT),
        ("example.test", dns.rdatatype.SOA),
        ("ns1.example.test", dns.rdatatype.AAAA),
        ("a\\.b.example.test", dns.rdatatype.CNAME),
        ("", dns.rdatatype.NS),
    ]:
        query = dns.message.make_query(name + ".", rdtype)
        query.flags &= ~dns.flags.RD
        query.id = 4242
        assert updates.query_wire(name, rdtype, msg_id=4242) == query.to_wire(), name
