"""The transfer verifier at its edges: every message's TSIG, the SOA framing, the counts.

:meth:`dnssync.dns.client.Client.transfer` believes a zone only when each
message of the answer verifies against the chain of MACs (RFC 8945 5.3.1),
the last one is signed, and the records are framed by the zone's SOA
(AXFR: ``SOA … SOA``; IXFR: ``SOA(new) [SOA(old) dels SOA(next) adds]… SOA(new)``).
Real BIND serves the honest cases (multi-message AXFR, IXFR, a lone SOA,
wrong keys); what BIND never sends -- a tampered or unsigned message, a
foreign id, records past the end, a stall -- comes from a small server in
the test on loopback, as in ``test_transfer_signing.py``.  These are the
cases ``make mutation`` found unguarded in :mod:`dnssync.dns.client`.

Of the 290 mutants of the transfer functions in the run below, 279 are
killed (115 before these tests); the 11 left alive cannot change what a
transfer returns or raises here:

* ``_signer_for(None, zone)`` / ``_signer_for(host, None)``: only a
  GSS-TSIG client reads the host and zone there (to negotiate a context;
  ``test_gss_tsig.py`` runs that against a KDC, outside this run);
* ``conn.read_message(gap, server=None | zone=None)``: both errors it can
  raise (``DNSTimeout``, ``ConnectionFailed``) are caught at once and raised
  again as ``TransferFailed`` with the client's label and zone;
* ``_send(conn, request, None, what)`` / ``(..., zone, None)``: the zone and
  operation only name a failed write, and a write of one query to a TCP
  connection just opened does not fail (the kernel buffers it; a peer that
  resets shows at the read, as "incomplete");
* ``_bounded(..., None, ...)`` for the zone and ``split=None``: the zone of
  the inner timeout is replaced by ``transfer``'s own, and ``None`` is as
  false as ``False``;
* ``"in"`` / ``"soa"`` in ``dns.rdata.from_text`` and a TTL of 1 for the
  IXFR query's SOA: dnspython reads class and type in any case, and a server
  reads only the serial of that SOA (BIND's IXFR above is the same).

Run: ``nice -n 15 python -m tools.mutation dnssync/dns/client.py tests/unit/dns
tests/integration/test_transfer_signing.py
tests/integration/test_transfer_verifier.py --workers 1 --only 'ǁ_transfer'
--only 'ǁtransfer' --only _take_transfer_message --only _verify_transfer
--only 'ǁ_parse'``.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import dns.message
import dns.rcode
import dns.rrset
import dns.tsig
import dns.update
import pytest

from dnssync.dns.client import Client, Timeouts, Transfer
from dnssync.errors import ConnectionFailed, DNSError, ServerRefused, TransferFailed, TSIGFailure
from tests.dnsservers import BindServer, TsigKey

pytestmark = pytest.mark.timeout(60)

KEY = dns.tsig.Key("xfr-key.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", "hmac-sha256")
ZONE = "verify.test"
SOA = "ns. host. 7 1 1 1 1"
Reply = Callable[[dns.message.Message], list[bytes]]


def _rr(name: str, rtype: str, text: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(name, 300, "IN", rtype, text)


def _first(query: dns.message.Message) -> dns.message.Message:
    m = dns.message.make_response(query)
    m.answer.append(_rr(ZONE + ".", "SOA", SOA))
    m.answer.append(_rr(f"a.{ZONE}.", "A", "192.0.2.1"))
    return m


def _last(query: dns.message.Message, *extra: dns.rrset.RRset) -> dns.message.Message:
    m = dns.message.make_response(query)
    m.answer.append(_rr(f"b.{ZONE}.", "A", "192.0.2.66"))
    m.answer.append(_rr(ZONE + ".", "SOA", SOA))
    m.answer.extend(extra)
    return m


def _signed_pair(query: dns.message.Message) -> tuple[bytes, bytes]:
    first = _first(query)
    one = first.to_wire(multi=True)
    two = _last(query).to_wire(multi=True, tsig_ctx=first.tsig_ctx)
    return one, two


async def _server(
    reply: Reply, *, key: dns.tsig.Key | None = KEY, gap: float = 0.0, stall: bool = False
) -> asyncio.Server:
    """An in-test server on loopback that answers each transfer with ``reply``'s messages
    (``gap`` seconds apart; with ``stall`` it then keeps the connection open, silent)."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        (n,) = struct.unpack("!H", await r.readexactly(2))
        keyring = {KEY.name: KEY} if key is not None else None
        query = dns.message.from_wire(await r.readexactly(n), keyring=keyring)
        for data in reply(query):
            w.write(struct.pack("!H", len(data)) + data)
            await w.drain()
            await asyncio.sleep(gap)
        if stall:
            await asyncio.sleep(5)
        w.close()

    return await asyncio.start_server(handler, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


def _client(
    *ports: int, key: dns.tsig.Key | None = KEY, query: float = 0.5, transfer: float = 3.0
) -> Client:
    hosts = [("127.0.0.1", p) for p in ports]
    return Client(
        "127.0.0.1",
        ports[0],
        hosts=hosts,
        key=key,
        timeouts=Timeouts(query=query, transfer=transfer, attempts=1),
    )


async def _transfer(
    reply: Reply,
    *,
    key: dns.tsig.Key | None = KEY,
    stall: bool = False,
    serial: int | None = None,
) -> tuple[Client, Awaitable[Transfer]]:
    """A client of an in-test server that answers every transfer with ``reply``'s messages."""
    server = await _server(reply, key=key, stall=stall)
    client = _client(_port(server), key=key)

    async def run() -> Transfer:
        async with server:
            return await client.transfer(ZONE, serial=serial)

    return client, run()


def _chain(query: dns.message.Message, count: int, *, last: bool) -> list[bytes]:
    """``count`` signed messages of one AXFR answer, each MAC chained to the one before;
    the closing SOA in the last one when ``last``."""
    first = _first(query)
    out = [first.to_wire(multi=True)]
    ctx = first.tsig_ctx
    for i in range(1, count):
        if last and i == count - 1:
            m = _last(query)
        else:
            m = dns.message.make_response(query)
            m.answer.append(_rr(f"m{i}.{ZONE}.", "A", "192.0.2.3"))
        out.append(m.to_wire(multi=True, tsig_ctx=ctx))
        ctx = m.tsig_ctx
    return out


def _where(e: DNSError, client: Client) -> None:
    """The error names the zone and the client's server (its label)."""
    assert (e.zone, e.server) == (ZONE, client.label)


# --- what an in-test server can get wrong ---------------------------------------


async def test_a_two_message_transfer_counts_messages_and_bytes() -> None:
    """A signed two-message AXFR: both messages and all their bytes are counted."""
    sent: list[int] = []

    def reply(q: dns.message.Message) -> list[bytes]:
        pair = _signed_pair(q)
        sent.extend(len(p) for p in pair)
        return list(pair)

    client, run = await _transfer(reply)
    result = await run
    assert (result.kind, result.serial, result.messages) == ("axfr", 7, 2)
    assert result.nbytes == sum(sent)
    assert [r.name for r in result.full] == [f"a.{ZONE}", f"b.{ZONE}"]
    assert [h.transfers for h in client.health()] == [1]


async def test_an_unsigned_transfer_needs_no_signature() -> None:
    """Without a key nothing is verified: an unsigned answer is taken."""

    def reply(q: dns.message.Message) -> list[bytes]:
        return [_first(q).to_wire(), _last(q).to_wire()]

    _, run = await _transfer(reply, key=None)
    result = await run
    assert result.messages == 2


@pytest.mark.parametrize(("what", "serial"), [("AXFR", None), ("IXFR", 3)])
async def test_a_tampered_later_message_fails_naming_its_number(
    what: str, serial: int | None
) -> None:
    """A record changed in the second, signed message: TSIGFailure "message 2", no snapshot."""

    def reply(q: dns.message.Message) -> list[bytes]:
        one, two = _signed_pair(q)
        forged = two.replace(bytes([192, 0, 2, 66]), bytes([192, 0, 2, 67]))
        assert forged != two
        return [one, forged]

    client, run = await _transfer(reply, serial=serial)
    with pytest.raises(TSIGFailure) as e:
        await run
    _where(e.value, client)
    assert e.value.detail == (
        f"{what}: message 2: NOERROR: the answer's TSIG did not verify (BadSignature)"
    )
    assert e.value.tsig_error == "BADSIG"


async def test_an_unsigned_first_message_fails() -> None:
    """A NOERROR first message without TSIG is a verification failure of message 1."""

    def reply(q: dns.message.Message) -> list[bytes]:
        first = _first(q)
        first.tsig = None
        return [first.to_wire()]

    client, run = await _transfer(reply)
    with pytest.raises(TSIGFailure) as e:
        await run
    _where(e.value, client)
    assert e.value.detail == (
        "AXFR: message 1: NOERROR: the answer's TSIG did not verify (BadSignature)"
    )


async def test_an_unsigned_refusal_is_named_unsigned() -> None:
    """REFUSED without TSIG as the first answer (PowerDNS's bad secret): the UNSIGNED cause."""

    def reply(q: dns.message.Message) -> list[bytes]:
        m = dns.message.make_response(q)
        m.tsig = None
        m.set_rcode(dns.rcode.REFUSED)
        return [m.to_wire()]

    client, run = await _transfer(reply)
    with pytest.raises(TSIGFailure) as e:
        await run
    _where(e.value, client)
    assert e.value.tsig_error == "UNSIGNED"
    assert e.value.detail.startswith("AXFR: REFUSED without a TSIG signature: ")


async def test_a_signed_refusal_later_in_the_stream_is_the_servers_rcode() -> None:
    """A signed second message with REFUSED: ServerRefused naming the rcode and the hint."""

    def reply(q: dns.message.Message) -> list[bytes]:
        first = _first(q)
        one = first.to_wire(multi=True)
        m = dns.message.make_response(q)
        m.set_rcode(dns.rcode.REFUSED)
        return [one, m.to_wire(multi=True, tsig_ctx=first.tsig_ctx)]

    client, run = await _transfer(reply)
    with pytest.raises(ServerRefused) as e:
        await run
    _where(e.value, client)
    assert e.value.rcode == "REFUSED"
    assert e.value.detail == "AXFR: REFUSED (transfers are not allowed for this key)"


async def test_a_signed_formerr_is_the_servers_rcode_too() -> None:
    """A signed FORMERR answer (rcode 1) is ServerRefused FORMERR, not an empty message."""

    def reply(q: dns.message.Message) -> list[bytes]:
        m = dns.message.make_response(q)
        m.set_rcode(dns.rcode.FORMERR)
        return [m.to_wire(multi=True)]

    client, run = await _transfer(reply)
    with pytest.raises(ServerRefused) as e:
        await run
    _where(e.value, client)
    assert e.value.rcode == "FORMERR"


async def test_an_answer_with_another_id_fails_the_transfer() -> None:
    """A message whose id is not the query's: TransferFailed saying so."""

    def reply(q: dns.message.Message) -> list[bytes]:
        one, _ = _signed_pair(q)
        return [one[:0] + ((q.id + 1) % 65536).to_bytes(2, "big") + one[2:]]

    client, run = await _transfer(reply)
    with pytest.raises(TransferFailed) as e:
        await run
    _where(e.value, client)
    assert e.value.detail == "AXFR: answer id does not match the query"


async def test_a_malformed_message_fails_the_transfer() -> None:
    """A message cut short: TransferFailed "malformed answer"."""

    def reply(q: dns.message.Message) -> list[bytes]:
        one, _ = _signed_pair(q)
        return [one[:20]]

    client, run = await _transfer(reply)
    with pytest.raises(TransferFailed) as e:
        await run
    _where(e.value, client)
    assert e.value.detail.startswith("AXFR: malformed answer: ")


async def test_records_after_the_closing_soa_fail_the_transfer() -> None:
    """A record after the closing SOA (in a signed message): TransferFailed, nothing taken."""

    def reply(q: dns.message.Message) -> list[bytes]:
        first = _first(q)
        one = first.to_wire(multi=True)
        extra = _rr(f"evil.{ZONE}.", "A", "192.0.2.99")
        return [one, _last(q, extra).to_wire(multi=True, tsig_ctx=first.tsig_ctx)]

    client, run = await _transfer(reply)
    with pytest.raises(TransferFailed) as e:
        await run
    _where(e.value, client)
    assert e.value.detail == f"AXFR: records after the end of the transfer of {ZONE}"


async def test_a_stall_after_the_first_message_fails_and_marks_the_host() -> None:
    """No further message within the gap: TransferFailed "incomplete", the host's failure noted."""

    def reply(q: dns.message.Message) -> list[bytes]:
        return [_signed_pair(q)[0]]

    client, run = await _transfer(reply, stall=True)
    with pytest.raises(TransferFailed) as e:
        await run
    _where(e.value, client)
    assert e.value.detail.startswith("AXFR incomplete: ")
    (health,) = client.health()
    assert health.failures == 1 and health.last_error and health.transfers == 0


async def test_an_unsigned_last_message_fails_naming_zone_and_server() -> None:
    """Signed messages, then an unsigned closing one: TransferFailed naming zone and server."""

    def reply(q: dns.message.Message) -> list[bytes]:
        one = _chain(q, 2, last=False)
        last = _last(q)
        last.tsig = None
        return [*one, last.to_wire()]

    client, run = await _transfer(reply)
    with pytest.raises(TransferFailed) as e:
        await run
    _where(e.value, client)
    assert e.value.detail == "AXFR: the last message is not signed"


async def test_a_closed_port_names_the_zone() -> None:
    """Nothing listening: ConnectionFailed naming the zone and the server."""
    nothing = await _server(lambda q: [])
    closed = _port(nothing)
    nothing.close()
    await nothing.wait_closed()
    client = _client(closed)
    with pytest.raises(ConnectionFailed) as e:
        await client.transfer(ZONE)
    _where(e.value, client)


async def test_each_transfer_is_counted_on_its_host() -> None:
    """Two transfers from one host: its transfer count is 2."""
    server = await _server(lambda q: list(_signed_pair(q)))
    client = _client(_port(server))
    async with server:
        await client.transfer(ZONE)
        await client.transfer(ZONE)
    assert [h.transfers for h in client.health()] == [2]


@pytest.mark.parametrize(("what", "serial"), [("AXFR", None), ("IXFR", 3)])
async def test_a_transfer_that_never_ends_is_cut_at_its_bound(
    what: str, serial: int | None
) -> None:
    """Signed messages within the gap but no closing SOA: TransferFailed at the whole bound."""
    server = await _server(lambda q: _chain(q, 40, last=False), gap=0.1)
    client = _client(_port(server), transfer=1.0)
    async with server:
        with pytest.raises(TransferFailed) as e:
            await client.transfer(ZONE, serial=serial)
    _where(e.value, client)
    assert e.value.detail == f"{what} incomplete: {what}: no answer within 1 s"


async def test_a_slow_transfer_has_the_whole_bound_on_the_first_host() -> None:
    """With two hosts the first one's slow but live transfer is not cut at half the bound."""
    slow = await _server(lambda q: _chain(q, 7, last=True), gap=0.15)
    nothing = await _server(lambda q: [])
    closed = _port(nothing)
    nothing.close()
    await nothing.wait_closed()
    client = _client(_port(slow), closed, transfer=1.6)
    async with slow:
        result = await client.transfer(ZONE)
    assert result.messages == 7 and result.kind == "axfr"


async def test_a_transfer_starts_at_the_host_asked_for() -> None:
    """``start`` picks the host a transfer tries first (the one that answered the SOA)."""
    answers: list[str] = []

    def reply_from(name: str) -> Reply:
        def reply(q: dns.message.Message) -> list[bytes]:
            answers.append(name)
            return list(_signed_pair(q))

        return reply

    one, two = await _server(reply_from("one")), await _server(reply_from("two"))
    client = _client(_port(one), _port(two))
    async with one, two:
        second = list(client.hosts)[1]
        await client.transfer(ZONE, start=second)
    assert answers == ["two"]


# --- real BIND ---------------------------------------------------------------------


def _bind(server: BindServer, key: TsigKey | None = None) -> Client:
    key = key or server.key
    tsig_key = dns.tsig.Key(key.name, key.secret, key.algorithm)
    return Client(server.host, server.port, key=tsig_key, timeouts=Timeouts(attempts=1))


async def test_bind_large_axfr_is_many_signed_messages(bind_server: BindServer) -> None:
    """A zone of 3,000 names comes in several signed messages from BIND, every record kept."""
    zone = "bigxfr.test"
    records = "\n".join(f"h{i} 300 IN A 192.0.2.{i % 250 + 1}" for i in range(3000))
    bind_server.add_zone(zone, records)
    result = await _bind(bind_server).transfer(zone)
    assert result.kind == "axfr" and result.messages > 1
    assert len([r for r in result.full if r.name.startswith("h")]) == 3000
    assert result.nbytes > 3000 * 16


async def test_bind_ixfr_deltas_and_a_lone_soa(bind_server: BindServer) -> None:
    """BIND's IXFR after one UPDATE is one delta; from the current serial, "uptodate"."""
    zone = "ixfrv.test"
    bind_server.add_zone(zone, "old 300 IN A 192.0.2.1")
    client = _bind(bind_server)
    before = await client.transfer(zone)
    up = dns.update.UpdateMessage(zone + ".")
    up.delete("old." + zone + ".", "A")
    up.add("new." + zone + ".", 300, "A", "192.0.2.2")
    await client.update(up, zone)
    delta = await client.transfer(zone, serial=before.serial)
    assert delta.kind == "ixfr" and delta.serial != before.serial
    assert len(delta.deltas) == 1
    deleted, added = delta.deltas[0]
    assert f"old.{zone}" in {r.name for r in deleted}
    assert f"new.{zone}" in {r.name for r in added}
    same = await client.transfer(zone, serial=delta.serial)
    assert (same.kind, same.serial, same.full, same.deltas) == ("uptodate", delta.serial, [], [])


async def test_bind_wrong_secret_and_unknown_key(bind_server: BindServer) -> None:
    """BIND's NOTAUTH answers: a wrong secret is BADSIG, an unknown key name BADKEY."""
    wrong = TsigKey(bind_server.key.name, "hmac-sha256", TsigKey.generate("x").secret)
    client = _bind(bind_server, wrong)
    with pytest.raises(TSIGFailure) as e:
        await client.transfer(bind_server.zones[0])
    assert e.value.detail.startswith("AXFR: NOTAUTH/BADSIG: ")
    assert (e.value.zone, e.value.server) == (bind_server.zones[0], client.label)
    unknown = TsigKey.generate("nobody-knows-me")
    with pytest.raises(TSIGFailure) as e:
        await _bind(bind_server, unknown).transfer(bind_server.zones[0])
    assert e.value.detail.startswith("AXFR: NOTAUTH/BADKEY: ")


async def test_bind_refuses_a_zone_it_does_not_serve(bind_server: BindServer) -> None:
    """An AXFR of a zone BIND does not serve: a signed NOTAUTH, with the transfer hint."""
    with pytest.raises(ServerRefused) as e:
        await _bind(bind_server).transfer("not-served.test")
    assert e.value.rcode == "NOTAUTH"
    assert e.value.detail.startswith("AXFR: NOTAUTH")
