"""external-dns's domain filters (``--domain-filter``, ``--exclude-domains``,
``--regex-domain-filter``, ``--regex-domain-exclusion``), pure.

A target with a filter publishes only names the filter matches and leaves every
record outside it alone, as external-dns does (its plan drops both desired and
current records that do not match).

Matching follows external-dns v0.22's ``endpoint/domain_filter.go``:

* names and filters are compared without a trailing dot, case-insensitively,
  with A-labels (``xn--...``) read as their Unicode form;
* a filter ``example.org`` matches ``example.org`` and every name below it; a
  filter starting with a dot (``.example.org``) matches only names below it;
  blank filters are dropped, and no filter at all matches everything;
* an exclusion is a filter of the same form; a name it matches is out;
* when either regular expression is set the plain filters are not used: a
  name matching the exclusion is out, else it must match the inclusion (when
  set).  Python's ``re`` stands in for Go's RE2 syntax (the common subset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dnssync.errors import ConfigError


def _unicode_label(label: str) -> str:
    if label.startswith("xn--"):
        try:
            return label[4:].encode("ascii").decode("punycode")
        except (UnicodeError, ValueError):
            return label
    return label


def normalize_domain(name: str) -> str:
    """The form filters and names are compared in: no trailing dot, lower case, Unicode."""
    text = name.strip().removesuffix(".").lower()
    return ".".join(_unicode_label(label) for label in text.split(".")).lower()


def _prepared(filters: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(d for d in (normalize_domain(f) for f in filters) if d)


def _match_plain(filters: tuple[str, ...], name: str, *, empty: bool) -> bool:
    if not filters:
        return empty
    for f in filters:
        if f.startswith(".") and name.endswith(f):
            return True
        if name == f or name.endswith("." + f):
            return True
    return False


@dataclass(frozen=True, slots=True)
class DomainFilter:
    """Which names a target may touch.  The default filter matches every name."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex: str = ""
    regex_exclude: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "include", _prepared(self.include))
        object.__setattr__(self, "exclude", _prepared(self.exclude))
        for what, pattern in (
            ("regex_domain_filter", self.regex),
            ("regex_domain_exclusion", self.regex_exclude),
        ):
            try:
                re.compile(pattern)
            except re.error as e:
                raise ConfigError(f"{what} {pattern!r}: {e}") from None

    @property
    def configured(self) -> bool:
        return bool(self.include or self.exclude or self.regex or self.regex_exclude)

    def match(self, name: str) -> bool:
        """Whether the target may touch records named ``name``."""
        domain = normalize_domain(name)
        if self.regex or self.regex_exclude:
            if self.regex_exclude and re.search(self.regex_exclude, domain):
                return False
            return not self.regex or re.search(self.regex, domain) is not None
        return _match_plain(self.include, domain, empty=True) and not _match_plain(
            self.exclude, domain, empty=False
        )
