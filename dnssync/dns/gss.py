"""GSS-TSIG (RFC 3645): Kerberos credentials and TKEY negotiation, the one edge to GSS-API.

Instead of a shared secret, the client proves a Kerberos principal: it gets a
service ticket for the server's principal (``DNS/<host>`` by default), sends
the GSS-API token in a TKEY query (RFC 2930 mode 3), and steps the context
with the server's answer token until it is complete.  The server signs its
last answer with the new context; from then on that context signs our
requests and checks the server's answers through :class:`.tsig.Signer`
(digests as for HMAC, MICs instead of an HMAC).  The server knows us by the
principal; its update policy (BIND: ``grant <principal> zonesub ANY``, or
``krb5-self`` / ``krb5-subdomain``; Active Directory: the zone's ACL) decides.

Library: python-gssapi (PyPI ``gssapi``), the maintained binding of the
system's GSS-API (MIT Kerberos here, Heimdal elsewhere), the one dnspython's
own GSS-TSIG support is written against.  With a keytab, the library gets
and renews the tickets itself (MIT's client keytab through the credential
store), into a memory ccache private to the process unless one is named.

Calls that may reach the KDC run in a thread; MICs are local and run inline.
GSS-API failures leave this module as :class:`~dnssync.errors.GSSFailure`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TKEY
import gssapi
from gssapi.raw.misc import GSSError

from dnssync.dns import answers, tsig, wire
from dnssync.errors import GSSFailure, TSIGFailure

__all__ = ["GSS", "Context", "negotiate"]

_GSSAPI_MODE = 3  # RFC 2930 TKEY mode: GSS-API negotiation
_ROUNDS = 4  # Kerberos needs one round trip; SPNEGO may need two
_FLAGS = (
    gssapi.RequirementFlag.mutual_authentication
    | gssapi.RequirementFlag.integrity
    | gssapi.RequirementFlag.replay_detection
    | gssapi.RequirementFlag.out_of_sequence_detection
)
_ccaches = itertools.count(1)


@dataclass(frozen=True, slots=True)
class GSS:
    """How this client proves its Kerberos principal (from ``server.gss``)."""

    principal: str  # e.g. dnssync@EXAMPLE.COM
    keytab: str | None = None  # tickets come from it (and are renewed from it)
    ccache: str | None = None  # None: a memory ccache of our own with a keytab, else the default
    service: str = "DNS/{host}"  # the server's principal; {host}: the host as configured
    lifetime: int = 3600  # seconds of TKEY context asked for


@dataclass(frozen=True, slots=True)
class Context:
    """A negotiated context: its signer, and until when (monotonic) it may be used."""

    signer: tsig.Signer
    until: float
    lifetime: float  # seconds it was good for when made


class _ContextMic:
    """:class:`.tsig.Mic` over a complete python-gssapi security context."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: gssapi.SecurityContext) -> None:
        self._ctx = ctx

    def sign(self, data: bytes) -> bytes:
        try:
            return bytes(self._ctx.get_signature(data))
        except GSSError as e:
            raise GSSFailure(f"GSS-TSIG: cannot sign: {_text(e)}") from None

    def verify(self, data: bytes, mic: bytes) -> bool:
        try:
            self._ctx.verify_signature(data, mic)
        except GSSError:
            return False
        return True


def _text(e: GSSError) -> str:
    """The GSS-API's own words (major and minor status), on one line."""
    return " ".join(e.gen_message().split())


class _Credentials:
    """Where the principal's initiator credentials come from: one ccache per setting."""

    def __init__(self, gss: GSS) -> None:
        self.gss = gss
        store: dict[bytes | str, bytes | str] = {}
        if gss.keytab:
            store["client_keytab"] = gss.keytab
            store["ccache"] = gss.ccache or f"MEMORY:dnssync-{os.getpid()}-{next(_ccaches)}"
        elif gss.ccache:
            store["ccache"] = gss.ccache
        self.store = store

    def acquire(self) -> gssapi.Credentials:
        name = gssapi.Name(self.gss.principal, gssapi.NameType.kerberos_principal)
        return gssapi.Credentials(name=name, usage="initiate", store=self.store or None)


@functools.cache
def _credentials(gss: GSS) -> _Credentials:
    return _Credentials(gss)


def _tkey_query(key_name: dns.name.Name, token: bytes, now: int, lifetime: int) -> bytes:
    """An unsigned TKEY query carrying one GSS-API token (RFC 3645 4.1.2)."""
    tkey = dns.rdtypes.ANY.TKEY.TKEY(
        dns.rdataclass.ANY,
        dns.rdatatype.TKEY,
        tsig.GSS_TSIG,
        now,
        now + lifetime,
        _GSSAPI_MODE,
        0,
        token,
        b"",
    )
    query = dns.message.make_query(key_name, dns.rdatatype.TKEY, dns.rdataclass.ANY)
    rrset = query.find_rrset(
        query.additional, key_name, dns.rdataclass.ANY, dns.rdatatype.TKEY, create=True
    )
    rrset.add(tkey, 0)
    return query.to_wire()


def _tkey_answer(
    answer: bytes, key_name: dns.name.Name, parsed: wire.Message
) -> dns.rdtypes.ANY.TKEY.TKEY:
    """The TKEY record of an answer (its TSIG, if any, cut off first: checked apart)."""
    if parsed.tsig is not None:
        arcount = int.from_bytes(answer[10:12], "big") - 1
        answer = answer[:10] + arcount.to_bytes(2, "big") + answer[12 : parsed.tsig.start]
    try:
        msg = dns.message.from_wire(answer)
    except dns.exception.DNSException as e:
        raise wire.WireError(f"malformed TKEY answer ({type(e).__name__})") from None
    for rrset in msg.answer:
        if rrset.rdtype == dns.rdatatype.TKEY and rrset.name == key_name:
            rdata = rrset[0]
            assert isinstance(rdata, dns.rdtypes.ANY.TKEY.TKEY)
            return rdata
    raise wire.WireError("no TKEY record for our key name in the answer")


Exchange = Callable[[bytes], Awaitable[bytes]]


async def negotiate(
    gss: GSS,
    host: str,
    exchange: Exchange,
    *,
    server: str,
    zone: str,
) -> Context:
    """A new GSS-TSIG context with the server at ``host``; ``exchange`` sends one TKEY
    query and returns the answer's bytes (the caller's transport and deadline)."""
    service = gss.service.replace("{host}", host)
    key_name = dns.name.from_text(f"{secrets.token_hex(8)}.sig-{host}.")
    try:
        target = gssapi.Name(service, gssapi.NameType.kerberos_principal)
        creds = await asyncio.to_thread(_credentials(gss).acquire)
        ctx = gssapi.SecurityContext(name=target, creds=creds, usage="initiate", flags=_FLAGS)
        token: bytes | None = await asyncio.to_thread(ctx.step)
    except GSSError as e:
        raise GSSFailure(
            f"GSS-TSIG: no Kerberos ticket of {gss.principal} for {service}: {_text(e)}",
            server=server,
            zone=zone,
        ) from None
    what = f"TKEY negotiation for {service}"
    for _ in range(_ROUNDS):
        assert token is not None
        answer = await exchange(_tkey_query(key_name, token, int(time.time()), gss.lifetime))
        parsed, tkey = _read_answer(answer, key_name, what, server=server, zone=zone)
        try:
            token = await asyncio.to_thread(ctx.step, tkey.key) if not ctx.complete else None
        except GSSError as e:
            raise GSSFailure(
                f"{what}: the server's token was refused: {_text(e)}", server=server, zone=zone
            ) from None
        if ctx.complete:
            signer = tsig.Signer.gss(key_name, _ContextMic(ctx))
            _check_signed(signer, answer, parsed, what, server=server, zone=zone)
            granted = max(0, tkey.expiration - int(time.time()))
            lifetime = float(min(ctx.lifetime, granted) if granted else ctx.lifetime)
            return Context(signer, time.monotonic() + lifetime, lifetime)
    raise GSSFailure(f"{what}: not complete after {_ROUNDS} rounds", server=server, zone=zone)


def _read_answer(
    answer: bytes, key_name: dns.name.Name, what: str, *, server: str, zone: str
) -> tuple[wire.Message, dns.rdtypes.ANY.TKEY.TKEY]:
    try:
        parsed = wire.parse(answer)
        answers.raise_for_rcode(parsed.rcode, what, server=server, zone=zone, hints={})
        tkey = _tkey_answer(answer, key_name, parsed)
    except wire.WireError as e:
        raise GSSFailure(f"{what}: {e}", server=server, zone=zone) from None
    if tkey.error:
        name = answers.rcode_name(tkey.error)
        raise TSIGFailure(
            f"{what}: the server refused the context ({name})",
            rcode="NOERROR",
            tsig_error=name,
            server=server,
            zone=zone,
        )
    return parsed, tkey


def _check_signed(
    signer: tsig.Signer,
    answer: bytes,
    parsed: wire.Message,
    what: str,
    *,
    server: str,
    zone: str,
) -> None:
    """The server's last TKEY answer must be signed with the new context (RFC 3645 4.1.3):
    it proves the server holds it too."""
    if parsed.tsig is None:
        raise answers.unsigned(what, parsed.rcode, server=server, zone=zone)
    try:
        tsig.Verifier(signer, b"").verify(answer, parsed.tsig, int(time.time()))
    except dns.exception.DNSException as e:
        raise answers.tsig_failure(e, what, parsed.rcode, server=server, zone=zone) from None
