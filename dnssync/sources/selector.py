"""The Kubernetes label-selector grammar, for external-dns's ``--annotation-filter``.

Pure: no I/O, no clock, no env.  :func:`parse_filter` reads the syntax of
``k8s.io/apimachinery/pkg/labels`` (``key``, ``!key``, ``key=v``, ``key!=v``,
``key in (a,b)``, ``key notin (a,b)``, comma-joined), checking keys and values
as Kubernetes does, so a filter external-dns refuses is refused here too.  The
result matches an object's annotations exactly as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from dnssync.errors import ConfigError

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
