"""Label and field selectors, parsed and matched the way the real API server does.

Label selectors follow k8s.io/apimachinery/pkg/labels: comma-separated
requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
`k>n`, `k<n`; `!=` and `notin` also match objects without the label. Field
selectors accept `=`, `==`, `!=` on metadata.name, metadata.namespace and the
per-kind field labels; anything else is refused with 400 like the real server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .resources import JsonObj, ResourceType


class SelectorError(ValueError):
    """A selector the real server would refuse with 400 BadRequest."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        # gt / lt compare integers; a non-integer label never matches.
        try:
            number = int(value) if value is not None else None
        except ValueError:
            return False
        if number is None:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_CMP_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=|>|<)\s*({_VALUE})\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside `( … )` (the value lists of in/notin)."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse a labelSelector query value; an empty string selects everything."""
    if not text.strip():
        return []
    requirements: list[Requirement] = []
    for part in _split_top_level(text):
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            if not values:
                raise SelectorError(f"unable to parse requirement: {part!r}: empty value set")
            requirements.append(Requirement(m.group(1), m.group(2), values))
        elif m := _CMP_RE.match(part):
            op = {"==": "=", ">": "gt", "<": "lt"}.get(m.group(2), m.group(2))
            value = m.group(3)
            if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise SelectorError(
                    f"for 'gt', 'lt' operators, the value must be an integer: {part}"
                )
            requirements.append(Requirement(m.group(1), op, (value,)))
        elif m := _EXISTS_RE.match(part):
            requirements.append(Requirement(m.group(2), "!" if m.group(1) else "exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {part!r}")
    return requirements


def label_matcher(text: str) -> Callable[[JsonObj], bool]:
    requirements = parse_label_selector(text)

    def matches(obj: JsonObj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return matches


def _field_value(obj: JsonObj, path: str) -> str:
    """The string form of a dotted field; missing fields compare as ""."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_matcher(text: str, rtype: ResourceType) -> Callable[[JsonObj], bool]:
    """Parse a fieldSelector query value for one kind."""
    allowed = {"metadata.name", "metadata.namespace", *rtype.field_labels}
    terms: list[tuple[str, bool, str]] = []  # (field, must_equal, value)
    for part in (p for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*", part)
        if not m:
            raise SelectorError(f"invalid selector: {part!r}; can't understand {part!r}")
        name, op, value = m.groups()
        if name not in allowed:
            raise SelectorError(f'field label not supported: "{name}"')
        terms.append((name, op != "!=", value))

    def matches(obj: JsonObj) -> bool:
        return all((_field_value(obj, f) == v) == eq for f, eq, v in terms)

    return matches
