"""The record types dnssync publishes: one table, one entry per type (pure).

Every stage that handles record values asks this table, never an if-ladder
of its own: the planner checks and canonicalises desired values with
:attr:`RecordType.parse`, the zone reader turns RDATA into the same text with
:attr:`RecordType.decode`, the UPDATE encoder writes :attr:`RecordType.wire`,
and the plan table prints :attr:`RecordType.show`.  Adding a type is one entry
in :data:`TYPES` (and its three small functions here).

Canonical text, the one form values take inside dnssync (what the zone reader
gives and the planner compares):

``A`` / ``AAAA``
    the address in its shortest form (``2001:db8::1``).
``CNAME`` / ``NS`` / ``PTR``
    a name: lower case, no trailing dot.
``MX``
    ``<preference> <host>`` (``10 mail.example.org``; host ``.`` is RFC 7505's null MX).
``SRV``
    ``<priority> <weight> <port> <target>`` (target ``.``: no service).
``CAA``
    ``<flags> <tag> "<value>"``, the tag in lower case, the value quoted and
    escaped as in a zone file; flags are 0 or 128 (issuer critical), the only
    ones RFC 8659 defines.
``TXT``
    one value is one TXT record.  Written the way dnssync writes it -- the
    content cut into 255-byte strings -- it is the content itself
    (``v=spf1 -all``), which keeps ownership and ACME values plain text.
    Any other split is kept exactly, in zone-file form: the strings quoted,
    ``"`` and ``\\`` escaped, other unprintable bytes as ``\\DDD``
    (``"v=spf1 " "-all"``).  Content starting with ``"`` takes that form too,
    so the two never collide.  A desired value is read the same way: text
    starting with ``"`` is a list of quoted strings (each at most 255 bytes),
    any other text the content (external-dns's DNSEndpoint targets), cut into
    255-byte strings when written.

Names inside values are compared case-insensitively by servers (RFC 4034
6.2 lists these types), so lower-casing them loses nothing.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import dns.exception
import dns.name

from dnssync.errors import InvalidInput, InvalidName
from dnssync.names import normalize

#: Reads the (possibly compressed) name at an offset of the whole message:
#: returns the name ("" for the root) and the offset just past it.
NameReader = Callable[[int], tuple[str, int]]

#: Content bytes one TXT value may hold: generous for SPF and 4096-bit DKIM
#: keys, and small enough that a change replacing a few of them still fits
#: one UPDATE message.
MAX_TXT_BYTES = 4096
#: Bytes one record set's values may add up to (RDATA): the planner refuses
#: larger sets, so every change fits one UPDATE message with its prerequisites.
MAX_RRSET_BYTES = 16_384
MAX_STRING = 255

_U16 = struct.Struct("!H")
_SRV = struct.Struct("!HHH")
_CAA_FLAGS = (0, 128)
_CAA_TAG = re.compile(r"^[A-Za-z0-9]{1,15}$")
# Bytes printed as they are inside a quoted string; the rest as \DDD
# (printable non-ASCII text stays readable: it is decoded below).
_PRINTABLE = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


class RdataError(ValueError):
    """RDATA read off the wire does not fit its type."""


@dataclass(frozen=True, slots=True)
class RecordType:
    """One record type: how its values are read, checked, written and shown."""

    name: str
    code: int
    #: Desired text -> canonical text; raises :class:`InvalidInput` naming the fault.
    parse: Callable[[str], str]
    #: Canonical text -> RDATA (names uncompressed).
    wire: Callable[[str], bytes]
    #: RDATA at ``[pos, end)`` of a whole message -> canonical text.
    decode: Callable[[bytes, int, int, NameReader], str]
    #: Canonical text -> what the plan table prints.
    show: Callable[[str], str] = str
    #: At most one value per record set (CNAME).
    single: bool = False
    #: Allowed at the zone apex (NS is not: the apex NS set is the zone's own).
    at_apex: bool = True
    #: The record delegates its name (NS): its ownership TXT must not lie below it.
    delegates: bool = False


# --- names --------------------------------------------------------------


def _name(text: str, what: str) -> str:
    """A host name inside a value; ``.`` (the root) stays ``.``."""
    raw = text.strip()
    if raw == ".":
        return "."
    try:
        return normalize(raw, underscore=True, wildcard=False)
    except InvalidName as e:
        raise InvalidInput(f"{what}: {e}") from None


def name_wire(name: str) -> bytes:
    if name in (".", ""):
        return b"\x00"
    if "\\" in name:
        wire = dns.name.from_text(name).to_wire()
        assert wire is not None
        return wire
    out = bytearray()
    for label in name.split("."):
        data = label.encode("ascii")
        out.append(len(data))
        out += data
    out.append(0)
    return bytes(out)


def _decoded_name(read: NameReader, pos: int, end: int) -> tuple[str, int]:
    name, after = read(pos)
    if after > end:
        raise RdataError("a name runs past its record")
    return name or ".", after


def _exact(after: int, end: int, type_: str) -> None:
    if after != end:
        raise RdataError(f"{type_} record has {end - after} bytes too many")


def _parse_target(text: str) -> str:
    name = _name(text, f"target {text!r}")
    if name == ".":
        raise InvalidInput(f"target {text!r}: the root is no target")
    return name


def _wire_target(value: str) -> bytes:
    return name_wire(value)


def _decode_target(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    name, after = _decoded_name(read, pos, end)
    _exact(after, end, "name")
    return name


# --- addresses ------------------------------------------------------------


def _octets(text: str) -> bytes | None:
    """A dotted quad's four bytes, or None for any other text.

    The same strict form ``ipaddress.IPv4Address`` accepts (four decimal
    octets, no leading zeros), without its cost: every A value of a plan is
    parsed and encoded, 10,000 of each at 10k records.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    out = []
    for part in parts:
        if not (part.isdigit() and part.isascii() and len(part) <= 3):
            return None
        if len(part) > 1 and part[0] == "0":
            return None
        value = int(part)
        if value > 255:
            return None
        out.append(value)
    return bytes(out)


def _parse_a(text: str) -> str:
    octets = _octets(text.strip())
    if octets is None:
        raise InvalidInput(f"{text!r} is not an IPv4 address")
    return f"{octets[0]}.{octets[1]}.{octets[2]}.{octets[3]}"


def _wire_a(value: str) -> bytes:
    octets = _octets(value)
    if octets is None:
        raise InvalidInput(f"{value!r} is not an IPv4 address")
    return octets


def _parse_aaaa(text: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text.strip()))
    except ValueError:
        raise InvalidInput(f"{text!r} is not an IPv6 address") from None


def _decode_a(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    if end - pos != 4:
        raise RdataError(f"A record has {end - pos} bytes")
    b = wire[pos:end]
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def _decode_aaaa(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    if end - pos != 16:
        raise RdataError(f"AAAA record has {end - pos} bytes")
    return str(ipaddress.IPv6Address(wire[pos:end]))


# --- numbers ----------------------------------------------------------------


def _number(field: str, what: str, limit: int) -> int:
    if not field.isdigit() or int(field) > limit:
        raise InvalidInput(f"{what} {field!r}: must be a whole number from 0 to {limit}")
    return int(field)


def _fields(text: str, names: tuple[str, ...], type_: str) -> list[str]:
    fields = text.split()
    if len(fields) != len(names):
        raise InvalidInput(
            f"{type_} value {text!r}: needs {len(names)} fields, "
            f"'{' '.join(names)}' (got {len(fields)})"
        )
    return fields


# --- MX -------------------------------------------------------------------------


def _parse_mx(text: str) -> str:
    pref, host = _fields(text, ("preference", "host"), "MX")
    return f"{_number(pref, 'MX preference', 0xFFFF)} {_name(host, f'MX host {host!r}')}"


def _wire_mx(value: str) -> bytes:
    pref, host = value.split(" ")
    return _U16.pack(int(pref)) + name_wire(host)


def _decode_mx(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    if end - pos < 3:
        raise RdataError("MX record too short")
    (pref,) = _U16.unpack_from(wire, pos)
    host, after = _decoded_name(read, pos + 2, end)
    _exact(after, end, "MX")
    return f"{pref} {host}"


# --- SRV ------------------------------------------------------------------------


def _parse_srv(text: str) -> str:
    fields = _fields(text, ("priority", "weight", "port", "target"), "SRV")
    numbers = [
        _number(f, f"SRV {what}", 0xFFFF)
        for f, what in zip(fields[:3], ("priority", "weight", "port"), strict=True)
    ]
    target = _name(fields[3], f"SRV target {fields[3]!r}")
    return f"{numbers[0]} {numbers[1]} {numbers[2]} {target}"


def _wire_srv(value: str) -> bytes:
    priority, weight, port, target = value.split(" ")
    return _SRV.pack(int(priority), int(weight), int(port)) + name_wire(target)


def _decode_srv(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    if end - pos < 7:
        raise RdataError("SRV record too short")
    priority, weight, port = _SRV.unpack_from(wire, pos)
    target, after = _decoded_name(read, pos + 6, end)
    _exact(after, end, "SRV")
    return f"{priority} {weight} {port} {target}"


# --- quoted strings (TXT, CAA) ----------------------------------------------------


def _quote(data: bytes) -> str:
    """Zone-file quoted form of one string: printable ASCII as is, the rest escaped."""
    out = ['"']
    for b in data:
        if b in _PRINTABLE:
            out.append(chr(b))
        elif b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        else:
            out.append(f"\\{b:03d}")
    out.append('"')
    return "".join(out)


def _unquote_all(text: str, what: str) -> list[bytes]:
    """The strings of zone-file text made of quoted strings only."""
    data = text.strip().encode("utf-8", "surrogateescape")
    strings: list[bytes] = []
    i, n = 0, len(data)
    while i < n:
        if data[i] in b" \t":
            i += 1
            continue
        if data[i] != 0x22:
            raise InvalidInput(f"{what}: expected a quoted string at {data[i : i + 10]!r}")
        i += 1
        out = bytearray()
        while True:
            if i >= n:
                raise InvalidInput(f"{what}: a quoted string is not closed")
            b = data[i]
            if b == 0x22:
                i += 1
                break
            if b == 0x5C:
                digits = data[i + 1 : i + 4]
                if len(digits) == 3 and digits.isdigit():
                    if int(digits) > 255:
                        raise InvalidInput(f"{what}: escape \\{digits.decode()} is over 255")
                    out.append(int(digits))
                    i += 4
                    continue
                if i + 1 >= n:
                    raise InvalidInput(f"{what}: a trailing backslash escapes nothing")
                out.append(data[i + 1])
                i += 2
                continue
            out.append(b)
            i += 1
        strings.append(bytes(out))
    if not strings:
        raise InvalidInput(f"{what}: holds no string")
    return strings


# --- TXT --------------------------------------------------------------------------


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + MAX_STRING] for i in range(0, len(data), MAX_STRING)] or [b""]


def txt_strings(value: str) -> list[bytes]:
    """The character-strings of a canonical (or desired) TXT value."""
    if value.startswith('"'):
        return _unquote_all(value, f"TXT value {value[:40]!r}")
    return _chunks(value.encode("utf-8", "surrogateescape"))


def _txt_text(strings: list[bytes]) -> str:
    """The canonical text of a TXT record's strings (module docstring)."""
    data = b"".join(strings)
    if strings == _chunks(data) and not data.startswith(b'"'):
        return data.decode("utf-8", "surrogateescape")
    return " ".join(_quote(s) for s in strings)


def _parse_txt(text: str) -> str:
    strings = txt_strings(text)
    short = text if len(text) <= 40 else text[:37] + "..."
    for s in strings:
        if len(s) > MAX_STRING:
            raise InvalidInput(
                f"TXT value {short!r}: a quoted string holds {len(s)} bytes; at most "
                f"{MAX_STRING} (or give the content unquoted: it is split for you)"
            )
    size = sum(len(s) for s in strings)
    if size > MAX_TXT_BYTES:
        raise InvalidInput(
            f"TXT value {short!r}: {size} bytes; one value may hold at most {MAX_TXT_BYTES}"
        )
    return _txt_text(strings)


def _wire_txt(value: str) -> bytes:
    return b"".join(bytes([len(s)]) + s for s in txt_strings(value))


def _decode_txt(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    if pos < end and wire[pos] == end - pos - 1 and wire[pos + 1 : pos + 2] != b'"':
        # One string, the common case (ownership values): the content itself.
        return wire[pos + 1 : end].decode("utf-8", "surrogateescape")
    strings = []
    i = pos
    while i < end:
        length = wire[i]
        strings.append(wire[i + 1 : i + 1 + length])
        i += 1 + length
    if i != end:
        raise RdataError("TXT string runs past its record")
    return _txt_text(strings or [b""])


def _show_txt(value: str) -> str:
    return value if value.startswith('"') else _quote(value.encode("utf-8", "surrogateescape"))


# --- CAA --------------------------------------------------------------------------


def _parse_caa(text: str) -> str:
    parts = text.strip().split(None, 2)
    if len(parts) != 3:
        raise InvalidInput(
            f"CAA value {text!r}: needs 3 fields, 'flags tag value' (got {len(parts)})"
        )
    flags, tag, value = parts
    if not flags.isdigit() or int(flags) not in _CAA_FLAGS:
        raise InvalidInput(
            f"CAA value {text!r}: flags {flags!r} are unknown; RFC 8659 defines 0 and "
            "128 (issuer critical)"
        )
    if not _CAA_TAG.match(tag):
        raise InvalidInput(f"CAA value {text!r}: tag {tag!r} must be 1-15 letters or digits")
    if value.startswith('"'):
        strings = _unquote_all(value, f"CAA value {text!r}")
        if len(strings) != 1:
            raise InvalidInput(f"CAA value {text!r}: the value must be one quoted string")
        data = strings[0]
    else:
        if any(c.isspace() for c in value):
            raise InvalidInput(f"CAA value {text!r}: quote a value that holds spaces")
        data = value.encode("utf-8", "surrogateescape")
    return f"{int(flags)} {tag.lower()} {_quote(data)}"


def _wire_caa(value: str) -> bytes:
    flags, tag, quoted = value.split(" ", 2)
    (data,) = _unquote_all(quoted, "CAA value")
    return bytes([int(flags), len(tag)]) + tag.encode("ascii") + data


def _decode_caa(wire: bytes, pos: int, end: int, read: NameReader) -> str:
    if end - pos < 2 or pos + 2 + wire[pos + 1] > end:
        raise RdataError("CAA record too short")
    flags, length = wire[pos], wire[pos + 1]
    tag = wire[pos + 2 : pos + 2 + length]
    try:
        text = tag.decode("ascii").lower()
    except UnicodeDecodeError:
        raise RdataError("CAA tag is not ASCII") from None
    return f"{flags} {text} {_quote(wire[pos + 2 + length : end])}"


# --- the table ------------------------------------------------------------------


TYPES: Mapping[str, RecordType] = MappingProxyType(
    {
        t.name: t
        for t in (
            RecordType("A", 1, _parse_a, _wire_a, _decode_a),
            RecordType(
                "AAAA", 28, _parse_aaaa, lambda v: ipaddress.IPv6Address(v).packed, _decode_aaaa
            ),
            RecordType("CNAME", 5, _parse_target, _wire_target, _decode_target, single=True),
            RecordType("TXT", 16, _parse_txt, _wire_txt, _decode_txt, show=_show_txt),
            RecordType("MX", 15, _parse_mx, _wire_mx, _decode_mx),
            RecordType("SRV", 33, _parse_srv, _wire_srv, _decode_srv),
            RecordType("CAA", 257, _parse_caa, _wire_caa, _decode_caa),
            RecordType(
                "NS",
                2,
                _parse_target,
                _wire_target,
                _decode_target,
                at_apex=False,
                delegates=True,
            ),
            RecordType("PTR", 12, _parse_target, _wire_target, _decode_target),
        )
    }
)
#: Type code -> entry, for the zone reader.
BY_CODE: Mapping[int, RecordType] = MappingProxyType({t.code: t for t in TYPES.values()})


def parse_values(type_: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """Canonical, sorted, unique values of one desired record set.

    Raises :class:`InvalidInput` with one line naming the first bad value,
    an unknown type, or a set too large for one UPDATE message.
    """
    rtype = TYPES.get(type_)
    if rtype is None:
        raise InvalidInput(f"record type {type_!r} is not supported ({', '.join(TYPES)} are)")
    canonical = tuple(sorted({rtype.parse(v) for v in values}))
    size = sum(len(rtype.wire(v)) for v in canonical)
    if size > MAX_RRSET_BYTES:
        raise InvalidInput(
            f"the {type_} values add up to {size} bytes; a record set may hold at most "
            f"{MAX_RRSET_BYTES}"
        )
    return canonical


def wire(type_: str, value: str) -> bytes:
    """The RDATA of a canonical value."""
    return TYPES[type_].wire(value)


def show(type_: str, value: str) -> str:
    """A canonical value as the plan table prints it."""
    rtype = TYPES.get(type_)
    return value if rtype is None else rtype.show(value)


def safe_wire(type_: str, value: str) -> bytes | None:
    """The RDATA of a value, or None if it cannot be written (for size estimates)."""
    try:
        return wire(type_, value)
    except (KeyError, ValueError, InvalidInput, dns.exception.DNSException):
        return None
