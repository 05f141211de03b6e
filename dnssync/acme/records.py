"""Pure: ACME TXT names, ownership markers and the UPDATE messages that write them.

Nothing here does I/O or reads a clock; the solver and the Challenge watcher
feed it what they read and the current time.

**Values dnssync wrote.**  Other ACME clients (certbot, lego, a second
cert-manager) share ``_acme-challenge`` names, and a TXT value carries no
author.  So every value dnssync presents travels, in the same UPDATE message
(atomic on the server), with a *marker*: one TXT record at the sibling name
``_dnssync-acme.<record>`` whose text names the owner id and the exact value::

    _acme-challenge.www.example.com.               TXT "Xy3..."
    _dnssync-acme._acme-challenge.www.example.com. TXT
                  "heritage=dnssync,dnssync/owner=prod,dnssync/value=Xy3..."

A value is dnssync's only while a marker with our owner id names it.  The
marker text is a pure function of (owner, value), so clean-up deletes exactly
it without reading first; removal of a stale value is guarded by a
prerequisite that the marker set is still what was read, so a concurrent
Present or clean-up makes it fail instead of racing.  Values without our
marker are never candidates for removal, whoever wrote them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.update

from dnssync.dns.updates import IN, NONE, WireRR, encode_rrs, rdata, rdata_wire
from dnssync.errors import InvalidInput, InvalidName
from dnssync.names import (
    ACME_CHALLENGE_LABEL,
    ACME_MARKER_LABEL,
    MAX_NAME,
    normalize,
    split_first,
)

CHALLENGE_LABEL = ACME_CHALLENGE_LABEL
MARKER_LABEL = ACME_MARKER_LABEL
HERITAGE = "heritage=dnssync"
_OWNER = "dnssync/owner="
_VALUE = "dnssync/value="
DIGEST_LENGTH = 43  # unpadded base64url of a SHA-256 digest
_DIGEST = re.compile(rf"[A-Za-z0-9_-]{{{DIGEST_LENGTH}}}")


def challenge_name(domain: str, *, where: str = "") -> str:
    """``_acme-challenge.<domain>``; a wildcard uses the bare domain (RFC 8555 §8.4)."""
    bare = domain.strip()
    if bare.startswith("*."):
        bare = bare[2:]
    base = normalize(bare, where=where, wildcard=False)
    return normalize(f"{CHALLENGE_LABEL}.{base}", where=where, underscore=True, wildcard=False)


def record_name(text: str, *, where: str = "") -> str:
    """A TXT record name as given (a resolved FQDN), normalised and checked
    to be an ``_acme-challenge`` name (:func:`check_record`)."""
    return check_record(normalize(text, where=where, underscore=True, wildcard=False), where=where)


def check_value(value: str, *, where: str = "") -> str:
    """The TXT value, or :class:`InvalidInput` unless it is shaped like a DNS-01 digest.

    RFC 8555 §8.4: base64url(SHA-256(keyAuthorization)) without padding,
    exactly 43 characters of ``A-Z a-z 0-9 - _``.  Nothing else is ever
    written: the solver is reachable by whoever may call the webhook or the
    hooks, and a free-form value at a free-form name could be an
    external-dns ownership record (``heritage=external-dns,...``) that the
    sync side would then obey.  The text is stable and never echoes the value.
    """
    if not _DIGEST.fullmatch(value):
        raise InvalidInput(
            "the key (TXT value) is not an ACME DNS-01 digest: it must be exactly "
            f"{DIGEST_LENGTH} base64url characters, unpadded (RFC 8555 §8.4)",
            where=where,
        )
    return value


def check_record(record: str, *, where: str = "") -> str:
    """``record`` if its first label is ``_acme-challenge``, else :class:`InvalidName`.

    Only the name a caller asks for is checked: a CNAME target the solver
    resolved itself from such a name may be anything (delegation).
    """
    if split_first(record)[0] != CHALLENGE_LABEL:
        raise InvalidName(
            f"refusing to write at {record}: ACME values go only at names whose first "
            f"label is {CHALLENGE_LABEL}",
            where=where,
        )
    return record


def marker_name(record: str) -> str:
    """Where the ownership markers of ``record``'s values live."""
    name = f"{MARKER_LABEL}.{record}"
    if len(name) > MAX_NAME:
        raise InvalidName(
            f"{record!r} is too long to carry an ownership marker; "
            "set acme.markers: false to write without markers"
        )
    return name


def marker_value(owner: str, value: str) -> str:
    """The marker text for ``value`` written by ``owner`` (deterministic)."""
    return f"{HERITAGE},{_OWNER}{owner},{_VALUE}{value}"


@dataclass(frozen=True, slots=True)
class Marker:
    owner: str
    value: str


def parse_marker(text: str) -> Marker | None:
    """The (owner, value) of a marker text, or None when it is not one."""
    head = f"{HERITAGE},{_OWNER}"
    if not text.startswith(head):
        return None
    owner, sep, value = text[len(head) :].partition("," + _VALUE)
    if not sep or not owner or not value:
        return None
    return Marker(owner, value)


def owned_values(markers: Iterable[str], owner: str) -> frozenset[str]:
    """Values that markers of ``owner`` name."""
    out = set()
    for text in markers:
        m = parse_marker(text)
        if m is not None and m.owner == owner:
            out.add(m.value)
    return frozenset(out)


# --- UPDATE messages -------------------------------------------------------


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def _txt(value: str) -> dns.rdata.Rdata:
    return rdata("TXT", value)


def present_message(
    zone: str, record: str, value: str, ttl: int, *, owner: str | None, msg_id: int
) -> bytes:
    """Add ``value`` at ``record`` (and our marker, when ``owner`` is set).

    Adding an RR that exists is a no-op (RFC 2136 3.4.2.2): presenting twice
    is harmless.  The prerequisite "no CNAME at the record" turns a
    delegated ``_acme-challenge`` (a CNAME the server would silently keep,
    dropping our TXT) into YXRRSET, which the solver answers by following
    the CNAME.  Written straight to wire (unsigned; the client signs it):
    this is on cert-manager's critical path.
    """
    adds: list[WireRR] = [(record, "TXT", IN, ttl, rdata_wire("TXT", value))]
    if owner is not None:
        marker = rdata_wire("TXT", marker_value(owner, value))
        adds.append((marker_name(record), "TXT", IN, ttl, marker))
    return encode_rrs(
        zone, msg_id=msg_id, prerequisites=[(record, "CNAME", NONE, 0, b"")], updates=adds
    )


def cleanup_message(zone: str, record: str, value: str, *, owner: str | None, msg_id: int) -> bytes:
    """Delete exactly ``value`` at ``record`` (and our marker for it).

    Deleting an RR that is not there is a no-op: clean-up is idempotent and
    other values at the name (apex + wildcard, other clients) stay.
    """
    deletes: list[WireRR] = [(record, "TXT", NONE, 0, rdata_wire("TXT", value))]
    if owner is not None:
        marker = rdata_wire("TXT", marker_value(owner, value))
        deletes.append((marker_name(record), "TXT", NONE, 0, marker))
    return encode_rrs(
        zone, msg_id=msg_id, prerequisites=[(record, "CNAME", NONE, 0, b"")], updates=deletes
    )


def stale_message(
    zone: str,
    record: str,
    values: Iterable[str],
    *,
    owner: str,
    markers_read: Iterable[str],
) -> dns.update.UpdateMessage:
    """Remove stale ``values`` and their markers, if the markers are as read.

    The value-dependent prerequisite (RFC 2136 2.4.2) compares the whole
    marker RRset: any Present, clean-up or other writer since the read
    makes the message fail with NXRRSET, and nothing is removed.
    """
    msg = dns.update.UpdateMessage(_name(zone))
    name = _name(record)
    mname = _name(marker_name(record))
    read = sorted(set(markers_read))
    if not read:
        raise InvalidInput(f"no markers read at {record}: nothing can be proven ours")
    rds = dns.rdataset.from_rdata_list(0, [_txt(t) for t in read])
    msg.present(mname, rds)
    for value in sorted(set(values)):
        # A forged marker must not make the watcher delete any other TXT
        # (an ownership value, say): only digest-shaped values ever go.
        check_value(value, where=f"stale value at {record}")
        marker = marker_value(owner, value)
        if marker not in read:
            raise InvalidInput(f"value {value!r} at {record} has no marker of ours")
        msg.delete(name, _txt(value))
        msg.delete(mname, _txt(marker))
    return msg


# --- staleness -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Held:
    """What a server has at one record: the TXT values and marker texts."""

    record: str
    values: frozenset[str]
    markers: frozenset[str]

    def ours(self, owner: str) -> frozenset[str]:
        """Values named by our markers (present at the record or not)."""
        return owned_values(self.markers, owner)


class StaleTracker:
    """Decides when a value dnssync wrote may go: unneeded for ``grace`` seconds.

    ``observe`` is given, per record, the values our markers name and the
    values some live Challenge needs, with the time; it returns the values
    that have been continuously unneeded for at least ``grace``.  A value
    seen needed again starts over; after a restart the clock starts over
    too (conservative: only ever later, never earlier).
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._since: dict[tuple[str, str], float] = {}

    def observe(
        self, record: str, ours: Iterable[str], needed: frozenset[str], now: float
    ) -> frozenset[str]:
        due = set()
        current = set(ours)
        for key in [k for k in self._since if k[0] == record and k[1] not in current]:
            del self._since[key]
        for value in current:
            key = (record, value)
            if value in needed:
                self._since.pop(key, None)
                continue
            since = self._since.setdefault(key, now)
            if now - since >= self.grace:
                due.add(value)
        return frozenset(due)

    def pending(self) -> Mapping[tuple[str, str], float]:
        """(record, value) -> when it was first seen unneeded."""
        return dict(self._since)

    def forget(self, record: str) -> None:
        for key in [k for k in self._since if k[0] == record]:
            del self._since[key]


def txt_text(strings: Iterable[bytes]) -> str:
    """A TXT rdata's character-strings joined into one text (as written)."""
    return b"".join(strings).decode("utf-8", "surrogateescape")
