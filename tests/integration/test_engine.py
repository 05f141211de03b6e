"""The RFC 2136 engine against real BIND9, Knot DNS and PowerDNS."""

from __future__ import annotations

import asyncio
import logging
import struct

import dns.message
import dns.query
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from dnssync.dns import applier, updates
from dnssync.dns.client import Client, Timeouts
from dnssync.dns.zones import ZoneReader
from dnssync.errors import (
    DNSError,
    DNSTimeout,
    PrerequisiteFailed,
    ServerFailure,
    ServerRefused,
    TransferFailed,
    TSIGFailure,
)
from dnssync.model import Endpoint, ObjectRef, Policy, RecordKey
from dnssync.plan import PlanOptions, plan
from dnssync.registry import Registry, RegistryOptions
from tests.dnsservers import DNSServer, TsigKey, ZoneUnderTest, start_server

FAST = Timeouts(query=2.0, transfer=30.0, attempts=2)
REGISTRY = Registry(RegistryOptions(owner_id="test-owner", prefix="extdns-"))
SEED = (
    'manual 300 IN A 192.0.2.50\nmanual 300 IN TXT "hand made"\nmx 300 IN MX 10 mail.example.org.\n'
    'hinfo 300 IN HINFO "cpu" "os"\n'
)


def tsig(key: TsigKey) -> dns.tsig.Key:
    return dns.tsig.Key(key.name, key.secret, key.algorithm)


def client(server: DNSServer, key: TsigKey | None = None, **kw: object) -> Client:
    return Client(server.host, server.port, key=tsig(key or server.key), timeouts=FAST)


def endpoints(zone: str, n: int, *, prefix: str = "host", octet: int = 0) -> list[Endpoint]:
    return [
        Endpoint(
            f"{prefix}{i}.{zone}",
            "A",
            (f"10.{octet}.{i // 256 % 256}.{i % 256}",),
            ObjectRef("service", "default", f"{prefix}{i}"),
            300,
        )
        for i in range(n)
    ]


async def sync(
    c: Client, reader: ZoneReader, eps: list[Endpoint], policy: Policy = Policy.SYNC
) -> applier.ApplyResult:
    snap = (await reader.read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(policy=policy, max_change_ratio=None))
    result = await applier.apply(c, reader.zone, p.changes)
    reader.mark_written()
    return result


def foreign_update(server: DNSServer, zone: str, *lines: tuple[str, str, str]) -> None:
    upd = dns.update.UpdateMessage(zone + ".", keyring=tsig(server.key))
    for name, type_, value in lines:
        upd.add(f"{name}.{zone}.", 300, type_, value)
    r = dns.query.tcp(upd, server.host, port=server.port, timeout=5)
    assert r.rcode() == 0


async def test_axfr_reads_the_zone_exactly(zone: ZoneUnderTest) -> None:
    """A signed AXFR gives the records written; types dnssync cannot publish only mark names."""
    zone.server.add_zone(f"seed.{zone.name}", SEED)
    name = f"seed.{zone.name}"
    read = await ZoneReader(client(zone.server), name).read()
    assert read.transfer == "axfr"
    snap = read.snapshot
    assert snap.get(f"manual.{name}", "A") is not None
    assert snap.get(f"manual.{name}", "A").values == ("192.0.2.50",)  # type: ignore[union-attr]
    assert snap.get(f"manual.{name}", "TXT").values == ("hand made",)  # type: ignore[union-attr]
    assert snap.get(f"mx.{name}", "MX").values == ("10 mail.example.org",)  # type: ignore[union-attr]
    assert f"hinfo.{name}" in snap.other_names
    assert RecordKey(f"hinfo.{name}", "HINFO") not in snap.rrsets


async def test_unchanged_serial_means_no_transfer(zone: ZoneUnderTest) -> None:
    """A second read with the same serial answers from the cache."""
    reader = ZoneReader(client(zone.server), zone.name)
    first = await reader.read()
    second = await reader.read()
    assert second.transfer == "none"
    assert second.snapshot is first.snapshot


async def test_ixfr_reads_back_what_was_written(zone: ZoneUnderTest) -> None:
    """After updates, the incremental read equals a fresh full read."""
    c = client(zone.server)
    reader = ZoneReader(c, zone.name)
    await reader.read()
    result = await sync(c, reader, endpoints(zone.name, 50))
    assert len(result.applied) == 50 and not result.rejected
    foreign_update(zone.server, zone.name, ("other", "A", "192.0.2.99"))
    inc = await reader.read()
    assert inc.transfer in {"ixfr", "axfr"}  # PowerDNS answers IXFR in full
    if zone.server.kind != "pdns":
        assert inc.transfer == "ixfr"
    full = await ZoneReader(c, zone.name).read()
    assert full.transfer == "axfr"
    assert inc.snapshot == full.snapshot
    for i in range(50):
        rr = full.snapshot.get(f"host{i}.{zone.name}", "A")
        assert rr is not None and rr.values == (f"10.0.0.{i}",)
        owner = REGISTRY.owns(REGISTRY.claims(full.snapshot, f"host{i}.{zone.name}", "A"))
        assert owner is not None and owner.resource == f"service/default/host{i}"


async def test_replanning_after_apply_is_empty(zone: ZoneUnderTest) -> None:
    """Create, update, type change and delete converge; the next plan is empty."""
    c = client(zone.server)
    reader = ZoneReader(c, zone.name)
    eps = endpoints(zone.name, 5)
    await sync(c, reader, eps)
    ref = ObjectRef("ingress", "web", "site")
    changed = [
        Endpoint(f"host0.{zone.name}", "A", ("10.9.9.9",), eps[0].source, 60),
        Endpoint(f"host1.{zone.name}", "CNAME", ("lb.example.org",), eps[1].source, 300),
        Endpoint(f"new.{zone.name}", "AAAA", ("2001:db8::1",), ref, 300),
        *eps[2:4],
    ]
    result = await sync(c, reader, changed)
    assert not result.rejected
    snap = (await reader.read()).snapshot
    p = plan(changed, snap, REGISTRY, PlanOptions(policy=Policy.SYNC, max_change_ratio=None))
    assert p.changes == ()
    assert snap.get(f"host4.{zone.name}", "A") is None
    assert snap.get(f"host1.{zone.name}", "CNAME").values == ("lb.example.org",)  # type: ignore[union-attr]
    assert snap.get(f"host1.{zone.name}", "A") is None


async def test_concurrent_foreign_write_is_isolated_and_named(zone: ZoneUnderTest) -> None:
    """A write between read and update fails only its change; the rest applies."""
    c = client(zone.server)
    reader = ZoneReader(c, zone.name)
    eps = endpoints(zone.name, 20)
    snap = (await reader.read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
    foreign_update(zone.server, zone.name, ("host7", "A", "192.0.2.77"))
    result = await applier.apply(c, zone.name, p.changes)
    assert len(result.applied) == 19
    assert [r.change.name for r in result.rejected] == [f"host7.{zone.name}"]
    assert isinstance(result.rejected[0].error, PrerequisiteFailed)
    assert f"host7.{zone.name}" in str(result.rejected[0])
    after = (await ZoneReader(c, zone.name).read()).snapshot
    assert after.get(f"host7.{zone.name}", "A").values == ("192.0.2.77",)  # type: ignore[union-attr]
    assert REGISTRY.claims(after, f"host7.{zone.name}", "A") == []


async def _apply_fails(zone: ZoneUnderTest, c: Client) -> DNSError:
    eps = endpoints(zone.name, 3)
    snap = (await ZoneReader(client(zone.server), zone.name).read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
    with pytest.raises(DNSError) as info:
        await applier.apply(c, zone.name, p.changes)
    after = (await ZoneReader(client(zone.server), zone.name).read()).snapshot
    assert after.get(f"host0.{zone.name}", "A") is None, "nothing may be half-applied"
    return info.value


async def test_out_of_scope_key_is_refused(zone: ZoneUnderTest) -> None:
    """A key allowed elsewhere only gets REFUSED or NOTAUTH/BADKEY, and no write."""
    err = await _apply_fails(zone, client(zone.server, zone.server.other_key))
    assert isinstance(err, ServerRefused)
    assert err.rcode in {"REFUSED", "NOTAUTH"}
    assert zone.name in str(err) and str(zone.server.port) in str(err)


async def test_wrong_secret_is_a_tsig_failure(zone: ZoneUnderTest) -> None:
    """A wrong secret is reported as a TSIG failure naming the cause."""
    bad = TsigKey(zone.server.key.name, zone.server.key.algorithm, "d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=")
    err = await _apply_fails(zone, client(zone.server, bad))
    assert isinstance(err, TSIGFailure)
    assert err.tsig_error in {"BADSIG", "UNSIGNED"}
    assert zone.name in str(err)


async def test_unknown_key_is_a_tsig_failure(zone: ZoneUnderTest) -> None:
    """A key name the server does not know gives BADKEY (or an unsigned refusal)."""
    bad = TsigKey("nobody-knows-me", zone.server.key.algorithm, zone.server.key.secret)
    err = await _apply_fails(zone, client(zone.server, bad))
    assert isinstance(err, TSIGFailure)
    assert err.tsig_error in {"BADKEY", "UNSIGNED"}


async def test_reading_with_wrong_secret_fails_clearly(zone: ZoneUnderTest) -> None:
    """A transfer with a wrong secret fails as TSIG or refusal, never a snapshot."""
    bad = TsigKey(zone.server.key.name, zone.server.key.algorithm, "d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=")
    with pytest.raises((TSIGFailure, ServerRefused)):
        await ZoneReader(client(zone.server, bad), zone.name).read()


async def test_clock_skew_is_badtime(skewed_bind: DNSServer) -> None:
    """A server two hours off answers BADTIME, reported as such."""
    c = client(skewed_bind)
    with pytest.raises(TSIGFailure) as info:
        await c.soa_serial("skew.test")
    assert info.value.tsig_error == "BADTIME"
    assert "clock" in str(info.value)


async def test_signed_zone_without_keys_is_servfail(bind_server: DNSServer) -> None:
    """BIND refuses updates to a signed zone whose private keys are gone: SERVFAIL."""
    name = "signed-nokeys.test"
    bind_server.add_signed_zone_without_keys(name)
    upd = dns.update.UpdateMessage(name + ".")
    upd.add(f"x.{name}.", 300, "A", "192.0.2.1")
    with pytest.raises(ServerFailure) as info:
        await client(bind_server).update(upd, name)
    assert info.value.rcode == "SERVFAIL" and name in str(info.value)


async def test_secret_never_in_logs_or_errors(
    zone: ZoneUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    """The TSIG secret appears in no log line, error text or repr."""
    caplog.set_level(logging.DEBUG)
    secret = zone.server.key.secret
    bad = TsigKey(zone.server.key.name, zone.server.key.algorithm, "d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=")
    errors: list[BaseException] = []
    for key in (zone.server.key, bad, zone.server.other_key):
        c = client(zone.server, key)
        try:
            await sync(c, ZoneReader(c, zone.name), endpoints(zone.name, 2))
        except DNSError as e:
            errors.append(e)
    assert errors
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors]
    texts += [repr(e) for e in errors] + [repr(client(zone.server))]
    for text in texts:
        assert secret not in text
        assert "d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=" not in text


# --- misbehaving servers (in-test, loopback) -------------------------------


async def _serve(handler: object) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
    return server, server.sockets[0].getsockname()[1]


async def _read_query(reader: asyncio.StreamReader) -> dns.message.Message:
    (n,) = struct.unpack("!H", await reader.readexactly(2))
    return dns.message.from_wire(await reader.readexactly(n), keyring=False)


def _frame(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


async def test_silent_server_times_out() -> None:
    """A server that accepts and never answers gives an error in bounded time."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server, port = await _serve(handler)
    c = Client("127.0.0.1", port, timeouts=Timeouts(query=0.3, transfer=2, attempts=2))
    async with server:
        with pytest.raises((TransferFailed, DNSTimeout)):
            await asyncio.wait_for(c.transfer("example.test"), 5)
        upd = dns.update.UpdateMessage("example.test.")
        with pytest.raises(DNSTimeout) as info:
            await asyncio.wait_for(c.update(upd, "example.test"), 5)
        assert "outcome unknown" in str(info.value)


async def test_hostile_udp_soa_answers_are_dns_errors() -> None:
    """A 15-byte or cut-short UDP SOA answer is a DNSError, never an IndexError."""
    loop = asyncio.get_running_loop()
    answers: list[bytes] = []

    class Hostile(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            r.answer.append(
                dns.rrset.from_text("example.test.", 300, "IN", "SOA", "ns. h. 5 1 1 1 1")
            )
            good = r.to_wire()
            body = answers.pop() if answers else good[:15]
            assert isinstance(self.transport, asyncio.DatagramTransport)
            self.transport.sendto(good[:2] + body[2:], addr)

    transport, _ = await loop.create_datagram_endpoint(Hostile, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    template = bytearray(b"\x00\x00\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00")
    template += b"\x07example\x04test\x00\x00\x06\x00\x01\xc0\x0c\x00\x06\x00\x01"
    try:
        c = Client("127.0.0.1", port, timeouts=Timeouts(query=0.5, attempts=1))
        with pytest.raises(DNSError):
            await c.soa_serial("example.test")
        for cut in range(12, len(template) + 1):  # every prefix of a real SOA answer
            answers.append(bytes(template[:cut]))
            with pytest.raises(DNSError):
                await c.soa_serial("example.test")
    finally:
        transport.close()


async def test_truncated_transfer_fails() -> None:
    """A transfer whose stream ends before the closing SOA is an error, not a zone."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        q = await _read_query(r)
        resp = dns.message.make_response(q)
        resp.answer.append(
            dns.rrset.from_text("example.test.", 300, "IN", "SOA", "ns. host. 5 1 1 1 1")
        )
        resp.answer.append(dns.rrset.from_text("a.example.test.", 300, "IN", "A", "192.0.2.1"))
        w.write(_frame(resp.to_wire()))
        await w.drain()
        w.close()

    server, port = await _serve(handler)
    async with server:
        c = Client("127.0.0.1", port, timeouts=Timeouts(query=1, transfer=3, attempts=1))
        with pytest.raises(TransferFailed) as info:
            await c.transfer("example.test")
        assert "closed" in str(info.value)


async def test_garbage_transfer_fails() -> None:
    """A malformed message inside a transfer fails the read."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        q = await _read_query(r)
        header = struct.pack("!HHHHHH", q.id, 0x8400, 0, 3, 0, 0)
        w.write(_frame(header + b"\x03abc\xff\xff"))
        await w.drain()
        w.close()

    server, port = await _serve(handler)
    async with server:
        c = Client("127.0.0.1", port, timeouts=Timeouts(query=1, transfer=3, attempts=1))
        with pytest.raises(TransferFailed) as info:
            await c.transfer("example.test")
        assert "malformed" in str(info.value)


@pytest.mark.slow
async def test_ten_thousand_records_round_trip(zone: ZoneUnderTest) -> None:
    """10,000 records + ownership TXTs apply from empty and read back identical."""
    c = Client(zone.server.host, zone.server.port, key=tsig(zone.server.key))
    reader = ZoneReader(c, zone.name)
    eps = endpoints(zone.name, 10_000)
    snap = (await reader.read()).snapshot
    p = plan(eps, snap, REGISTRY, PlanOptions(max_change_ratio=None))
    result = await applier.apply(c, zone.name, p.changes)
    assert len(result.applied) == 10_000 and not result.rejected
    total = sum(
        len(updates.encode(b, zone.name, msg_id=1)) for b in updates.batches(p.changes, zone.name)
    )
    assert result.messages <= total // 40_000 + 1
    full = (await ZoneReader(c, zone.name).read()).snapshot
    again = plan(eps, full, REGISTRY, PlanOptions(max_change_ratio=None))
    assert again.changes == ()
    assert sum(1 for k in full.rrsets if k.type == "A") == 10_001  # + ns1


async def test_kept_connection_closed_by_the_server_is_replaced() -> None:
    """An UPDATE on a kept-alive connection the server has dropped goes over a new one."""
    server = start_server("bind")
    try:
        server.add_zone("keep.test")
        c = client(server)
        for attempt in range(2):
            upd = dns.update.UpdateMessage("keep.test.")
            upd.add(f"r{attempt}.keep.test.", 300, "A", "192.0.2.1")
            await c.update(upd, "keep.test")
            assert c.pool, "the connection is kept for the next UPDATE"
            server.stop()
            server.start()  # drops every client connection
        snap = (await ZoneReader(c, "keep.test").read()).snapshot
        assert snap.get("r0.keep.test", "A") is not None
        assert snap.get("r1.keep.test", "A") is not None
    finally:
        server.close()
