"""external-dns annotations: the prefix, the lists, and what each value means.

Pure: no I/O, no clock, no env.  Every converter reads its object's
annotations through this module (by way of :mod:`dnssync.sources.convert`),
so all kinds apply one set of rules:

* **Prefix.**  Annotations are read under exactly one prefix per target,
  ``SourceOptions.annotation_prefix``, as external-dns v0.22's
  ``--annotation-prefix`` (default ``external-dns.kubernetes.io/``); there is
  no fallback to ``external-dns.alpha.kubernetes.io/``, so a cluster that
  external-dns reads with the alpha prefix sets it here too, and leftover
  annotations under the other prefix are ignored by both tools alike.
* **Filter.**  :func:`dnssync.sources.selector.parse_filter` reads the
  Kubernetes label-selector syntax external-dns uses for
  ``--annotation-filter``, matched against the annotations exactly as written
  (full keys, no prefix aliasing).
* **Controller.**  As in external-dns, an object whose ``controller``
  annotation is set to anything but ``dns-controller`` is not ours.
* **Lists.**  ``hostname`` and ``target`` are comma-separated; blanks around
  items are stripped and empty items (a trailing comma) are skipped.
  external-dns deletes *every* space, so ``"a b.example"`` became
  ``ab.example``; here it is reported as an invalid name instead.
* **Targets.**  IPv4 -> A, IPv6 -> AAAA (compressed form), anything else a
  host name -> CNAME.  An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is
  the IPv4 address, as Go's ``net.ParseIP`` sees it.  A name whose last label
  is all digits is refused: no top-level domain is, so it is a mistyped IP.
* **One type per name.**  A name can't hold a CNAME beside A/AAAA, and a CNAME
  holds exactly one target.  external-dns would emit both (and let the
  provider fail); here a target list that mixes host names with IPs, or holds
  several host names, is an error.  In ``status.loadBalancer.ingress`` a
  controller may report an IP and its host name together: there the IPs win
  (external-dns's own conflict rule prefers IPs over host names), because the
  object's author cannot fix that status.

What one bad value costs (``Conversion.errors`` always says which value, so
each one is still reported as an Event, a log line and a metric), annotation
by annotation as in external-dns:

* ``ttl``: the default TTL is used (external-dns logs it and uses "not
  configured");
* ``ingress-hostname-source``: ignored, every host source is used (as in
  external-dns);
* a non-string annotation value (only a manifest can hold one): that
  annotation is ignored;
* one bad host name among several: only that name is skipped; the others
  are still published;
* ``target`` (or a malformed target in the status or the defaults): the
  names it serves get nothing, since every one of their records depends on
  it -- external-dns would hand the bad text to the provider, which fails.
* the same name asked for with incompatible targets (Service ``hostname`` and
  ``internal-hostname`` resolving to a CNAME and an IP), or a CNAME to itself:
  only that name is skipped.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from typing import Final

from dnssync import names
from dnssync.errors import InvalidInput
from dnssync.sources.durations import go_duration_ns

#: external-dns v0.22's default ``--annotation-prefix``.
DEFAULT_PREFIX: Final = "external-dns.kubernetes.io/"
#: The prefix of external-dns before v0.22 (and of the seed's cluster).
ALPHA_PREFIX: Final = "external-dns.alpha.kubernetes.io/"

#: external-dns's ``controller`` annotation value that means "ours".
CONTROLLER_VALUE: Final = "dns-controller"

TTL_MIN: Final = 1
TTL_MAX: Final = 2**31 - 1  # external-dns: math.MaxInt32


# --- reading annotations ----------------------------------------------------


def find(
    annotations: Mapping[str, str], key: str, prefix: str = DEFAULT_PREFIX
) -> tuple[str, str] | None:
    """``(full annotation name, value)`` for ``key`` under ``prefix``, if set."""
    full = prefix + key
    value = annotations.get(full)
    return None if value is None else (full, value)


def get(annotations: Mapping[str, str], key: str, prefix: str = DEFAULT_PREFIX) -> str | None:
    """The value of ``key`` (``hostname``, ``target``, ``ttl``...) under ``prefix``."""
    return annotations.get(prefix + key)


def split_list(text: str) -> list[str]:
    """Items of a comma-separated annotation, stripped, empty items dropped."""
    return [item for item in (part.strip() for part in text.split(",")) if item]


_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_TTL_HINT = 'use whole seconds ("300") or a duration ("5m", "1h30m")'


def parse_ttl(text: str, *, where: str) -> int:
    """Seconds from an integer or Go duration text, like external-dns.

    ``"600"`` and ``"10m"`` are the same TTL; a fraction of a second is dropped
    (``"1.5s"`` is 1).  The result must be 1..2147483647.
    """
    s = text.strip()
    seconds: int | None = None
    ns = go_duration_ns(s) if s else None
    if ns is not None:
        seconds = abs(ns) // 10**9 * (-1 if ns < 0 else 1)  # Go truncates toward zero
    elif _INTEGER.match(s):
        seconds = int(s)
    if seconds is None:
        raise InvalidInput(f"{text!r} is not a valid TTL: {_TTL_HINT}", where=where)
    if not TTL_MIN <= seconds <= TTL_MAX:
        raise InvalidInput(
            f"TTL {text!r} is {seconds} seconds; it must be between {TTL_MIN} and {TTL_MAX}",
            where=where,
        )
    return seconds


@functools.lru_cache(maxsize=4096)
def _classify_target(raw: str) -> tuple[str, str, type[InvalidInput] | None]:
    """``(type, value, None)``, or ``("", reason, error class)``.

    Cached: most objects share a few targets (the ingress controller's
    address), and parsing an address costs more than the rest of a Service.
    """
    if not raw:
        return "", "empty target", InvalidInput
    candidate = raw[:-1] if raw.endswith(".") else raw
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        if isinstance(address, ipaddress.IPv4Address):
            return "A", str(address), None
        if address.scope_id is not None:
            reason = f"target {raw!r}: an address with a zone index can't be published"
            return "", reason, InvalidInput
        if address.ipv4_mapped is not None:
            return "A", str(address.ipv4_mapped), None
        return "AAAA", str(address), None
    try:
        host = names.normalize(raw, underscore=True, wildcard=False)
    except InvalidInput as e:
        return "", e.message, type(e)
    if host.rsplit(".", 1)[-1].isdigit():
        reason = (
            f"target {raw!r} is neither an IP address nor a host name "
            "(a top-level label is never all digits)"
        )
        return "", reason, InvalidInput
    return "CNAME", host, None


def parse_target(text: str, *, where: str) -> tuple[str, str]:
    """``(type, canonical value)`` of one target: an IP address or a host name."""
    type_, value, error = _classify_target(text.strip())
    if error is not None:
        raise error(value, where=where)
    return type_, value


def parse_targets(text: str, *, where: str) -> list[tuple[str, str]]:
    """Comma-separated targets as ``(type, value)``; raises on the first bad one."""
    return [parse_target(item, where=where) for item in split_list(text)]


def parse_hostname(text: str, *, where: str) -> str:
    """One host name (a leading ``*`` label allowed), canonical, or :class:`InvalidName`."""
    return names.normalize(text, where=where, wildcard=True)


def parse_hostnames(text: str, *, where: str) -> list[str]:
    """Comma-separated host names, canonical; raises on the first bad one."""
    return [parse_hostname(item, where=where) for item in split_list(text)]
