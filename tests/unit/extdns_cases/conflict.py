"""plan/conflict_test.go (ResolverSuite.TestStrictResolver): who gets a name several objects want.

Endpoints of the suite, by their upstream field name: (resource, type, targets).  Upstream's
names are relative ("foo", "bar") and CNAME targets one label ("v1"); here they are put into
the zone ``example.com`` and targets under ``example.org``, which keeps every comparison.
"""

from __future__ import annotations

ENDPOINTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "fooV1Cname": ("ingress/default/foo-v1", "CNAME", ("v1.example.org",)),
    "fooV2Cname": ("ingress/default/foo-v2", "CNAME", ("v2.example.org",)),
    "fooV2CnameDuplicate": ("ingress/default/foo-v2-duplicate", "CNAME", ("v2.example.org",)),
    "fooA5": ("ingress/default/foo-5", "A", ("5.5.5.5",)),
    "bar127A": ("ingress/default/bar-127", "A", ("127.0.0.1",)),
    "bar192A": ("ingress/default/bar-192", "A", ("192.168.0.1",)),
}

#: (assertion message, current holder's field or None (ResolveCreate), candidates, winner).
#: A holder whose resource is among the candidates keeps the name; otherwise the minimum.
CASES: tuple[tuple[str, str | None, tuple[str, ...], str], ...] = (
    ("ResolveCreate: should pick min one", None, ("bar127A", "bar192A"), "bar127A"),
    (
        "ResolveCreate: should pick min one (IP before host name)",
        None,
        ("fooA5", "fooV1Cname"),
        "fooA5",
    ),
    (
        "ResolveCreate: should pick min one (host names)",
        None,
        ("fooV2Cname", "fooV1Cname"),
        "fooV1Cname",
    ),
    ("ResolveUpdate: should pick existing resource", "bar127A", ("bar192A", "bar127A"), "bar127A"),
    (
        "ResolveUpdate: should pick existing resource even if targets are same",
        "fooV2Cname",
        ("fooV2Cname", "fooV2CnameDuplicate"),
        "fooV2Cname",
    ),
    (
        "ResolveUpdate: should pick new if resource was deleted",
        "fooV1Cname",
        ("fooA5", "fooV2Cname"),
        "fooA5",
    ),
    (
        "ResolveUpdate: should actually pick same resource with updates",
        "fooV1Cname",
        ("fooA5", "fooV2Cname", "fooV1Cname"),
        "fooV1Cname",
    ),
)
