"""DNSEndpoint (external-dns's CRD, ``externaldns.k8s.io/v1alpha1``) -> endpoints.  Pure.

A DNSEndpoint lists its records outright: each ``spec.endpoints[]`` entry is
one record set, ``dnsName`` / ``recordType`` / ``targets`` / ``recordTTL``,
in external-dns's schema exactly (``config/crd/dnsendpoints.externaldns.k8s.io.yaml``).
Every type of :mod:`dnssync.rtypes` may be asked for (TXT, MX, SRV, CAA, NS,
PTR besides A/AAAA/CNAME; the target's ``managed_record_types`` still decides
what is written), targets in the canonical text that module defines -- which
is what external-dns's users write (``10 mail.example.org``, ``0 5 443 host``,
TXT content as it is).

The object as a whole goes through the annotation filter, as in external-dns;
no other annotation is read (a DNSEndpoint names its records itself).  Each
entry stands alone, as external-dns checks its targets per entry: a bad one
is one error naming ``spec.endpoints[i]`` and is left out; the others are
still published.

* ``dnsName`` missing or invalid, ``recordType`` missing or of a type dnssync
  does not write (NAPTR, DNAME...), a target that does not parse for its type
  (``1.2.3.4.`` for A, as external-dns refuses it), a CNAME with several
  targets: the entry is skipped.
* No targets for A/AAAA/CNAME: the target's default targets, as external-dns
  lets such an entry through for ``--default-targets``; none configured: an
  error.  No targets for another type: an error.
* ``recordTTL`` 0 or missing: the default TTL; out of range or not a number:
  reported, and the default TTL is used (as for the ``ttl`` annotation).
* ``labels``, ``setIdentifier`` and ``providerSpecific`` mean nothing to an
  RFC 2136 server: reported once per entry as ignored (:class:`~dnssync.errors.Ignored`:
  no record is missing, so it holds no delete back); the record is published.
* The same name and type in two entries: their targets are merged (as
  external-dns merges them); a differing TTL is reported and the first kept.

dnssync writes ``status.observedGeneration`` after a successful apply, as
external-dns does (see :mod:`dnssync.kube.status`); the converter reads no
status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from dnssync import names
from dnssync.errors import Ignored, InvalidInput
from dnssync.model import Endpoint, ObjectRef
from dnssync.rtypes import TYPES, parse_values
from dnssync.sources.annotations import TTL_MAX, parse_target
from dnssync.sources.convert import (
    NOT_SELECTED,
    Conversion,
    ObjectWork,
    SourceOptions,
    mapping,
    sequence,
)

KIND: Final = "crd"
#: Types whose empty target list takes the default targets (external-dns's --default-targets).
_DEFAULTABLE: Final = frozenset({"A", "AAAA", "CNAME"})
#: Fields an RFC 2136 server has no use for, and why each is ignored.
_IGNORED: Final = (
    ("labels", "ignored: dnssync writes its own ownership records, without extra labels"),
    ("setIdentifier", "ignored: RFC 2136 has no routing policies to tell record sets apart"),
    ("providerSpecific", "ignored: no provider-specific property applies to RFC 2136"),
)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One accepted ``spec.endpoints[]`` entry."""

    name: str
    type: str
    targets: tuple[str, ...]
    ttl: int | None
    place: str


def _identify(obj: object, options: SourceOptions) -> ObjectWork | Conversion:
    """Identity and the annotation filter; the object's work, or a finished conversion."""
    if not isinstance(obj, Mapping):
        return Conversion((), (InvalidInput("a DNSEndpoint must be a mapping", where=KIND),), True)
    meta = mapping(obj.get("metadata"))
    annotations = {
        k: v
        for k, v in mapping(meta.get("annotations")).items()
        if isinstance(k, str) and isinstance(v, str)
    }
    if options.annotation_filter is not None and not options.annotation_filter.matches(annotations):
        return NOT_SELECTED
    name, namespace = meta.get("name"), meta.get("namespace") or "default"
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        message = "metadata.name and metadata.namespace must be non-empty strings"
        return Conversion((), (InvalidInput(message, where=f"{KIND} {namespace}/{name}"),), True)
    return ObjectWork(ObjectRef(KIND, namespace, name), annotations, options)


def _ttl(work: ObjectWork, raw: object, place: str) -> int | None:
    """``recordTTL``: None (the default) for 0 or missing; reported and None when bad."""
    if raw is None or raw == 0:
        return work.options.default_ttl
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= TTL_MAX:
        work.error(
            f"{raw!r} is not a TTL (whole seconds, 1 to {TTL_MAX}); the default TTL is used",
            f"{place}.recordTTL",
        )
        return work.options.default_ttl
    return raw


def _targets(work: ObjectWork, type_: str, raw: object, place: str) -> tuple[str, ...] | None:
    """The entry's canonical targets (defaults for an empty A/AAAA/CNAME); None when bad."""
    items = sequence(raw)
    if any(not isinstance(t, str) for t in items) or not isinstance(raw, list | tuple | None):
        work.error("targets must be a list of strings", f"{place}.targets")
        return None
    values: list[str] = list(items)
    if not values and type_ in _DEFAULTABLE:
        values = [v for text in work.options.default_targets for v in _default(work, text, type_)]
    if not values:
        work.error(f"no targets for a {type_} record", f"{place}.targets")
        return None
    try:
        canonical = parse_values(type_, tuple(values))
    except InvalidInput as e:
        work.error(e.message, f"{place}.targets")
        return None
    if type_ == "CNAME" and len(canonical) > 1:
        work.error(f"{len(canonical)} targets; a CNAME holds exactly one", f"{place}.targets")
        return None
    return canonical


def _default(work: ObjectWork, text: str, type_: str) -> list[str]:
    """A default target if it is of ``type_`` (an A entry takes only the IPv4 defaults)."""
    try:
        found_type, value = parse_target(text, where=work.at("default target"))
    except InvalidInput as e:
        work.errors.append(e)
        return []
    return [value] if found_type == type_ else []


def _entry(work: ObjectWork, raw: object, place: str) -> _Entry | None:
    """One ``spec.endpoints[]`` entry checked; None (and errors) when it is left out."""
    entry = mapping(raw)
    if not entry:
        work.error("an entry must be a mapping with dnsName and recordType", place)
        return None
    for field, why in _IGNORED:
        if entry.get(field):
            work.errors.append(Ignored(why, where=work.at(f"{place}.{field}")))
    dns_name, type_raw = entry.get("dnsName"), entry.get("recordType")
    if not isinstance(dns_name, str) or not dns_name:
        work.error("dnsName must be a non-empty string", f"{place}.dnsName")
        return None
    type_ = type_raw.strip().upper() if isinstance(type_raw, str) else ""
    if type_ not in TYPES:
        work.error(
            f"record type {type_raw!r} is not supported ({', '.join(TYPES)} are)",
            f"{place}.recordType",
        )
        return None
    try:
        # Underscore labels: service names (``_sip._tcp.example.org`` for SRV).
        name = names.normalize(dns_name, where=work.at(f"{place}.dnsName"), underscore=True)
    except InvalidInput as e:
        work.errors.append(e)
        return None
    targets = _targets(work, type_, entry.get("targets"), place)
    if targets is None:
        return None
    return _Entry(name, type_, targets, _ttl(work, entry.get("recordTTL"), place), place)


def _merge(work: ObjectWork, entries: list[_Entry]) -> tuple[Endpoint, ...]:
    """One endpoint per name and type; entries asking for the same one are merged."""
    merged: dict[tuple[str, str], tuple[set[str], int | None, str]] = {}
    for e in entries:
        slot = merged.get((e.name, e.type))
        if slot is None:
            merged[(e.name, e.type)] = (set(e.targets), e.ttl, e.place)
            continue
        slot[0].update(e.targets)
        if e.ttl != slot[1]:
            work.error(
                f"{e.name} {e.type} is also in {slot[2]} with TTL {slot[1]}; that TTL is kept",
                f"{e.place}.recordTTL",
            )
    return tuple(
        Endpoint(name, type_, tuple(sorted(values)), work.ref, ttl)
        for (name, type_), (values, ttl, _) in sorted(merged.items())
    )


def dnsendpoint_endpoints(obj: Mapping[str, Any], options: SourceOptions) -> Conversion:
    """The record sets one DNSEndpoint (raw API JSON) asks for; never raises."""
    started = _identify(obj, options)
    if isinstance(started, Conversion):
        return started
    work = started
    raw = mapping(obj.get("spec")).get("endpoints")
    if raw is not None and not isinstance(raw, list | tuple):
        work.error("spec.endpoints must be a list", "spec.endpoints")
    entries = [
        found
        for i, item in enumerate(sequence(raw))
        if (found := _entry(work, item, f"spec.endpoints[{i}]")) is not None
    ]
    return Conversion(_merge(work, entries), tuple(work.errors), True)
