"""source/annotations/processors_test.go: the ttl annotation, and lists of names and targets."""

from __future__ import annotations

#: TestTTLFromAnnotations: (case, annotation value or None for absent, TTL; 0 = not configured).
TTL: tuple[tuple[str, str | None, int], ...] = (
    ("no TTL annotation", None, 0),
    ("valid TTL annotation", "600", 600),
    ("invalid TTL annotation", "invalid", 0),
    ("TTL annotation out of range", "999999", 999999),
    ("TTL annotation value is not a number", "foo", 0),
    ("TTL annotation value is empty", "", 0),
    ("TTL annotation value is negative number", "-1", 0),
    ("TTL annotation value is too high", str(1 << 32), 0),
    ("TTL annotation value is set correctly using integer", "60", 60),
    ("TTL annotation value is set correctly using duration (whole)", "10m", 600),
    ("TTL annotation value is set correctly using duration (fractional)", "20.5s", 20),
)

#: TestHostnamesFromAnnotations / TestInternalHostnamesFromAnnotations: (case, value, names).
HOSTNAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("single hostname annotation", "example.com", ("example.com",)),
    ("multiple hostname annotations", "example.com,example.org", ("example.com", "example.org")),
    (
        "hostname annotation with spaces",
        " example.com , example.org ",
        ("example.com", "example.org"),
    ),
)

#: TestTargetsFromTargetAnnotation: (case, value, targets).
TARGETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("single target annotation", "example.com", ("example.com",)),
    ("multiple target annotations", "example.com,example.org", ("example.com", "example.org")),
    (
        "target annotation with trailing periods",
        "example.com.,example.org.",
        ("example.com", "example.org"),
    ),
    (
        "target annotation with spaces",
        " example.com , example.org ",
        ("example.com", "example.org"),
    ),
)

#: TestIsControllerMismatch: (case, controller value or None, object skipped).
CONTROLLER: tuple[tuple[str, str | None, bool], ...] = (
    ("no controller annotation", None, False),
    ("non-matching controller annotation", "other-controller", True),
    ("empty controller value with annotation", "", True),
    ("nil annotations", None, False),
)
