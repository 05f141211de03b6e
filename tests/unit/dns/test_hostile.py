"""Hostile bytes: every decoder of outside bytes raises only the errors its caller translates.

The DNS decoders (wire parser, transfer assembler, TSIG record and verifier) may raise
`wire.WireError` or a dnspython `DNSException` (the client turns both into dnssync
errors); the webhook's body decoder raises only `InvalidInput`.  Anything else (an
IndexError, struct.error, RecursionError) would end the process that read the bytes.
"""

from __future__ import annotations

import contextlib

import dns.exception
import dns.message
import dns.rrset
import dns.tsig
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dnssync.acme import payload
from dnssync.dns import tsig
from dnssync.errors import InvalidInput
from tests.hostile import SEEDS, decode_all


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid answer with a few bytes flipped, cut, inserted or its counts changed."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "count"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif len(data) >= 12:
            i = draw(st.sampled_from([4, 6, 8, 10]))
            data[i : i + 2] = draw(st.integers(0, 65535)).to_bytes(2, "big")
    return bytes(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
@example(SEEDS[1][:15])  # the 15-byte SOA answer that once ended `dnssync run`
def test_mutated_answers_raise_only_translated_errors(data: bytes) -> None:
    """Mutated real answers never raise IndexError/struct.error from any DNS decoder."""
    decode_all(data)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_translated_errors(data: bytes) -> None:
    """Random bytes never raise a foreign exception from any DNS decoder."""
    decode_all(data)
    decode_all(SEEDS[1][:12] + data)  # a plausible header, hostile body


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_tsig_rdata_raises_only_form_error(rdata: bytes) -> None:
    """A hostile TSIG rdata is a FormError, never struct.error."""
    with contextlib.suppress(dns.exception.FormError):
        tsig.TsigRecord.from_rdata("k", "hmac-sha256", rdata, 0)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_webhook_body_raises_only_invalid_input(body: bytes) -> None:
    """Any request body decodes to an object or raises InvalidInput."""
    with contextlib.suppress(InvalidInput):
        payload.decode(body)


def test_deeply_nested_body_is_invalid_input() -> None:
    """A 100,000-deep JSON body is a one-line InvalidInput, not a RecursionError."""
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        with pytest.raises(InvalidInput) as info:
            payload.decode(body)
        assert "nested too deeply" in str(info.value) and "\n" not in str(info.value)
