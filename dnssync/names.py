"""The one place DNS names are normalised and checked.

A dnssync name is text: lower case, IDNA A-labels, no trailing dot
(``www.example.com``); the root is never a record name.  Every name that
enters the product -- from an annotation, a manifest, a config file, a zone
transfer or a webhook payload -- passes through here, so comparisons
elsewhere are plain string equality.  Zone membership is label-aware:
``evilexample.com`` is not inside ``example.com``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import dns.exception
import dns.name
import dns.tsig

from dnssync.errors import ConfigError, InvalidName

MAX_NAME = 253
MAX_LABEL = 63

#: The labels of the names the ACME side writes: challenge values at
#: ``_acme-challenge.<domain>`` and its ownership markers at
#: ``_dnssync-acme.<record>``.  The registry never reads ownership there.
ACME_CHALLENGE_LABEL = "_acme-challenge"
ACME_MARKER_LABEL = "_dnssync-acme"
_ACME_LABELS = frozenset({ACME_CHALLENGE_LABEL, ACME_MARKER_LABEL})

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Service labels (_acme-challenge, _dmarc) and ownership prefixes may use '_'.
_SERVICE_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def normalize(
    text: str, *, where: str = "", underscore: bool = False, wildcard: bool = True
) -> str:
    """Return the canonical form of ``text`` or raise :class:`InvalidName`.

    ``underscore`` admits ``_`` in labels (service names such as
    ``_acme-challenge``); ``wildcard`` admits a leading ``*`` label.
    """
    raw = text.strip()
    if raw.endswith("."):
        raw = raw[:-1]
    if not raw:
        raise InvalidName("empty name", where=where)
    try:
        ascii_name = raw.encode("ascii").decode().lower()
    except UnicodeEncodeError:
        try:
            ascii_name = dns.name.from_unicode(raw).to_text(omit_final_dot=True).lower()
        except (dns.exception.DNSException, UnicodeError, ValueError) as e:
            raise InvalidName(
                f"{text!r} is not a valid international name: {e}", where=where
            ) from None
    if len(ascii_name) > MAX_NAME:
        raise InvalidName(
            f"{text!r} is {len(ascii_name)} characters long; at most {MAX_NAME} are allowed",
            where=where,
        )
    labels = ascii_name.split(".")
    pattern = _SERVICE_LABEL if underscore else _HOST_LABEL
    for i, label in enumerate(labels):
        if label == "*" and i == 0 and wildcard and len(labels) > 1:
            continue
        if not label:
            raise InvalidName(f"{text!r} has an empty label", where=where)
        if len(label) > MAX_LABEL:
            raise InvalidName(
                f"{text!r}: label {label[:20]!r}... is {len(label)} characters; "
                f"at most {MAX_LABEL} are allowed",
                where=where,
            )
        if not pattern.match(label):
            allowed = "letters, digits, '-' and '_'" if underscore else "letters, digits and '-'"
            raise InvalidName(
                f"{text!r}: label {label!r} may only hold {allowed}, "
                "and may not start or end with '-'",
                where=where,
            )
    return ascii_name


def from_dns(name: dns.name.Name) -> str:
    """Canonical text of a name read off the wire (already valid DNS)."""
    return name.to_text(omit_final_dot=True).lower()


def to_dns(name: str) -> dns.name.Name:
    """The absolute dnspython name for a canonical name."""
    return dns.name.from_text(name)


def in_zone(name: str, zone: str) -> bool:
    """True when ``name`` is ``zone`` or below it (label-aware)."""
    return name == zone or name.endswith("." + zone)


def zone_for(name: str, zones: Iterable[str]) -> str | None:
    """The longest zone of ``zones`` that contains ``name``, or None."""
    best: str | None = None
    for zone in zones:
        if in_zone(name, zone) and (best is None or len(zone) > len(best)):
            best = zone
    return best


def reverse_name(address: str) -> str:
    """The PTR owner name of an IP address: ``2.49.168.192.in-addr.arpa``, nibbles for IPv6.

    Raises :class:`InvalidName` for text that is not an address.
    """
    try:
        return ipaddress.ip_address(address).reverse_pointer.lower()
    except ValueError:
        raise InvalidName(f"{address!r} is not an IP address") from None


def is_acme_name(name: str) -> bool:
    """Whether ``name`` is at or under an ACME challenge or marker label.

    Any label counts, not only the first: the sync side has no business at
    ``x._acme-challenge.www`` either, and a wider rule only refuses more.
    """
    return not _ACME_LABELS.isdisjoint(name.split("."))


def split_first(name: str) -> tuple[str, str]:
    """Split at the first dot: ``www.example.com`` -> (``www``, ``example.com``)."""
    first, _, rest = name.partition(".")
    return first, rest


_ALGORITHMS: dict[str, dns.name.Name] = {
    "hmacmd5": dns.tsig.HMAC_MD5,
    "hmacsha1": dns.tsig.HMAC_SHA1,
    "hmacsha224": dns.tsig.HMAC_SHA224,
    "hmacsha256": dns.tsig.HMAC_SHA256,
    "hmacsha384": dns.tsig.HMAC_SHA384,
    "hmacsha512": dns.tsig.HMAC_SHA512,
}


def tsig_algorithm(text: str) -> dns.name.Name:
    """The TSIG algorithm for any spelling users bring.

    ``hmac-sha256``, ``hmac-sha256.``, ``HMACSHA256``, ``HMAC_SHA256``,
    ``sha256`` and BIND's ``hmac-md5.sig-alg.reg.int`` all name one algorithm.
    """
    key = text.strip().lower().rstrip(".")
    key = key.removesuffix(".sig-alg.reg.int")
    key = key.replace("-", "").replace("_", "")
    if not key.startswith("hmac"):
        key = "hmac" + key
    try:
        return _ALGORITHMS[key]
    except KeyError:
        known = ", ".join(sorted(a.to_text(omit_final_dot=True) for a in _ALGORITHMS.values()))
        raise ConfigError(f"unknown TSIG algorithm {text!r}; known: {known}") from None
