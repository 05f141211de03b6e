"""external-dns's TXT ownership registry, read and written byte for byte.

This is the pure core that decides which records dnssync may touch.  A
record is ours only when an ownership TXT for it says our owner id exactly;
the value and the name of that TXT follow external-dns v0.22, so a cluster
can move from external-dns to dnssync and back without a record being
re-created.  No I/O, no clock, no randomness: the zone comes in as a
:class:`~dnssync.model.ZoneSnapshot`, and everything written is a pure
function of the options and the record.

Value
    ``heritage=external-dns,external-dns/<key>=<value>,...``, keys sorted, no
    spaces; dnssync writes ``owner`` and ``resource`` (``ingress/<ns>/<name>``,
    ``service/<ns>/<name>``).  Reading follows external-dns's parser: surrounding
    quotes are dropped, key order does not matter, a value without
    ``heritage=external-dns`` (or with another heritage) is a user's TXT.

Name
    The record name is split at its first dot into ``first`` and ``rest``; the
    type is lower case.  Without an affix the ownership TXT is
    ``<type>-<first>.<rest>``; with ``--txt-prefix=P`` it is
    ``P<type>-<first>.<rest>``; with ``--txt-suffix=S`` it is
    ``<type>-<first>S.<rest>``.  An affix holding ``%{record_type}`` gets the type
    substituted there and no ``<type>-`` is added (``%{record_type}-foo.`` gives
    ``a-foo.www.example.com``), so such a prefix ending in ``.`` puts the TXT one
    level below the record.  A leading ``*`` label becomes
    ``--txt-wildcard-replacement`` when one is set (so ``*.example.com`` and
    ``<replacement>.example.com`` share one ownership name, as in external-dns).
    The legacy untyped form (written up to v0.17, read only) is the same
    without ``<type>-`` and with ``%{record_type}`` removed; external-dns
    consults it only when no typed TXT exists, never for AAAA, and only at a
    name its own parser does not read as a typed one -- dnssync does the same,
    except for a TXT record whose legacy name is its own (no affix): a value
    inside a TXT record set never marks that set.  Every type of
    :data:`dnssync.rtypes.TYPES` is named by the same formula (``srv-``,
    ``mx-``, ``caa-``, ``ns-``, ``ptr-``, ``txt-``), so a published TXT never
    shares its name with its ownership TXT.
    Affixes are checked once (:class:`RegistryOptions`): no affix may create an
    empty label.  ``%{record_type}`` may touch the record's own label
    (``%{record_type}foo.`` gives ``cnamefoo.example.com``), as external-dns
    accepts it; such an affix lets ``a``+``aaaz`` and ``aaaa``+``z`` share one
    ownership name, in external-dns and here alike, so prefer a separator.

Apex
    external-dns maps the apex ``example.com`` to ``a-example.com``, a sibling of
    the zone that no zone-scoped server accepts (external-dns #449, #5010,
    #4234).  Upstream never changed the mapping: it documents a prefix that
    holds ``%{record_type}`` and ends in ``.`` as the workaround (PR #5863), and
    a guard refusing such apex records was proposed and closed (PR #5864).
    dnssync's rule:

    1. If external-dns's own name for the apex lies inside the zone (in
       practice the documented ``--txt-prefix=<x>%{record_type}.`` set-ups,
       e.g. ``a.example.com``), use it unchanged, so both tools agree on it.
    2. Otherwise apply the same formula with an empty ``first`` -- the apex's
       name relative to the zone is empty -- and append the zone:
       ``a-.example.com``, ``cname-.example.com``, ``extdns-a-.example.com``
       (prefix ``extdns-``), ``a--txt.example.com`` (suffix ``-txt``).  A leading
       dot left by a suffix that starts with one is dropped (suffix
       ``.%{record_type}`` gives ``a.example.com``).

    The name is inside the zone and deterministic.  It cannot be the ownership
    name of any other record: every other record has a non-empty ``first``, and
    reading either name back with external-dns's parser gives different
    records (the property tests check this).  The label may end in ``-``
    (``a-``): valid in DNS, though not a host name, so it is built here and must
    not be passed through :func:`dnssync.names.normalize`.  external-dns does
    not read this name back, so after moving back to external-dns the apex
    record stays in place, unowned, exactly as external-dns leaves it today.

    external-dns's own name of rule 2's case is still read where the target
    serves the zone holding it (a parent zone: external-dns's rfc2136
    provider picks zones by string suffix, so with a suffix affix its apex
    TXT lands there).  :meth:`Registry.claims` takes those TXT record sets as
    ``nearby`` (:mod:`dnssync.plan` gathers them), as typed claims; nothing
    in the apex zone's messages edits them.

ACME names
    No TXT at or under an ``_acme-challenge`` or ``_dnssync-acme`` label is
    ever an ownership record, and no ownership record is written there: the
    ACME side (webhook, hooks) and the keys it is given write at those names.

Ownership
    The typed claims decide; legacy ones only when there is no typed one (as in
    external-dns).  Ours means one of the deciding claims says our owner id
    exactly and none says another: a name two owners claim is nobody's to
    change, where external-dns would pick one arbitrarily.

Encryption (``--txt-encrypt-aes-key``)
    ``base64.StdEncoding(nonce[12] || AES-256-GCM(gzip(value)))``, no associated
    data, as in external-dns's ``endpoint/crypto.go``.  A stored value that
    does not decrypt under our key is parsed as plain text, like external-dns
    does; a value encrypted under another key is therefore a user's TXT and
    never ours.  Writing uses a deterministic nonce (see :func:`encrypt_value`).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dnssync.errors import ConfigError, InvalidInput, InvalidName
from dnssync.model import Ownership, RecordKey, RRset, ZoneSnapshot
from dnssync.names import MAX_LABEL, MAX_NAME, in_zone, is_acme_name, split_first

HERITAGE = "external-dns"
OWNER_LABEL = "owner"
RESOURCE_LABEL = "resource"
RECORD_TEMPLATE = "%{record_type}"

#: Types external-dns's name parser recognises in an ownership name (the union
#: over recent releases), plus CAA: external-dns has no CAA type, yet its
#: formula names CAA's ownership ``caa-<name>``, which dnssync writes and must
#: read back.  A longer list only makes fewer names count as legacy ones,
#: which errs on the side of "not ours".
PARSED_TYPES: tuple[str, ...] = (
    "A",
    "AAAA",
    "CNAME",
    "NS",
    "MX",
    "PTR",
    "SRV",
    "NAPTR",
    "TXT",
    "DNAME",
    "CAA",
)

NONCE_SIZE = 12
KEY_SIZE = 32

# Affix text: label characters and dots, plus the template.
_AFFIX_CHARS = re.compile(r"^[a-z0-9_.-]*$")
_REPLACEMENT = re.compile(r"^[a-z0-9_-]+$")
# Go's gzip.Writer header for BestCompression: no flags, MTIME 0, XFL 2, OS 255.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
_CACHE_LIMIT = 1 << 16


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """external-dns's ``--txt-*`` settings.  Affixes are lower-cased here."""

    owner_id: str
    prefix: str = ""  # --txt-prefix, may contain %{record_type}
    suffix: str = ""  # --txt-suffix, may contain %{record_type}
    wildcard_replacement: str = ""  # --txt-wildcard-replacement
    encryption_key: bytes | None = None  # 32 bytes (--txt-encrypt-aes-key)

    def __post_init__(self) -> None:
        # Lower-case like external-dns's mapper, so comparisons stay plain.
        object.__setattr__(self, "prefix", self.prefix.lower())
        object.__setattr__(self, "suffix", self.suffix.lower())
        object.__setattr__(self, "wildcard_replacement", self.wildcard_replacement.lower())
        if not self.owner_id:
            raise ConfigError("owner id: must not be empty")
        # '=' is fine: external-dns splits a label at its first '=' only.
        bad = [c for c in self.owner_id if c in ',"' or not c.isprintable()]
        if bad:
            raise ConfigError(
                f"owner id {self.owner_id!r}: may not contain {''.join(sorted(set(bad)))!r} "
                "(it would not survive the registry value format)"
            )
        if self.prefix and self.suffix:
            raise ConfigError("txt prefix and txt suffix are mutually exclusive; set only one")
        _check_affix("txt prefix", self.prefix, suffix=False)
        _check_affix("txt suffix", self.suffix, suffix=True)
        if self.wildcard_replacement and not _REPLACEMENT.match(self.wildcard_replacement):
            raise ConfigError(
                f"txt wildcard replacement {self.wildcard_replacement!r}: must be one label "
                "of letters, digits, '-' and '_'"
            )
        if self.encryption_key is not None and len(self.encryption_key) != KEY_SIZE:
            raise ConfigError(
                f"txt encryption key: must be {KEY_SIZE} bytes, got {len(self.encryption_key)}"
            )

    @property
    def type_in_affix(self) -> bool:
        return RECORD_TEMPLATE in self.prefix or RECORD_TEMPLATE in self.suffix


def _check_affix(what: str, affix: str, *, suffix: bool) -> None:
    """Reject affixes that make invalid names or ambiguous ownership names.

    external-dns accepts any text; these are the affixes with which two
    records could share one ownership name, or every name would be invalid.
    """
    if not affix:
        return
    plain = affix.replace(RECORD_TEMPLATE, "")
    if not _AFFIX_CHARS.match(plain):
        raise ConfigError(
            f"{what} {affix!r}: may hold letters, digits, '-', '_', '.' and {RECORD_TEMPLATE}"
        )
    probe = affix.replace(RECORD_TEMPLATE, "a")
    if is_acme_name(probe):
        raise ConfigError(
            f"{what} {affix!r}: would put ownership names under _acme-challenge or "
            "_dnssync-acme, where the ACME side writes"
        )
    if ".." in probe or (probe.endswith(".") if suffix else probe.startswith(".")):
        raise ConfigError(f"{what} {affix!r}: would produce an empty label in ownership names")


@dataclass(frozen=True, slots=True)
class Claim:
    """One heritage TXT value found for a record."""

    ownership: Ownership  # TXT owner name and the value exactly as stored
    owner: str  # external-dns/owner label ("" if absent)
    resource: str  # external-dns/resource label ("" if absent)
    labels: Mapping[str, str] = field(hash=False)  # all labels, read-only
    legacy: bool  # found at the legacy untyped name


# --- value format ---------------------------------------------------------


def format_labels(labels: Mapping[str, str]) -> str:
    """The registry value for ``labels`` (keys without ``external-dns/``).

    ``{"owner": "x", "resource": "ingress/ns/n"}`` gives
    ``heritage=external-dns,external-dns/owner=x,external-dns/resource=ingress/ns/n``.
    Unquoted: the DNS layer quotes TXT strings.  Raises :class:`InvalidInput`
    for a label the format cannot carry back.
    """
    tokens = [f"heritage={HERITAGE}"]
    for key in sorted(labels):  # code-point order == Go's byte order for UTF-8
        value = labels[key]
        if not key or key == "heritage" or any(c in key for c in ',="'):
            raise InvalidInput(f"registry label key {key!r} cannot be stored")
        if any(c in value for c in ',"'):
            raise InvalidInput(f"registry label {key}={value!r}: may not contain ',' or '\"'")
        tokens.append(f"{HERITAGE}/{key}={value}")
    return ",".join(tokens)


def parse_labels(text: str) -> dict[str, str] | None:
    """The labels of a registry value, or None for any other TXT.

    Mirrors external-dns's ``NewLabelsFromStringPlain``: quotes at either end
    are dropped; tokens are split at ``,``, then at their first ``=`` (tokens
    without one are skipped, so a value may hold ``=``); ``heritage`` must be
    present and equal ``external-dns``; keys starting with ``external-dns`` are
    kept without ``external-dns/``; later duplicates win.  Never raises.
    """
    found = False
    labels: dict[str, str] = {}
    for token in text.strip('"').split(","):
        key, eq, value = token.partition("=")
        if not eq:
            continue
        if key == "heritage":
            if value != HERITAGE:
                return None
            found = True
        elif key.startswith(HERITAGE):
            labels[key.removeprefix(HERITAGE + "/")] = value
    return labels if found else None


# --- encryption -----------------------------------------------------------


def decode_aes_key(text: str) -> bytes:
    """``--txt-encrypt-aes-key`` as external-dns reads it: 32 plain bytes, or base64 of 32."""
    raw = text.encode()
    if len(raw) == KEY_SIZE:
        return raw
    # external-dns decodes StdEncoding; its docs recommend URL-safe base64, so take both.
    for altchars in (None, b"-_"):
        try:
            key = base64.b64decode(raw, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(key) == KEY_SIZE:
            return key
    raise ConfigError(
        f"txt encryption key: must be {KEY_SIZE} bytes long, as plain text or base64 "
        f"(got {len(raw)} characters)"
    )


def _gzip(data: bytes) -> bytes:
    # Built by hand rather than with gzip.compress: Python 3.11/3.12 take the
    # header's OS byte from zlib when mtime=0 and 3.13 writes 255, so the
    # stored bytes would change with the interpreter.  Header as Go writes it.
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def encrypt_value(plain: str, key: bytes) -> str:
    """Encrypt a registry value the way external-dns does, deterministically.

    external-dns draws a random nonce, and keeps it in memory to re-serialise
    a record it read.  A pure module cannot draw random bytes, and RFC 2136
    deletes and prerequisites match RDATA exactly, so the same value must
    always give the same bytes.  The nonce is therefore derived from the
    plaintext: HMAC-SHA256(key, plaintext)[:12] -- a synthetic-IV
    construction.  AES-GCM only breaks when one nonce encrypts two different
    plaintexts; here equal nonces imply equal plaintexts (barring a 96-bit
    PRF collision), and re-encrypting one plaintext just repeats identical
    bytes, revealing nothing beyond "same value".  gzip is deterministic too
    (MTIME 0, fixed header), so the bytes only depend on zlib's deflate output;
    callers deleting a stored value should use the value they read
    (:attr:`Claim.ownership`) rather than a re-encryption of it.
    """
    # cryptography costs ~30 ms to import: only targets with an AES key pay it.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = plain.encode()
    nonce = hmac.new(key, data, hashlib.sha256).digest()[:NONCE_SIZE]
    sealed = AESGCM(key).encrypt(nonce, _gzip(data), None)
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_value(text: str, key: bytes) -> str | None:
    """The plaintext of an encrypted registry value, or None if it is not one for ``key``."""
    try:
        data = base64.b64decode(text.strip('"'), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(data) <= NONCE_SIZE:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        packed = AESGCM(key).decrypt(data[:NONCE_SIZE], data[NONCE_SIZE:], None)
    except (InvalidTag, ValueError):
        return None
    try:
        plain = gzip.decompress(packed)
    except (OSError, EOFError, zlib.error):
        # Authentic but not gzip: written by an external-dns release that did
        # not compress yet; its plaintext is the value itself.
        plain = packed
    try:
        return plain.decode()
    except UnicodeDecodeError:
        return None


# --- the registry ---------------------------------------------------------


class Registry:
    """Ownership names and values for one owner id and one set of affixes."""

    def __init__(self, options: RegistryOptions) -> None:
        self.options = options
        self.owner_id = options.owner_id
        # Decrypting is the costly step and snapshots repeat values; the cache
        # is a pure memo (value text -> labels), bounded to keep memory flat.
        self._decoded: dict[str, dict[str, str] | None] = {}
        # Names are pure functions of (record, type, zone); a reconcile asks
        # for each several times, so they are memoised the same way.
        self._names: dict[tuple[str, str, str], tuple[str | None, str | None]] = {}
        self._typed: dict[tuple[str, str, str], str | InvalidName] = {}

    # --- names ---

    def txt_name(self, name: str, type_: str, *, zone: str) -> str:
        """The typed ownership TXT name for record (``name``, ``type_``) in ``zone``.

        Raises :class:`InvalidName` when ``name`` is outside ``zone`` or the
        result is not a valid DNS name (a label over 63 octets, say).
        """
        memo = self._typed.get((name, type_, zone))
        if memo is None:
            try:
                memo = self._typed_name(name, type_, zone)
            except InvalidName as e:
                memo = e
            if len(self._typed) >= _CACHE_LIMIT:
                self._typed.clear()
            self._typed[(name, type_, zone)] = memo
        if isinstance(memo, InvalidName):
            raise memo
        return memo

    def external_txt_name(self, name: str, type_: str) -> str:
        """external-dns's own ownership name for a record (its ``ToTXTName``), zone aside.

        The same as :meth:`txt_name` except at the apex, where external-dns's
        name may lie outside the zone.  Not checked for DNS validity.
        """
        return self._map(_lower(name), type_.upper())

    def _typed_name(self, name: str, type_: str, zone: str) -> str:
        name, zone, rtype = self._canonical(name, zone, type_)
        external = self._map(name, rtype)
        if name == zone and not _strictly_inside(external, zone):
            external = self._apex_name(zone, rtype)
        return _checked(external, name)

    def legacy_txt_name(self, name: str, *, zone: str) -> str | None:
        """The pre-v0.17 untyped ownership name (read only), or None if there never was one.

        None when external-dns's legacy formula gives an invalid name (an
        affix such as ``%{record_type}.`` leaves an empty label) or, for the
        apex, a name outside the zone: nothing can have been stored there.
        """
        name, zone, _ = self._canonical(name, zone, "")
        legacy = self._map(name, None)
        if not in_zone(legacy, zone) or "" in legacy.split("."):
            return None
        try:
            return _checked(legacy, name)
        except InvalidName:
            return None

    def is_registry_name(self, name: str, *, zone: str) -> bool:
        """Could ``name`` be a typed ownership TXT name in ``zone``?

        Legacy names are record names themselves, so they are not recognised.
        """
        name, zone = _lower(name), _lower(zone)
        if not zone or not in_zone(name, zone):
            return False
        candidates = [(zone, t) for t in PARSED_TYPES]
        record, rtype = self.parse_txt_name(name)
        if rtype and record and in_zone(record, zone):
            candidates.append((record, rtype))
        for record, rtype in candidates:
            try:
                if self.txt_name(record, rtype, zone=zone) == name:
                    return True
            except InvalidName:
                continue
        return False

    def parse_txt_name(self, txt_name: str) -> tuple[str, str]:
        """What external-dns reads a TXT name as: (record name, TYPE), TYPE "" for legacy.

        A port of its ``ToEndpointName``; ("", "") when the affix does not match.
        The apex names of rule 2 (module docstring) are not read back by it.
        """
        opts = self.options
        name = txt_name.lower()
        if not opts.suffix:
            return self._drop_affix(name)
        dots = opts.suffix.count(".")
        parts = name.split(".", dots + 1)
        if len(parts) <= dots:
            return "", ""
        record, rtype = self._drop_affix(".".join(parts[: dots + 1]))
        if len(parts) <= dots + 1:
            return record, rtype
        return f"{record}.{parts[dots + 1]}", rtype

    # --- values ---

    def ownership(self, name: str, type_: str, *, zone: str, resource: str) -> Ownership:
        """The ownership TXT dnssync writes for a record it owns.

        Deterministic: the same record, owner and resource always give the same
        name and value bytes, encrypted or not.
        """
        labels = {OWNER_LABEL: self.owner_id}
        if resource:
            labels[RESOURCE_LABEL] = resource
        value = format_labels(labels)
        if self.options.encryption_key is not None:
            value = encrypt_value(value, self.options.encryption_key)
        return Ownership(self.txt_name(name, type_, zone=zone), value)

    def labels_of(self, value: str) -> dict[str, str] | None:
        """The labels a stored TXT value carries, or None for a user's TXT.

        With a key, a value is decrypted first and read as plain text when it
        does not decrypt (external-dns's ``NewLabelsFromString``).
        """
        if value in self._decoded:
            cached = self._decoded[value]
            return None if cached is None else dict(cached)
        key = self.options.encryption_key
        plain = decrypt_value(value, key) if key is not None else None
        labels = parse_labels(plain if plain is not None else value)
        if len(self._decoded) >= _CACHE_LIMIT:
            self._decoded.clear()
        self._decoded[value] = labels
        return None if labels is None else dict(labels)

    def claims(
        self,
        snapshot: ZoneSnapshot,
        name: str,
        type_: str,
        nearby: Mapping[RecordKey, RRset] | None = None,
    ) -> list[Claim]:
        """Every heritage TXT for record (``name``, ``type_``): typed ones, then legacy ones.

        Legacy claims are read only where external-dns reads them: not for
        AAAA, and only at a name its parser does not take for a typed one.
        For the apex, external-dns's own name outside the zone is read too,
        from ``nearby`` (TXT record sets other zones of the target hold).
        """
        zone = snapshot.zone
        typed, legacy = self._claim_names(name, zone, type_)
        found = [] if typed is None else self._claims_at(snapshot, typed, legacy=False)
        outside = self.outside_apex_name(name, type_, zone=zone) if nearby else None
        if nearby and outside is not None:
            rrset = nearby.get(RecordKey(outside, "TXT"))
            found.extend(self._claims_in(rrset, outside, legacy=False))
        if legacy is not None:
            found.extend(self._claims_at(snapshot, legacy, legacy=True))
        return found

    def outside_apex_name(self, name: str, type_: str, *, zone: str) -> str | None:
        """external-dns's ownership name for an apex record when it lies outside the zone.

        None for any other record, and when its name is inside the zone
        (rule 1 of the module docstring: dnssync writes that name itself) or
        is no valid DNS name (nobody can have written it).
        """
        name, zone, rtype = self._canonical(name, zone, type_)
        if name != zone:
            return None
        external = self._map(name, rtype)
        if _strictly_inside(external, zone):
            return None
        try:
            return _checked(external, name)
        except InvalidName:
            return None

    def claim_names(self, name: str, type_: str, *, zone: str) -> tuple[str | None, str | None]:
        """Where claims for record (``name``, ``type_``) may stand: its typed
        and legacy ownership names (None where it has none)."""
        return self._claim_names(name, zone, type_)

    def records_of(self, txt_name: str, *, zone: str) -> tuple[list[tuple[str, str]], str | None]:
        """Which records ``txt_name`` is the ownership name of.

        Returns the typed (record name, TYPE) pairs whose typed ownership
        name it is -- two with a wildcard replacement (``*.x`` and
        ``<replacement>.x``), one for an apex name of rule 2 -- and the
        record whose legacy name it is, if any.  Each candidate is checked by
        computing its name forwards, so a name the formulas cannot produce
        names no record.
        """
        txt_name, zone = _lower(txt_name), _lower(zone)
        if not zone or not in_zone(txt_name, zone) or is_acme_name(txt_name):
            return [], None
        record, rtype = self.parse_txt_name(txt_name)
        valid = record and "" not in record.split(".") and in_zone(record, zone)
        names = [record] if valid else []
        first, rest = split_first(record)
        if names and rest and first == self.options.wildcard_replacement:
            names.append(f"*.{rest}")
        typed: list[tuple[str, str]] = []
        candidates = [(zone, t) for t in PARSED_TYPES]
        if rtype:
            candidates += [(n, rtype) for n in names]
        for name, t in candidates:
            if (name, t) not in typed and self._claim_names(name, zone, t)[0] == txt_name:
                typed.append((name, t))
        legacy = None
        if not rtype:
            legacy = next(
                (n for n in names if self._claim_names(n, zone, "A")[1] == txt_name), None
            )
        return typed, legacy

    def may_mark(self, txt_name: str, *, zone: str, types: Iterable[str]) -> set[str]:
        """Every record name of ``zone`` that one of its ownership names -- typed, for one of
        ``types``, or legacy -- puts at ``txt_name``.

        :meth:`records_of` reads a name one way, as external-dns does; this tries
        every reading (each type's affix, which a bare ``%{record_type}`` prefix
        makes ambiguous, both names of a wildcard, the apex) and keeps the names
        whose forward formula gives ``txt_name``: a plan of some names must miss
        none that their ownership names mark.
        """
        txt, zone = _lower(txt_name), _lower(zone)
        if not zone or not in_zone(txt, zone) or is_acme_name(txt):
            return set()
        kinds = tuple(t.upper() for t in types)
        candidates = {zone}
        for rtype in (*kinds, None):
            candidates.update(self._unmapped(txt, rtype))
        for name in list(candidates):
            first, rest = split_first(name)
            if rest and first == self.options.wildcard_replacement:
                candidates.add(f"*.{rest}")
        return {
            name
            for name in candidates
            if name
            and "" not in name.split(".")
            and in_zone(name, zone)
            and any(txt in self._claim_names(name, zone, t) for t in kinds)
        }

    def _unmapped(self, txt: str, rtype: str | None) -> list[str]:
        """The record names :meth:`_map` could have made ``txt`` from, for ``rtype``."""
        opts = self.options
        t = "" if rtype is None else rtype.lower()
        prefix = opts.prefix.replace(RECORD_TEMPLATE, t)
        suffix = opts.suffix.replace(RECORD_TEMPLATE, t)
        middle = f"{t}-" if rtype is not None and not opts.type_in_affix else ""
        head = prefix + middle
        if not txt.startswith(head):
            return []
        body = txt[len(head) :]
        if not suffix:
            return [body]
        out = []
        at = body.find(suffix)
        while at >= 0:
            end = at + len(suffix)
            if end == len(body) or body[end] == ".":
                out.append(body[:at] + body[end:])
            at = body.find(suffix, at + 1)
        return out

    def _claim_names(self, name: str, zone: str, type_: str) -> tuple[str | None, str | None]:
        """Where claims for a record may stand: its typed and legacy names."""
        memo = self._names.get((name, type_, zone))
        if memo is not None:
            return memo
        cname, czone, rtype = self._canonical(name, zone, type_)
        try:
            typed: str | None = self.txt_name(cname, rtype, zone=czone)
        except InvalidName:
            # The ownership name would be no valid DNS name (a 63-octet first
            # label): nobody can have written it, so there is nothing to read.
            typed = None
        legacy = None
        if rtype != "AAAA":
            candidate = self.legacy_txt_name(cname, zone=czone)
            if rtype == "TXT" and candidate == cname:
                # A value in a TXT record set never marks that set itself
                # (without an affix the legacy name is the record's own).
                candidate = None
            if candidate is not None and self.parse_txt_name(candidate) == (
                self._replaced(cname),
                "",
            ):
                legacy = candidate
        if len(self._names) >= _CACHE_LIMIT:
            self._names.clear()
        self._names[(name, type_, zone)] = (typed, legacy)
        return typed, legacy

    def claims_at(self, snapshot: ZoneSnapshot, txt_name: str) -> list[Claim]:
        """Every heritage TXT value at ``txt_name``, whatever record it is for."""
        return self._claims_at(snapshot, txt_name, legacy=False)

    def effective(self, claims: list[Claim]) -> list[Claim]:
        """The claims external-dns decides ownership on: typed ones if any, else legacy ones."""
        typed = [c for c in claims if not c.legacy]
        return typed or [c for c in claims if c.legacy]

    def owns(self, claims: list[Claim]) -> Claim | None:
        """Our claim, if the record is ours; else None.

        Ours means: among the :meth:`effective` claims one says our owner id
        exactly and none says another.  A legacy claim never overrides a typed
        one (external-dns ignores legacy names once a typed TXT exists), and a
        name two owners claim is nobody's to change.
        """
        deciding = self.effective(claims)
        ours = [c for c in deciding if c.owner == self.owner_id]
        if not ours or len(ours) != len(deciding):
            return None
        return ours[0]

    # --- internals ---

    def _claims_at(self, snapshot: ZoneSnapshot, txt_name: str, *, legacy: bool) -> list[Claim]:
        return self._claims_in(snapshot.get(txt_name, "TXT"), txt_name, legacy=legacy)

    def _claims_in(self, rrset: RRset | None, txt_name: str, *, legacy: bool) -> list[Claim]:
        if is_acme_name(txt_name):
            # The ACME side writes here (its keys may too): nothing it can
            # put there may ever make a record ours.
            return []
        if rrset is None:
            return []
        out: list[Claim] = []
        for value in rrset.values:
            labels = self.labels_of(value)
            if labels is None:
                continue
            out.append(
                Claim(
                    ownership=Ownership(txt_name, value),
                    owner=labels.get(OWNER_LABEL, ""),
                    resource=labels.get(RESOURCE_LABEL, ""),
                    labels=MappingProxyType(labels),
                    legacy=legacy,
                )
            )
        return out

    @staticmethod
    def _canonical(name: str, zone: str, type_: str) -> tuple[str, str, str]:
        name, zone = _lower(name), _lower(zone)
        if not zone:
            raise InvalidName("the zone of an ownership record may not be the root")
        if not in_zone(name, zone):
            raise InvalidName(f"{name!r} is not inside zone {zone!r}")
        return name, zone, type_.upper()

    def _replaced(self, name: str) -> str:
        first, rest = split_first(name)
        if first == "*" and self.options.wildcard_replacement:
            first = self.options.wildcard_replacement
        return f"{first}.{rest}" if rest else first

    def _map(self, name: str, rtype: str | None) -> str:
        """external-dns's ``ToTXTName`` (typed) or its old ``toTXTName`` (``rtype`` None)."""
        opts = self.options
        first, rest = split_first(name)
        if first == "*" and opts.wildcard_replacement:
            first = opts.wildcard_replacement
        if rtype is None:
            prefix = opts.prefix.replace(RECORD_TEMPLATE, "")
            suffix = opts.suffix.replace(RECORD_TEMPLATE, "")
        else:
            t = rtype.lower()
            prefix = opts.prefix.replace(RECORD_TEMPLATE, t)
            suffix = opts.suffix.replace(RECORD_TEMPLATE, t)
            if not opts.type_in_affix:
                first = f"{t}-{first}"
        label = prefix + first + suffix
        return f"{label}.{rest}" if rest else label

    def _apex_name(self, zone: str, rtype: str) -> str:
        """The in-zone apex ownership name: the formula with an empty first label."""
        opts = self.options
        t = rtype.lower()
        prefix = opts.prefix.replace(RECORD_TEMPLATE, t)
        suffix = opts.suffix.replace(RECORD_TEMPLATE, t)
        middle = "" if opts.type_in_affix else f"{t}-"
        # Only a suffix can start the label part with a dot here (a prefix
        # ending in one keeps external-dns's name, which is inside the zone).
        label = (prefix + middle + suffix).lstrip(".")
        return f"{label}.{zone}"

    def _drop_affix(self, name: str) -> tuple[str, str]:
        prefix, suffix = self.options.prefix, self.options.suffix
        if self.options.type_in_affix:
            for t in PARSED_TYPES:
                typed_prefix = prefix.replace(RECORD_TEMPLATE, t.lower())
                typed_suffix = suffix.replace(RECORD_TEMPLATE, t.lower())
                if not suffix and name.startswith(typed_prefix):
                    return name[len(typed_prefix) :], t
                if suffix and name.endswith(typed_suffix):
                    return name[: -len(typed_suffix)], t
            prefix = prefix.replace(RECORD_TEMPLATE, "")
            suffix = suffix.replace(RECORD_TEMPLATE, "")
        if not suffix and name.startswith(prefix):
            return _split_type(name[len(prefix) :])
        if suffix and name.endswith(suffix):
            return _split_type(name[: -len(suffix)])
        return "", ""


def _split_type(name: str) -> tuple[str, str]:
    """external-dns's ``extractRecordTypeDefaultPosition``."""
    head = name.split("-")[0]
    for t in PARSED_TYPES:
        if head == t.lower():
            return name[len(head) + 1 :], t
    return name, ""


def _lower(name: str) -> str:
    """Canonical case and no trailing dot, for names that come in as text."""
    return name.strip().rstrip(".").lower()


def _strictly_inside(name: str, zone: str) -> bool:
    return name != zone and in_zone(name, zone)


def _checked(txt_name: str, record: str) -> str:
    if is_acme_name(txt_name):
        raise InvalidName(
            f"the ownership record name {txt_name!r} for {record!r} lies under "
            "_acme-challenge or _dnssync-acme, where ownership is never read"
        )
    labels = txt_name.split(".")
    if len(txt_name) > MAX_NAME or any(not 0 < len(label) <= MAX_LABEL for label in labels):
        raise InvalidName(
            f"the ownership record name {txt_name!r} for {record!r} is not a valid DNS name "
            f"(labels of 1-{MAX_LABEL} characters, at most {MAX_NAME} in all); "
            "use a shorter name or affix"
        )
    return txt_name
