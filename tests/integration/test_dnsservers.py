"""Smoke tests of the DNS server harness (tests/dnsservers.py) against real daemons.

They pin down what each server really answers, with plain dnspython, so that the engine's
tests can rely on the fixtures: TSIG-signed SOA, AXFR, IXFR and UPDATE work with `key`;
`other_key`, a wrong secret and a skewed clock fail the way each server fails them.
"""

from __future__ import annotations

import itertools
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest

from tests.dnsservers import BindServer, DNSServer, TsigKey, ZoneUnderTest

SEED = 'www 300 IN A 192.0.2.1\nmanual 300 IN TXT "hand made"\n'
_numbers = itertools.count(1)


def keyring(key: TsigKey) -> dict[dns.name.Name, Any]:
    return dns.tsigkeyring.from_text({key.name: (key.algorithm, key.secret)})


def signed_soa(server: DNSServer, zone: str, key: TsigKey | None = None) -> dns.message.Message:
    key = key or server.key
    query = dns.message.make_query(zone + ".", "SOA")
    query.use_tsig(keyring(key), keyname=key.name)
    return dns.query.tcp(query, server.host, port=server.port, timeout=5)


def serial(server: DNSServer, zone: str) -> int:
    answer = signed_soa(server, zone).find_rrset(
        dns.message.ANSWER, dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.SOA
    )
    return int(answer[0].serial)


def lookup(server: DNSServer, name: str, rdtype: str) -> list[str]:
    response = dns.query.tcp(
        dns.message.make_query(name + ".", rdtype), server.host, port=server.port, timeout=5
    )
    return sorted(rd.to_text() for rrset in response.answer for rd in rrset)


def update(zone: str, key: TsigKey, owner: str = "new") -> dns.update.UpdateMessage:
    message = dns.update.UpdateMessage(
        zone + ".", keyring=keyring(key), keyname=dns.name.from_text(key.name)
    )
    message.add(owner, 300, "A", "192.0.2.7")
    message.add(owner, 300, "TXT", '"added"')
    return message


def outcome(server: DNSServer, message: dns.message.Message) -> str:
    """The rcode name of the answer, or the dnspython exception it raised."""
    try:
        response = dns.query.tcp(message, server.host, port=server.port, timeout=5)
    except (dns.tsig.PeerError, dns.exception.FormError) as exc:
        return type(exc).__name__
    return dns.rcode.to_text(response.rcode())


def transfer(server: DNSServer, zone: str, **kw: Any) -> list[dns.rrset.RRset]:
    key = server.key
    messages = dns.query.xfr(
        server.host,
        zone + ".",
        port=server.port,
        keyring=keyring(key),
        keyname=key.name,
        lifetime=10,
        **kw,
    )
    return [rrset for message in messages for rrset in message.answer]


def test_signed_soa_over_tcp(zone: ZoneUnderTest) -> None:
    """A TSIG-signed SOA query over TCP answers NOERROR with serial 1."""
    response = signed_soa(zone.server, zone.name)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.had_tsig
    assert serial(zone.server, zone.name) == 1


def test_signed_axfr_returns_seed_records(zone: ZoneUnderTest) -> None:
    """A signed AXFR returns the SOA, NS, glue and the records given to add_zone."""
    name = f"seed.{zone.name}"
    zone.server.add_zone(name, SEED)
    got = {
        (r.name.to_text(), dns.rdatatype.to_text(r.rdtype), rd.to_text())
        for r in transfer(zone.server, name)
        for rd in r
    }
    assert ("www", "A", "192.0.2.1") in got
    assert ("manual", "TXT", '"hand made"') in got
    assert ("@", "NS", f"ns1.{name}.") in got or ("@", "NS", "ns1") in got
    assert ("ns1", "A", "127.0.0.1") in got


def test_signed_update_applies_and_serial_grows(zone: ZoneUnderTest) -> None:
    """An UPDATE adding A + TXT in one message applies both and raises the serial."""
    server = zone.server
    assert outcome(server, update(zone.name, server.key)) == "NOERROR"
    assert lookup(server, f"new.{zone.name}", "A") == ["192.0.2.7"]
    assert lookup(server, f"new.{zone.name}", "TXT") == ['"added"']
    assert serial(server, zone.name) > 1


def test_ixfr_support(zone: ZoneUnderTest) -> None:
    """IXFR after one update: BIND, Knot and Technitium send the diff, PowerDNS the whole zone."""
    server = zone.server
    assert outcome(server, update(zone.name, server.key)) == "NOERROR"
    rrsets = transfer(server, zone.name, rdtype="IXFR", serial=1)
    types = [dns.rdatatype.to_text(r.rdtype) for r in rrsets]
    # Incremental: new SOA, old SOA, (deletions), new SOA, additions, new SOA.
    incremental = types[:2] == ["SOA", "SOA"]
    assert incremental == (server.kind != "pdns"), types
    assert {"A", "TXT"} <= set(types)


OTHER_KEY_ANSWER = {
    "bind": "REFUSED",
    "knot": "PeerBadKey",
    "pdns": "REFUSED",
    "technitium": "REFUSED",  # signed: the key is in no policy row of the zone
}


def test_other_key_is_refused(zone: ZoneUnderTest) -> None:
    """other_key is out of scope on the test zone: REFUSED, or Knot's NOTAUTH+BADKEY."""
    server = zone.server
    got = outcome(server, update(zone.name, server.other_key))
    assert got != "NOERROR"
    assert got == OTHER_KEY_ANSWER[server.kind]
    assert lookup(server, f"new.{zone.name}", "A") == []


def test_other_key_is_valid_on_other_test(dns_server: DNSServer) -> None:
    """other_key itself is good: it may update other.test."""
    owner = f"smoke{next(_numbers)}"
    got = outcome(dns_server, update("other.test", dns_server.other_key, owner))
    assert got == "NOERROR"
    assert lookup(dns_server, f"{owner}.other.test", "A") == ["192.0.2.7"]


WRONG_SECRET_ANSWER = {
    "bind": "PeerBadSignature",  # NOTAUTH + BADSIG
    "knot": "PeerBadSignature",  # NOTAUTH + BADSIG
    "pdns": "FormError",  # REFUSED without any TSIG: dnspython rejects the unsigned answer
    "technitium": "PeerBadSignature",  # NOTAUTH + BADSIG, unsigned
}


def test_wrong_secret_is_rejected(zone: ZoneUnderTest) -> None:
    """The right key name with a wrong secret gets a TSIG error, and nothing changes."""
    server = zone.server
    wrong = TsigKey.generate(server.key.name)
    assert outcome(server, update(zone.name, wrong)) == WRONG_SECRET_ANSWER[server.kind]
    assert lookup(server, f"new.{zone.name}", "A") == []
    assert serial(server, zone.name) == 1


def test_stop_start_keeps_port_zones_and_data(zone: ZoneUnderTest) -> None:
    """stop() then start() serves the same zones and updates on the same port."""
    server = zone.server
    assert outcome(server, update(zone.name, server.key)) == "NOERROR"
    before, port, pid = serial(server, zone.name), server.port, server.pid
    server.stop()
    assert not server.running
    with pytest.raises(ConnectionRefusedError):
        dns.query.tcp(dns.message.make_query(zone.name, "SOA"), server.host, port=port, timeout=2)
    server.start()
    assert (server.port, server.running) == (port, True)
    assert server.pid != pid
    assert serial(server, zone.name) == before
    assert lookup(server, f"new.{zone.name}", "TXT") == ['"added"']
    # and the server still takes updates after the restart
    assert outcome(server, update(zone.name, server.key, "after")) == "NOERROR"
    assert serial(server, zone.name) > before


def test_bind_signed_zone_without_keys_is_servfail(bind_server: BindServer) -> None:
    """BIND: UPDATE to an offline-signed zone whose private keys are gone → SERVFAIL."""
    name = f"nokeys{next(_numbers)}.test"
    bind_server.add_signed_zone_without_keys(name)
    assert "RRSIG" in {dns.rdatatype.to_text(r.rdtype) for r in transfer(bind_server, name)}
    assert outcome(bind_server, update(name, bind_server.key)) == "SERVFAIL"
    assert serial(bind_server, name) == 1


def test_skewed_bind_is_badtime(skewed_bind: DNSServer) -> None:
    """BIND two hours ahead answers signed requests NOTAUTH+BADTIME (dnspython: PeerBadTime)."""
    assert lookup(skewed_bind, "skew.test", "SOA")  # the zone is there, unsigned works
    with pytest.raises(dns.tsig.PeerBadTime):
        signed_soa(skewed_bind, "skew.test")
    assert outcome(skewed_bind, update("skew.test", skewed_bind.key)) == "PeerBadTime"
