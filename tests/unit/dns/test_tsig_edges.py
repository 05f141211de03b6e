"""TSIG at its edges: the cases `make mutation` found unguarded (issue #10, item 11).

Times past 2**32 seconds, a TSIG record with other data, the fudge boundary,
more than 255 additional records, message counts and the exact refusal texts:
each test kills mutants of :mod:`dnssync.dns.tsig` that the rest of the
suite let live.

The 14 left alive (of 289) are equivalent, so no test can kill them:

* ``to_bytes(2, )`` / ``from_bytes(b, )``: big-endian is the default since
  Python 3.11, which the project requires (7 mutants);
* ``"!hh"`` / ``"!hhih"`` for ``"!HH"`` / ``"!HHIH"``: the same bytes below
  32,768, and every type, class, error code and length written is below it
  (``struct`` raises rather than writing other bytes above);
* ``unpack_from(rdata, )``: offset 0 is the default;
* ``rdata[16 + size : 17 + size + other_len]``: the length check that follows
  makes other data end the rdata, so the longer slice is the same bytes;
* ``... and ...`` for the first ``or`` of the length check: the total-length
  comparison alone catches every inconsistency the two others can;
* ``isinstance(key.secret, bytes) or True``: dnspython keeps secrets as bytes;
* ``_pending = ""`` at start: the first message must be signed, and signing
  resets it before any unsigned message could read it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rrset
import dns.tsig
import pytest

from dnssync.dns import tsig, wire

KEY = dns.tsig.Key("edge.key.", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", dns.tsig.HMAC_SHA256)
ORIGIN = dns.name.from_text("example.test.")
LATE = 2**32 + 12_345  # past 2106: the 48-bit time's high part is no longer zero


def _query(extra: int = 0) -> bytes:
    q = dns.message.make_query(ORIGIN, dns.rdatatype.AXFR)
    q.id = 4242
    for i in range(extra):
        q.additional.append(dns.rrset.from_text(f"x{i}.example.test.", 0, "IN", "A", "192.0.2.1"))
    return q.to_wire()


def _answer(request: bytes, mac: bytes, now: int, *, other: bytes = b"", extra: int = 0) -> bytes:
    """A one-message answer to ``request`` signed by dnspython at ``now`` (with ``other``)."""
    r = dns.message.make_response(dns.message.from_wire(request, keyring=False))
    r.tsig = None  # signed below, at the given time
    for i in range(extra):
        r.additional.append(dns.rrset.from_text(f"y{i}.example.test.", 0, "IN", "A", "192.0.2.2"))
    unsigned = r.to_wire()
    rd = dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, KEY.algorithm, 0, 300, b"", r.id, 0, other
    )
    signed_rd, _ = dns.tsig.sign(unsigned, KEY, rd, now, mac)
    rdata: bytes = signed_rd.to_digestable()
    arcount = int.from_bytes(unsigned[10:12], "big") + 1
    return (
        unsigned[:10]
        + arcount.to_bytes(2, "big")
        + unsigned[12:]
        + KEY.name.to_digestable()
        + (250).to_bytes(2, "big")
        + (255).to_bytes(2, "big")
        + bytes(4)
        + len(rdata).to_bytes(2, "big")
        + rdata
    )


def _verify(answer: bytes, mac: bytes, now: int) -> tsig.Verifier:
    v = tsig.Verifier(tsig.Signer(KEY), mac)
    v.verify(answer, wire.parse(answer).tsig, now)
    return v


def test_times_past_2106_sign_and_verify_as_dnspython_does() -> None:
    """The 48-bit time keeps its high 16 bits, signing and reading back."""
    signed, mac = tsig.Signer(KEY).sign(_query(), LATE)
    parsed = dns.message.from_wire(signed, keyring=False)
    assert parsed.tsig is not None and parsed.tsig[0].time_signed == LATE
    answer = _answer(signed, mac, LATE)
    record = wire.parse(answer).tsig
    assert record is not None and record.time_signed == LATE
    assert _verify(answer, mac, LATE).last_signed is True


def test_first_answer_with_other_data_verifies() -> None:
    """Other data (a BADTIME answer carries the server's time) is read and digested."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    now = int(time.time())
    answer = _answer(request, mac, now, other=b"\x00\x00\x12\x34\x56\x78")
    record = wire.parse(answer).tsig
    assert record is not None and record.other == b"\x00\x00\x12\x34\x56\x78"
    assert _verify(answer, mac, now).last_signed is True


def test_more_than_255_additional_records_sign_and_verify() -> None:
    """ARCOUNT is 16 bits: the request and answer counts above 255 stay right."""
    request, mac = tsig.Signer(KEY).sign(_query(extra=300), int(time.time()))
    assert dns.message.from_wire(request, keyring={KEY.name: KEY}).had_tsig
    now = int(time.time())
    assert _verify(_answer(request, mac, now, extra=300), mac, now).last_signed is True


def test_a_time_exactly_at_the_fudge_is_accepted() -> None:
    """RFC 8945 5.2.3: within the fudge means |now - time signed| <= fudge."""
    request, mac = tsig.Signer(KEY).sign(_query(), 1_790_000_000)
    answer = _answer(request, mac, 1_790_000_000)
    assert _verify(answer, mac, 1_790_000_300).last_signed is True
    with pytest.raises(dns.tsig.BadTime):
        _verify(answer, mac, 1_790_000_301)


def test_messages_are_counted_and_unsigned_ones_reset_the_flag() -> None:
    """The verifier counts every message (errors name it) and knows if the last was signed."""
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    now = int(time.time())
    v = tsig.Verifier(tsig.Signer(KEY), mac)
    assert (v.messages, v.last_signed) == (0, False)
    answer = _answer(request, mac, now)
    v.verify(answer, wire.parse(answer).tsig, now)
    unsigned = dns.message.make_response(dns.message.from_wire(_query())).to_wire()
    v.verify(unsigned, None, now)
    assert (v.messages, v.last_signed) == (2, False)
    v.verify(unsigned, None, now)
    assert v.messages == 3


def test_refusals_say_what_is_wrong() -> None:
    """Each refusal carries its own text (they reach logs and Challenge status)."""
    with pytest.raises(NotImplementedError, match="TSIG algorithm hmac-sha256-128"):
        tsig.Signer(dns.tsig.Key("k.", "c2VjcmV0", dns.tsig.HMAC_SHA256_128))
    v = tsig.Verifier(tsig.Signer(KEY), b"")
    with pytest.raises(
        dns.tsig.BadSignature, match=r"^the first message of the answer is not signed$"
    ):
        v.verify(b"\x00" * 12, None, 0)
    request, mac = tsig.Signer(KEY).sign(_query(), int(time.time()))
    record = wire.parse(_answer(request, mac, int(time.time()))).tsig
    assert record is not None
    cases: list[tuple[tsig.TsigRecord, type[Exception], str]] = [
        (replace(record, error=99), dns.tsig.PeerError, r"^unknown TSIG error code 99$"),
        (
            replace(record, algorithm="hmac-sha512"),
            dns.tsig.BadAlgorithm,
            r"^answer signed with hmac-sha512$",
        ),
    ]
    for bad, error, text in cases:
        with pytest.raises(error, match=text):
            tsig.Verifier(tsig.Signer(KEY), mac).verify(b"\x00" * 12, bad, 0)


@pytest.mark.parametrize(
    ("rdata", "text"),
    [
        (b"\x00\x00\x00\x00", r"^TSIG record is truncated$"),
        (b"\x00" * 8 + b"\x00\x04" + b"mac!" + b"\x00\x01", r"^TSIG record is truncated$"),
        (
            b"\x00" * 8 + b"\x00\x02" + b"ma" + b"\x00\x01\x00\x00\x00\x03" + b"ab",
            r"^TSIG record lengths do not add up$",
        ),
        (
            b"\x00" * 8 + b"\x00\x02" + b"ma" + b"\x00\x01\x00\x00\x00\x01" + b"ab",
            r"^TSIG record lengths do not add up$",
        ),
    ],
)
def test_malformed_tsig_rdata_is_a_form_error_naming_the_fault(rdata: bytes, text: str) -> None:
    """Short fields or lengths that do not add up: FormError with a stable text."""
    with pytest.raises(dns.exception.FormError, match=text):
        tsig.TsigRecord.from_rdata("k", "hmac-sha256", rdata, 0)


def test_tsig_rdata_with_other_data_is_read_whole() -> None:
    """Other data of its stated length ends the rdata exactly."""
    rdata = b"\x00\x01\x00\x00\x00\x02\x01\x2c\x00\x02ma\x00\x07\x00\x00\x00\x03abc"
    record = tsig.TsigRecord.from_rdata("k", "hmac-sha256", rdata, 5)
    assert (record.time_signed, record.fudge, record.mac) == (2**32 + 2, 300, b"ma")
    assert (record.original_id, record.error, record.other, record.start) == (7, 0, b"abc", 5)
