"""Go's ``time.ParseDuration``, for annotations external-dns reads with it (``ttl``).

Pure: no I/O, no clock, no env.  The grammar is Go's exactly: a sign, then one
or more decimal numbers each with a unit (``ns``, ``us``/``\u00b5s``, ``ms``,
``s``, ``m``, ``h``); ``"0"`` alone needs no unit; a fraction below one
nanosecond is dropped; more than 2^63-1 ns overflows and is refused.
"""

from __future__ import annotations

import re
from typing import Final

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
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def go_duration_ns(text: str) -> int | None:
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
