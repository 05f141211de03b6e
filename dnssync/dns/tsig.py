"""TSIG (RFC 8945) on raw wire: sign requests, verify answers and transfers (pure).

dnspython signs and verifies through rdata objects: about 45 us to sign an
UPDATE and 60 us to check its answer, more than BIND takes to apply a
one-record change.  Here both are a few HMAC updates over bytes the caller
already has.  Failures raise dnspython's TSIG exception classes, so callers
translate them in one place (:mod:`dnssync.dns.answers`).

Only the untruncated HMAC algorithms are known (those ``names.tsig_algorithm``
accepts), plus GSS-TSIG (RFC 3645): the same digest input, signed and checked
by a negotiated GSS-API context (:class:`Mic`, from :mod:`.gss`) instead of an
HMAC; the clock comes in as ``now``.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass
from typing import Protocol

import dns.exception
import dns.name
import dns.rcode
import dns.tsig

TSIG = 250
ANY = 255
_DIGESTS: dict[dns.name.Name, str] = {
    dns.tsig.HMAC_MD5: "md5",
    dns.tsig.HMAC_SHA1: "sha1",
    dns.tsig.HMAC_SHA224: "sha224",
    dns.tsig.HMAC_SHA256: "sha256",
    dns.tsig.HMAC_SHA384: "sha384",
    dns.tsig.HMAC_SHA512: "sha512",
}
_PEER_ERRORS: dict[int, type[dns.tsig.PeerError]] = {
    dns.rcode.BADSIG: dns.tsig.PeerBadSignature,
    dns.rcode.BADKEY: dns.tsig.PeerBadKey,
    dns.rcode.BADTIME: dns.tsig.PeerBadTime,
    dns.rcode.BADTRUNC: dns.tsig.PeerBadTruncation,
}
GSS_TSIG = dns.name.from_text("gss-tsig")
_HEAD = struct.Struct("!HIHH")  # time signed (48 bits as 16 + 32), fudge, MAC size
_TAIL = struct.Struct("!HHH")  # original id, error, other length


@dataclass(frozen=True, slots=True)
class TsigRecord:
    """A TSIG record read off the wire (RFC 8945 section 4.2)."""

    owner: str  # the key name, lower case, no final dot
    algorithm: str  # likewise
    time_signed: int
    fudge: int
    mac: bytes
    original_id: int
    error: int
    other: bytes
    start: int  # offset of the record in its message

    @classmethod
    def from_rdata(cls, owner: str, algorithm: str, rdata: bytes, start: int) -> TsigRecord:
        """The record from its rdata, the algorithm name already read by the caller.

        ``rdata`` starts just past the algorithm name.
        """
        try:
            high, low, fudge, size = _HEAD.unpack_from(rdata, 0)
            mac = rdata[10 : 10 + size]
            original_id, error, other_len = _TAIL.unpack_from(rdata, 10 + size)
        except struct.error:
            raise dns.exception.FormError("TSIG record is truncated") from None
        other = rdata[16 + size : 16 + size + other_len]
        if len(mac) != size or len(other) != other_len or 16 + size + other_len != len(rdata):
            raise dns.exception.FormError("TSIG record lengths do not add up")
        time_signed = high << 32 | low
        return cls(owner, algorithm, time_signed, fudge, mac, original_id, error, other, start)


class Mic(Protocol):
    """A negotiated GSS-API context's message integrity codes (RFC 2743 GetMIC/VerifyMIC)."""

    def sign(self, data: bytes) -> bytes: ...

    def verify(self, data: bytes, mic: bytes) -> bool: ...


class Digest(Protocol):
    """What a running digest offers: :class:`hmac.HMAC`, or the bytes a MIC will cover."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _MicInput:
    """The digest input of one GSS-TSIG message, signed or checked at the end."""

    __slots__ = ("_data", "_mic")

    def __init__(self, mic: Mic) -> None:
        self._mic = mic
        self._data = bytearray()

    def update(self, data: bytes, /) -> None:
        self._data += data

    def digest(self) -> bytes:
        return self._mic.sign(bytes(self._data))

    def matches(self, mac: bytes) -> bool:
        return self._mic.verify(bytes(self._data), mac)


def _timers(time_signed: int, fudge: int) -> bytes:
    return struct.pack("!HIH", time_signed >> 32 & 0xFFFF, time_signed & 0xFFFFFFFF, fudge)


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


class Signer:
    """One key (or one GSS-TSIG context), ready to sign requests and to start verifying
    their answers."""

    __slots__ = (
        "_alg_rdata",
        "_alg_wire",
        "_digest",
        "_mic",
        "_name_wire",
        "_secret",
        "algorithm",
        "fudge",
        "name",
    )

    def __init__(self, key: dns.tsig.Key, *, fudge: int = 300, mic: Mic | None = None) -> None:
        """An HMAC key; or, with ``mic``, the GSS-TSIG context named ``key.name``
        (``key.algorithm`` gss-tsig, no secret)."""
        self._mic = mic
        if mic is None:
            try:
                self._digest = _DIGESTS[key.algorithm]
            except KeyError:
                raise NotImplementedError(
                    f"TSIG algorithm {key.algorithm} is not supported"
                ) from None
            self._secret = key.secret if isinstance(key.secret, bytes) else key.secret.encode()
        else:
            self._digest, self._secret = "", b""
        self.name = _text(key.name)
        self.algorithm = _text(key.algorithm)
        self.fudge = fudge
        self._name_wire = key.name.to_digestable()
        self._alg_wire = key.algorithm.to_digestable()
        alg_rdata = key.algorithm.to_wire()  # as spelled: what dnspython sends
        assert alg_rdata is not None  # to_wire() without a file returns the bytes
        self._alg_rdata = alg_rdata

    @classmethod
    def gss(cls, name: dns.name.Name, mic: Mic, *, fudge: int = 300) -> Signer:
        """The signer of a negotiated GSS-TSIG context (RFC 3645) named ``name``."""
        return cls(dns.tsig.Key(name, b"", GSS_TSIG), fudge=fudge, mic=mic)

    def new_digest(self, prior_mac: bytes = b"") -> Digest:
        """A running digest, started with a MAC this one chains to (if any)."""
        h: Digest = (
            hmac.new(self._secret, digestmod=self._digest)
            if self._mic is None
            else _MicInput(self._mic)
        )
        if prior_mac:
            h.update(len(prior_mac).to_bytes(2, "big") + prior_mac)
        return h

    def matches(self, h: Digest, mac: bytes) -> bool:
        """Whether ``mac`` is the right one for what ``h`` has digested."""
        if isinstance(h, _MicInput):
            return h.matches(mac)
        return hmac.compare_digest(h.digest(), mac)

    def variables(self, time_signed: int, fudge: int, error: int = 0, other: bytes = b"") -> bytes:
        """The TSIG variables a first (or only) message's digest ends with."""
        return (
            self._name_wire
            + b"\x00\xff\x00\x00\x00\x00"  # class ANY, TTL 0
            + self._alg_wire
            + _timers(time_signed, fudge)
            + struct.pack("!HH", error, len(other))
            + other
        )

    def sign(self, wire: bytes, now: int) -> tuple[bytes, bytes]:
        """``wire`` (an unsigned request) with a TSIG record appended, and its MAC."""
        h = self.new_digest()
        h.update(wire)
        h.update(self.variables(now, self.fudge))
        mac = h.digest()
        rdata = (
            self._alg_rdata
            + _timers(now, self.fudge)
            + len(mac).to_bytes(2, "big")
            + mac
            + wire[:2]  # original id
            + b"\x00\x00\x00\x00"  # error, other length
        )
        arcount = int.from_bytes(wire[10:12], "big") + 1
        signed = (
            wire[:10]
            + arcount.to_bytes(2, "big")
            + wire[12:]
            + self._name_wire
            + struct.pack("!HHIH", TSIG, ANY, 0, len(rdata))
            + rdata
        )
        return signed, mac


class Verifier:
    """Checks the TSIG of each message of one answer, in order.

    RFC 8945 section 5.3.1: the first message's digest covers the request's
    MAC, the message and the TSIG variables; each later signed one covers
    the previous MAC, the unsigned messages since (up to 99 may be) and its
    own timers.  The caller checks that the last message was signed.
    """

    __slots__ = ("_pending", "_prior", "last_signed", "messages", "signer")

    def __init__(self, signer: Signer, request_mac: bytes) -> None:
        self.signer = signer
        self._prior = request_mac
        self._pending: Digest | None = None  # digest of unsigned messages so far
        self.last_signed = False
        self.messages = 0

    def verify(self, wire: bytes, tsig: TsigRecord | None, now: int) -> None:
        first = self.messages == 0
        self.messages += 1
        if tsig is None:
            if first:
                raise dns.tsig.BadSignature("the first message of the answer is not signed")
            if self._pending is None:
                self._pending = self.signer.new_digest(self._prior)
            self._pending.update(wire)
            self.last_signed = False
            return
        if tsig.error:
            peer = _PEER_ERRORS.get(tsig.error)
            if peer is None:
                raise dns.tsig.PeerError(f"unknown TSIG error code {tsig.error}")
            raise peer
        if tsig.owner != self.signer.name:
            raise dns.tsig.PeerBadKey(f"answer signed with key {tsig.owner}")
        if tsig.algorithm != self.signer.algorithm:
            raise dns.tsig.BadAlgorithm(f"answer signed with {tsig.algorithm}")
        h = self._pending or self.signer.new_digest(self._prior)
        arcount = int.from_bytes(wire[10:12], "big") - 1
        h.update(
            tsig.original_id.to_bytes(2, "big")
            + wire[2:10]
            + arcount.to_bytes(2, "big")
            + wire[12 : tsig.start]
        )
        if first:
            h.update(self.signer.variables(tsig.time_signed, tsig.fudge, tsig.error, tsig.other))
        else:
            h.update(_timers(tsig.time_signed, tsig.fudge))
        if not self.signer.matches(h, tsig.mac):
            raise dns.tsig.BadSignature
        if abs(tsig.time_signed - now) > tsig.fudge:
            raise dns.tsig.BadTime
        self._prior = tsig.mac
        self._pending = None
        self.last_signed = True
