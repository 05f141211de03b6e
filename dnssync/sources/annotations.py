"""external-dns annotations, the opt-in filter, and what the converters share.

Pure: no I/O, no clock, no env.  The Service and Ingress converters
(:mod:`dnssync.sources.services`, :mod:`dnssync.sources.ingresses`) read raw
Kubernetes JSON objects through the helpers at the end of this module, so both
apply one set of rules:

* **Prefix.**  Annotations are read under exactly one prefix per target,
  ``SourceOptions.annotation_prefix``, as external-dns v0.22's
  ``--annotation-prefix`` (default ``external-dns.kubernetes.io/``); there is
  no fallback to ``external-dns.alpha.kubernetes.io/``, so a cluster that
  external-dns reads with the alpha prefix sets it here too, and leftover
  annotations under the other prefix are ignored by both tools alike.
* **Filter.**  :func:`parse_filter` reads the Kubernetes label-selector syntax
  external-dns uses for ``--annotation-filter``, matched against the
  annotations exactly as written (full keys, no prefix aliasing).
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from dnssync import names
from dnssync.errors import ConfigError, InvalidInput
from dnssync.model import Endpoint, ObjectRef

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


# --- the annotation filter ----------------------------------------------------

# Kubernetes label-selector grammar (k8s.io/apimachinery/pkg/labels).  Keys are
# qualified names, values label values; both are checked as Kubernetes does, so
# a filter external-dns refuses is refused here too.
_NAME_PART = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SPECIAL = "!=<>(),"

EXISTS: Final = "exists"
NOT_EXISTS: Final = "!"
EQUALS: Final = "="
NOT_EQUALS: Final = "!="
IN: Final = "in"
NOT_IN: Final = "notin"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One clause of a filter: ``key <operator> values``."""

    key: str
    operator: str  # one of EXISTS, NOT_EXISTS, EQUALS, NOT_EQUALS, IN, NOT_IN
    values: tuple[str, ...] = ()

    def matches(self, annotations: Mapping[str, str]) -> bool:
        value = annotations.get(self.key)
        if self.operator == EXISTS:
            return value is not None
        if self.operator == NOT_EXISTS:
            return value is None
        if self.operator in (EQUALS, IN):
            return value is not None and value in self.values
        # != and notin match objects without the key, as in Kubernetes.
        return value is None or value not in self.values


@dataclass(frozen=True, slots=True)
class AnnotationFilter:
    """A parsed label selector over annotations; every requirement must hold."""

    requirements: tuple[Requirement, ...] = ()
    text: str = ""

    def matches(self, annotations: Mapping[str, str]) -> bool:
        return all(r.matches(annotations) for r in self.requirements)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "id", "eos", or the operator / punctuation itself
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in _SPECIAL:
            two = text[i : i + 2]
            if two in ("!=", "=="):
                tokens.append(_Token(two, two, i))
                i += 2
            else:
                tokens.append(_Token(c, c, i))
                i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            word = text[start:i]
            # As in Kubernetes, "in" and "notin" are keywords, never keys or values.
            tokens.append(_Token(word if word in (IN, NOT_IN) else "id", word, start))
    tokens.append(_Token("eos", "", n))
    return tokens


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def fail(self, token: _Token, reason: str) -> ConfigError:
        return ConfigError(
            f"annotation filter {self.text!r}: at character {token.pos + 1}: {reason}"
        )

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "eos":
            self.i += 1
        return token

    @staticmethod
    def shown(token: _Token) -> str:
        return "the end" if token.kind == "eos" else repr(token.text)

    def parse(self) -> AnnotationFilter:
        requirements: list[Requirement] = []
        if self.peek().kind == "eos":
            return AnnotationFilter((), self.text)
        while True:
            requirements.append(self.requirement())
            token = self.next()
            if token.kind == "eos":
                break
            if token.kind != ",":
                raise self.fail(token, f"found {self.shown(token)}, expected ',' or the end")
            if self.peek().kind == "eos":
                raise self.fail(self.peek(), "expected a requirement after ','")
        return AnnotationFilter(tuple(requirements), self.text)

    def key(self) -> str:
        token = self.next()
        if token.kind != "id":
            raise self.fail(token, f"found {self.shown(token)}, expected an annotation name")
        reason = _key_problem(token.text)
        if reason:
            raise self.fail(token, f"invalid annotation name {token.text!r}: {reason}")
        return token.text

    def requirement(self) -> Requirement:
        if self.peek().kind == "!":
            self.next()
            key = self.key()
            if self.peek().kind not in (",", "eos"):
                token = self.peek()
                raise self.fail(token, f"found {self.shown(token)}, expected ',' after '!{key}'")
            return Requirement(key, NOT_EXISTS)
        key = self.key()
        if self.peek().kind in (",", "eos"):
            return Requirement(key, EXISTS)
        token = self.next()
        if token.kind in ("=", "=="):
            return Requirement(key, EQUALS, (self.exact_value(),))
        if token.kind == "!=":
            return Requirement(key, NOT_EQUALS, (self.exact_value(),))
        if token.kind in (IN, NOT_IN):
            return Requirement(key, token.kind, self.value_set())
        if token.kind in ("<", ">"):
            raise self.fail(
                token, f"operator {token.text!r} is not supported in annotation filters"
            )
        raise self.fail(
            token, f"found {self.shown(token)}, expected an operator (=, ==, !=, in, notin)"
        )

    def value(self, token: _Token) -> str:
        if not _LABEL_VALUE.match(token.text) or len(token.text) > 63:
            raise self.fail(
                token,
                f"invalid value {token.text!r}: at most 63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit",
            )
        return token.text

    def exact_value(self) -> str:
        token = self.peek()
        if token.kind in (",", "eos"):
            return ""  # `key=` asks for an empty value, as in Kubernetes
        if token.kind != "id":
            raise self.fail(token, f"found {self.shown(token)}, expected a value")
        return self.value(self.next())

    def value_set(self) -> tuple[str, ...]:
        opening = self.next()
        if opening.kind != "(":
            raise self.fail(opening, f"found {self.shown(opening)}, expected '('")
        values: list[str] = []
        if self.peek().kind == ")":
            raise self.fail(self.peek(), "the value list of 'in' / 'notin' can't be empty")
        while True:
            token = self.next()
            if token.kind == "id":
                values.append(self.value(token))
                token = self.next()
            else:
                values.append("")  # `(a,)` or `(,a)`: an empty value, as in Kubernetes
            if token.kind == ")":
                break
            if token.kind != ",":
                raise self.fail(token, f"found {self.shown(token)}, expected ',' or ')'")
            if self.peek().kind == ")":
                values.append("")
                self.next()
                break
        return tuple(dict.fromkeys(values))


def _key_problem(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "the prefix before '/' is empty"
        if len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix):
            return "the prefix before '/' must be a lower-case DNS subdomain"
    if not name:
        return "the name part is empty"
    if len(name) > 63:
        return "the name part is longer than 63 characters"
    if not _NAME_PART.match(name):
        return (
            "the name part may hold letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return ""


def parse_filter(text: str) -> AnnotationFilter:
    """Parse a Kubernetes label selector over annotations, or raise :class:`ConfigError`.

    Operators: ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``,
    ``key notin (a,b)``, ``key``, ``!key``; a comma means AND.  An empty text
    matches every object.
    """
    return _FilterParser(text).parse()


# --- values ---------------------------------------------------------------------

_DURATION_UNITS: Final = {
    "ns": 1,
    "us": 10**3,
    "\u00b5s": 10**3,  # micro sign
    "\u03bcs": 10**3,  # Greek mu
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_TTL_HINT = 'use whole seconds ("300") or a duration ("5m", "1h30m")'


def _go_duration_ns(text: str) -> int | None:
    """Nanoseconds of a Go ``time.ParseDuration`` text, or None if Go refuses it."""
    s = text
    negative = False
    if s[:1] in ("+", "-"):
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or m.end() == pos:
            return None
        whole, fraction, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not fraction:
            return None  # Go: no digits at all ("." or ".s")
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            return None  # missing or unknown unit
        total += int(whole or "0") * scale
        if fraction:
            # Go drops what is below one nanosecond.
            total += int(fraction) * scale // 10 ** len(fraction)
        pos = m.end()
    if total > 2**63 - (0 if negative else 1):
        return None  # Go: overflows time.Duration
    return -total if negative else total


def parse_ttl(text: str, *, where: str) -> int:
    """Seconds from an integer or Go duration text, like external-dns.

    ``"600"`` and ``"10m"`` are the same TTL; a fraction of a second is dropped
    (``"1.5s"`` is 1).  The result must be 1..2147483647.
    """
    s = text.strip()
    seconds: int | None = None
    ns = _go_duration_ns(s) if s else None
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


# --- what the converters take and give ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How objects become endpoints; one set per target, built from the config."""

    annotation_filter: AnnotationFilter | None = None
    #: Used when an object has no target annotation and no status (manifests).
    default_targets: tuple[str, ...] = ()
    #: Publish ``spec.tls[].hosts`` of Ingresses (external-dns: --ignore-ingress-tls-spec).
    ingress_tls_hosts: bool = True
    #: Publish ``spec.rules[].host`` of Ingresses (external-dns: --ignore-ingress-rules-spec).
    ingress_rule_hosts: bool = True
    #: ClusterIP Services publish their cluster IPs (external-dns --publish-internal-services).
    publish_internal: bool = False
    default_ttl: int | None = None
    #: external-dns's ``--annotation-prefix``: the one prefix annotations are read under.
    annotation_prefix: str = DEFAULT_PREFIX


@dataclass(frozen=True, slots=True)
class Conversion:
    """What one object asks for, and every problem found on the way."""

    endpoints: tuple[Endpoint, ...]
    errors: tuple[InvalidInput, ...]
    #: False when the object is not ours (filter, controller annotation, no names
    #: without a filter); nothing is produced then and nothing is reported.
    selected: bool


NOT_SELECTED: Final = Conversion((), (), False)


# --- shared by the Service and Ingress converters ------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


@dataclass(slots=True)
class ObjectWork:
    """One object being converted: its identity, annotations and errors so far."""

    ref: ObjectRef
    annotations: dict[str, str]
    options: SourceOptions
    errors: list[InvalidInput] = field(default_factory=list)
    ttl: int | None = None
    #: Targets from the ``target`` annotation, or None when it is absent or empty.
    annotation_targets: list[tuple[str, str]] | None = None

    @property
    def label(self) -> str:
        return f"{self.ref.kind} {self.ref.namespace}/{self.ref.name}"

    def at(self, place: str) -> str:
        """``where`` text for a field of this object."""
        return f"{self.label}: {place}"

    def annotation(self, key: str) -> tuple[str, str] | None:
        return find(self.annotations, key, self.options.annotation_prefix)

    def key(self, key: str) -> str:
        """The full annotation name of ``key``, for messages."""
        return self.options.annotation_prefix + key

    def error(self, message: str, place: str = "") -> None:
        self.errors.append(InvalidInput(message, where=self.at(place) if place else self.label))

    def failed(self) -> Conversion:
        """The object produces nothing; its errors are reported."""
        return Conversion((), tuple(self.errors), True)

    def hostnames_from(self, key: str) -> list[str] | None:
        """Valid names of a hostname-style annotation; None when it is absent.

        Bad items are reported and skipped; the good ones still count.
        """
        found = self.annotation(key)
        if found is None:
            return None
        full, value = found
        items = split_list(value)
        if not items:
            self.error(f"{value!r} holds no host name", f"annotation {full}")
        hosts: list[str] = []
        for item in items:
            try:
                hosts.append(parse_hostname(item, where=self.at(f"annotation {full}")))
            except InvalidInput as e:
                self.errors.append(e)
        return hosts

    def host_field(self, value: object, place: str) -> str | None:
        """A host name from a spec field; an empty one is skipped quietly."""
        if value is None or value == "":
            return None  # a rule without host is a catch-all, as in external-dns
        if not isinstance(value, str):
            self.error(f"{value!r} is not a string", place)
            return None
        try:
            return parse_hostname(value, where=self.at(place))
        except InvalidInput as e:
            self.errors.append(e)
            return None

    def status_targets(self, obj: Mapping[str, Any]) -> list[tuple[str, str]] | None:
        """Targets from ``status.loadBalancer.ingress``; None if a value is bad."""
        entries = _sequence(
            _mapping(_mapping(obj.get("status")).get("loadBalancer")).get("ingress")
        )
        ips: list[tuple[str, str]] = []
        hosts: list[tuple[str, str]] = []
        ok = True
        for i, entry in enumerate(entries):
            entry = _mapping(entry)
            for field_name, bucket in (("ip", ips), ("hostname", hosts)):
                value = entry.get(field_name)
                if value in (None, ""):
                    continue
                place = f"status.loadBalancer.ingress[{i}].{field_name}"
                if not isinstance(value, str):
                    self.error(f"{value!r} is not a string", place)
                    ok = False
                    continue
                try:
                    bucket.append(parse_target(value, where=self.at(place)))
                except InvalidInput as e:
                    self.errors.append(e)
                    ok = False
        if not ok:
            return None
        # A controller may list an address and its host name: the address wins.
        return ips or hosts

    def default_targets(self) -> list[tuple[str, str]] | None:
        """``options.default_targets`` parsed; None (and errors) if one is bad."""
        targets: list[tuple[str, str]] = []
        for text in self.options.default_targets:
            try:
                targets.append(parse_target(text, where=self.at("default target")))
            except InvalidInput as e:
                self.errors.append(e)
                return None
        return targets

    def group(
        self, targets: Iterable[tuple[str, str]], origin: str
    ) -> dict[str, tuple[str, ...]] | None:
        """Targets by record type; None (and an error) if they can't share one name."""
        by_type: dict[str, set[str]] = {}
        for type_, value in targets:
            by_type.setdefault(type_, set()).add(value)
        cnames = by_type.get("CNAME", set())
        if cnames and len(by_type) > 1:
            addresses = sorted(by_type.get("A", set()) | by_type.get("AAAA", set()))
            self.error(
                f"targets mix host names {sorted(cnames)} with IP addresses {addresses}; "
                "a name can't hold a CNAME beside A/AAAA records",
                origin,
            )
            return None
        if len(cnames) > 1:
            self.error(
                f"{len(cnames)} host name targets {sorted(cnames)}; a CNAME holds exactly one",
                origin,
            )
            return None
        return {t: tuple(sorted(v)) for t, v in by_type.items()}

    def endpoints(self, wanted: Iterable[tuple[str, Mapping[str, tuple[str, ...]]]]) -> Conversion:
        """One endpoint per (name, type) from ``(name, targets by type)`` pairs."""
        merged: dict[str, dict[str, set[str]]] = {}
        for name, by_type in wanted:
            slot = merged.setdefault(name, {})
            for type_, values in by_type.items():
                slot.setdefault(type_, set()).update(values)
        result: list[Endpoint] = []
        for name in sorted(merged):
            slot = merged[name]
            if "CNAME" in slot and (len(slot) > 1 or len(slot["CNAME"]) > 1):
                asked = "; ".join(f"{t} {', '.join(sorted(v))}" for t, v in sorted(slot.items()))
                self.error(
                    f"{name} is asked for with incompatible targets ({asked}); it is skipped"
                )
                continue
            if slot.get("CNAME") == {name}:
                self.error(f"{name} would be a CNAME to itself; it is skipped")
                continue
            for type_ in sorted(slot):
                values = tuple(sorted(slot[type_]))
                if values:
                    result.append(Endpoint(name, type_, values, self.ref, self.ttl))
        return Conversion(tuple(result), tuple(self.errors), True)


def begin(obj: object, kind: str, options: SourceOptions) -> ObjectWork | Conversion:
    """Identity, filter, and the annotations every endpoint depends on.

    Returns a finished :class:`Conversion` when the object is not ours or
    can't produce anything, else the work to continue with.
    """
    if not isinstance(obj, Mapping):
        return Conversion((), (InvalidInput(f"a {kind} must be a mapping", where=kind),), True)
    meta = _mapping(obj.get("metadata"))
    name = meta.get("name")
    namespace = meta.get("namespace") or "default"
    raw_annotations = _mapping(meta.get("annotations"))
    annotations = {
        k: v for k, v in raw_annotations.items() if isinstance(k, str) and isinstance(v, str)
    }
    options_filter = options.annotation_filter
    if options_filter is not None and not options_filter.matches(annotations):
        return NOT_SELECTED
    controller = get(annotations, "controller", options.annotation_prefix)
    if controller is not None and controller != CONTROLLER_VALUE:
        return NOT_SELECTED  # another controller's object, as in external-dns
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        where = f"{kind} {namespace}/{name}" if isinstance(namespace, str) else kind
        return Conversion(
            (),
            (
                InvalidInput(
                    "metadata.name and metadata.namespace must be non-empty strings", where=where
                ),
            ),
            True,
        )
    work = ObjectWork(ObjectRef(kind, namespace, name), annotations, options)
    bad = sorted(
        str(k)
        for k, v in raw_annotations.items()
        if not (isinstance(k, str) and isinstance(v, str))
    )
    if bad:
        # The API server refuses these; in a manifest, quote the value.  They
        # are left out of `annotations` above, so only they are ignored.
        work.error(
            f"annotation values must be strings (quote them in YAML); ignored: {', '.join(bad)}"
        )
    work.ttl = options.default_ttl
    ttl_found = work.annotation("ttl")
    if ttl_found is not None:
        full, value = ttl_found
        try:
            work.ttl = parse_ttl(value, where=work.at(f"annotation {full}"))
        except InvalidInput as e:
            # external-dns logs it and publishes with its default TTL.
            work.errors.append(InvalidInput(f"{e.message}; the default TTL is used", where=e.where))
    target_found = work.annotation("target")
    if target_found is not None and target_found[1].strip():
        full, value = target_found
        try:
            work.annotation_targets = parse_targets(value, where=work.at(f"annotation {full}"))
        except InvalidInput as e:
            work.errors.append(e)
            return work.failed()
    return work


def no_names(work: ObjectWork, hint: str) -> Conversion:
    """An object that names no host.

    Without a filter every object is looked at, so one without names is simply
    not ours (external-dns skips it quietly).  With a filter the object opted
    in, so a missing host name is a mistake worth reporting.
    """
    if work.errors:
        return work.failed()
    if work.options.annotation_filter is None:
        return NOT_SELECTED
    work.error(f"no host name: {hint}")
    return work.failed()
