"""provider/rfc2136/rfc2136_test.go: the TTL a created record is written with.

The stub provider of these tests runs with ``--rfc2136-min-ttl=300s``: a record's TTL is
its annotation when above that floor, else the floor (unannotated records included).
"""

from __future__ import annotations

MIN_TTL = 300

#: TestRfc2136ApplyChangesWithDifferentTTLs: (name, annotation TTL or None, written TTL).
DIFFERENT_TTLS: tuple[tuple[str, int | None, int], ...] = (
    ("v1.foo.com", 400, 400),
    ("v2.foo.com", 200, 300),
    ("v3.foo.com", None, 300),
)
#: TestRfc2136PTRCreation: the A record "demo.foo.com. 300 IN A 1.2.3.4" without annotation.
PTR_CREATION_A = ("demo.foo.com", None, 300)
