"""dnssync's TSIG agrees with dnspython's, byte for byte, and refuses what it must."""

from __future__ import annotations

import time

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rrset
import dns.tsig
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnssync.dns import tsig, wire

ORIGIN = dns.name.from_text("example.test.")
SECRET = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
ALGORITHMS = [
    dns.tsig.HMAC_MD5,
    dns.tsig.HMAC_SHA1,
    dns.tsig.HMAC_SHA224,
    dns.tsig.HMAC_SHA256,
    dns.tsig.HMAC_SHA384,
    dns.tsig.HMAC_SHA512,
]
KEY = dns.tsig.Key("Transfer.Key.", SECRET, dns.tsig.HMAC_SHA256)
NOW = 1_790_000_000


def _query(msg_id: int = 4711) -> bytes:
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    q.id = msg_id
    return q.to_wire()


def _dnspython_sign(data: bytes, key: dns.tsig.Key, now: int) -> tuple[bytes, bytes]:
    """The request signed by dnspython, with the same fixed time."""
    msg = dns.message.from_wire(data)
    msg.use_tsig(key, fudge=300)
    rd = dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, key.algorithm, 0, 300, b"", msg.id, 0, b""
    )
    signed_rd, _ = dns.tsig.sign(data, key, rd, now, b"")
    msg.tsig = dns.rrset.from_rdata(key.name, 0, signed_rd)
    # to_wire() would sign again with the current time; rebuild the record by hand.
    owner = key.name.to_digestable()
    rdata = signed_rd.to_digestable()
    arcount = int.from_bytes(data[10:12], "big") + 1
    out = (
        data[:10]
        + arcount.to_bytes(2, "big")
        + data[12:]
        + owner
        + (250).to_bytes(2, "big")
        + (255).to_bytes(2, "big")
        + bytes(4)
        + len(rdata).to_bytes(2, "big")
        + rdata
    )
    return out, signed_rd.mac


@settings(max_examples=100, deadline=None)
@given(
    algorithm=st.sampled_from(ALGORITHMS),
    secret=st.binary(min_size=1, max_size=64),
    msg_id=st.integers(0, 65535),
    now=st.integers(0, 2**48 - 1),
)
def test_signing_matches_dnspython(
    algorithm: dns.name.Name, secret: bytes, msg_id: int, now: int
) -> None:
    """For every algorithm, key, id and time the signed request is dnspython's, byte for byte."""
    key = dns.tsig.Key("k.", secret, algorithm)
    data = _query(msg_id)
    assert tsig.Signer(key).sign(data, now) == _dnspython_sign(data, key, now)


def test_signed_request_verifies_in_dnspython() -> None:
    """A request we sign now is accepted by dnspython's own validation."""
    signed, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    parsed = dns.message.from_wire(signed, keyring={KEY.name: KEY})
    assert parsed.had_tsig
    assert parsed.mac == mac


def _answer_to(
    request: bytes, request_mac: bytes, *, key: dns.tsig.Key = KEY, **tsig_args: object
) -> tuple[dns.message.Message, list[bytes]]:
    """A three-message transfer answer to ``request``, each message signed by dnspython."""
    q = dns.message.from_wire(request, keyring={KEY.name: KEY})
    ctx = None
    out = []
    for i in range(3):
        r = dns.message.make_response(q)
        r.use_tsig(key, **tsig_args)  # type: ignore[arg-type]
        r.request_mac = request_mac
        r.answer.append(dns.rrset.from_text(ORIGIN, 300, "IN", "TXT", f'"part {i}"'))
        out.append(r.to_wire(multi=True, tsig_ctx=ctx))
        ctx = r.tsig_ctx
    return q, out


def _verify_all(messages: list[bytes], request_mac: bytes, now: int | None = None) -> tsig.Verifier:
    v = tsig.Verifier(tsig.Signer(KEY), request_mac)
    for data in messages:
        v.verify(data, wire.parse(data).tsig, int(time.time()) if now is None else now)
    return v


def test_transfer_signed_by_dnspython_verifies() -> None:
    """Every message of a multi-message answer verifies, in order."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    _, messages = _answer_to(request, mac)
    assert _verify_all(messages, mac).last_signed


def test_tampered_reordered_or_foreign_answers_fail() -> None:
    """One flipped byte, swapped messages, or another request's MAC: BadSignature."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    _, messages = _answer_to(request, mac)
    tampered = bytearray(messages[1])
    tampered[tampered.index(b"part 1") + 5] = ord("9")
    for bad in (
        [messages[0], bytes(tampered), messages[2]],
        [messages[0], messages[2], messages[1]],
    ):
        with pytest.raises(dns.tsig.BadSignature):
            _verify_all(bad, mac)
    with pytest.raises(dns.tsig.BadSignature):
        _verify_all(messages, b"\x00" * len(mac))


def test_unsigned_messages_between_signed_ones_enter_the_digest() -> None:
    """RFC 8945 5.3.1: an unsigned middle message is covered by the next signature."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    q = dns.message.from_wire(request, keyring={KEY.name: KEY})
    first = dns.message.make_response(q)
    first.use_tsig(KEY)
    first.request_mac = mac
    w1 = first.to_wire(multi=True)
    ctx = first.tsig_ctx
    assert ctx is not None
    # From the unsigned request: make_response copies a request's TSIG settings.
    middle = dns.message.make_response(dns.message.from_wire(_query()))
    middle.answer.append(dns.rrset.from_text(ORIGIN, 300, "IN", "TXT", '"unsigned"'))
    w2 = middle.to_wire()
    ctx.update(w2)
    last = dns.message.make_response(q)
    last.use_tsig(KEY)
    w3 = last.to_wire(multi=True, tsig_ctx=ctx)
    v = _verify_all([w1, w2], mac)
    assert not v.last_signed
    v.verify(w3, wire.parse(w3).tsig, int(time.time()))
    assert v.last_signed
    changed = w2.replace(b"unsigned", b"UNSIGNED")
    with pytest.raises(dns.tsig.BadSignature):
        _verify_all([w1, changed, w3], mac)


def test_first_message_must_be_signed() -> None:
    """An answer to a signed request that starts unsigned is refused."""
    _, mac = tsig.Signer(KEY).sign(_query(), NOW)
    with pytest.raises(dns.tsig.BadSignature, match="first message"):
        _verify_all([dns.message.make_response(dns.message.from_wire(_query())).to_wire()], mac)


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (dns.rcode.BADSIG, dns.tsig.PeerBadSignature),
        (dns.rcode.BADKEY, dns.tsig.PeerBadKey),
        (dns.rcode.BADTIME, dns.tsig.PeerBadTime),
        (dns.rcode.BADTRUNC, dns.tsig.PeerBadTruncation),
    ],
)
def test_server_tsig_errors_are_raised_as_the_peer_said(
    error: int, raised: type[Exception]
) -> None:
    """A TSIG error code in the answer's record becomes dnspython's Peer* exception."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    _, messages = _answer_to(request, mac, tsig_error=error)
    with pytest.raises(raised):
        _verify_all(messages[:1], mac)


def test_wrong_key_algorithm_or_clock_is_refused() -> None:
    """Another key name, another algorithm, or a time beyond the fudge fails."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    other = dns.tsig.Key("other.", SECRET, dns.tsig.HMAC_SHA256)
    _, messages = _answer_to(request, mac, key=other)
    with pytest.raises(dns.tsig.PeerBadKey, match="other"):
        _verify_all(messages, mac)
    sha512 = dns.tsig.Key(KEY.name, SECRET, dns.tsig.HMAC_SHA512)
    _, messages = _answer_to(request, mac, key=sha512)
    with pytest.raises(dns.tsig.BadAlgorithm):
        _verify_all(messages, mac)
    _, messages = _answer_to(request, mac)
    with pytest.raises(dns.tsig.BadTime):
        _verify_all(messages, mac, now=int(time.time()) + 301)


def test_inconsistent_tsig_record_is_a_form_error() -> None:
    """A TSIG record whose MAC size runs past its rdata is a WireError, not a crash."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    _, messages = _answer_to(request, mac)
    data = messages[0]
    record = wire.parse(data).tsig
    assert record is not None
    size_at = (
        record.start
        + len(KEY.name.to_digestable())
        + 10  # type, class, TTL, rdata length
        + len(KEY.algorithm.to_digestable())
        + 8  # time signed, fudge
    )
    assert int.from_bytes(data[size_at : size_at + 2], "big") == len(record.mac)
    broken = data[:size_at] + (len(record.mac) + 1).to_bytes(2, "big") + data[size_at + 2 :]
    with pytest.raises(wire.WireError):
        wire.parse(broken)


def test_unknown_algorithm_is_refused_at_construction() -> None:
    """Only the untruncated HMACs are known."""
    with pytest.raises(NotImplementedError):
        tsig.Signer(dns.tsig.Key("k.", SECRET, dns.tsig.HMAC_SHA256_128))


def test_signer_never_shows_its_secret() -> None:
    """Neither repr nor str of a signer or verifier carries the key's secret."""
    signer = tsig.Signer(KEY)
    verifier = tsig.Verifier(signer, b"")
    secret = KEY.secret if isinstance(KEY.secret, bytes) else KEY.secret.encode()
    for shown in (repr(signer), str(signer), repr(verifier), str(verifier)):
        assert SECRET not in shown
        assert repr(secret) not in shown
