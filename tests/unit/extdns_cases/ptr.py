"""source/wrappers/ptr_test.go and provider/rfc2136/rfc2136_test.go: reverse records.

An input endpoint is (name, type, targets, ttl, record-type annotation or None); an
expected PTR is (reverse name, targets, ttl).  external-dns's TTL 0 (unset) is None here.
"""

from __future__ import annotations

from typing import NamedTuple

Input = tuple[str, str, tuple[str, ...], int | None, str | None]
Ptr = tuple[str, tuple[str, ...], int | None]


class PtrCase(NamedTuple):
    upstream: str
    default: bool  # --create-ptr
    endpoints: tuple[Input, ...]
    ptrs: tuple[Ptr, ...]


_S = "TestPTRSource"
_O = "TestPTRSource_AnnotationOverride"
WEB = ("web.example.com", "A", ("192.168.49.2",), None, None)
WEB_PTR = ("2.49.168.192.in-addr.arpa", ("web.example.com",), None)

CASES: tuple[PtrCase, ...] = (
    PtrCase(f"{_S}/A record produces PTR", True, (WEB,), (WEB_PTR,)),
    PtrCase(f"{_S}/disabled by default, no PTR", False, (WEB,), ()),
    PtrCase(
        f"{_S}/CNAME skipped",
        True,
        (("alias.example.com", "CNAME", ("web.example.com",), None, None),),
        (),
    ),
    PtrCase(
        f"{_S}/wildcard skipped",
        True,
        (("*.example.com", "A", ("192.168.49.2",), None, None),),
        (),
    ),
    PtrCase(
        f"{_S}/same IP merges into single PTR",
        True,
        (
            ("a.example.com", "A", ("192.168.49.2",), None, None),
            ("b.example.com", "A", ("192.168.49.2",), None, None),
        ),
        (("2.49.168.192.in-addr.arpa", ("a.example.com", "b.example.com"), None),),
    ),
    PtrCase(
        f"{_S}/TTL preserved",
        True,
        (("web.example.com", "A", ("10.0.0.1",), 300, None),),
        (("1.0.0.10.in-addr.arpa", ("web.example.com",), 300),),
    ),
    PtrCase(
        f"{_S}/conflicting TTLs use minimum",
        True,
        (
            ("a.example.com", "A", ("10.0.0.1",), 300, None),
            ("b.example.com", "A", ("10.0.0.1",), 60, None),
        ),
        (("1.0.0.10.in-addr.arpa", ("a.example.com", "b.example.com"), 60),),
    ),
    PtrCase(
        f"{_S}/conflicting TTLs use minimum reversed order",
        True,
        (
            ("a.example.com", "A", ("10.0.0.1",), 60, None),
            ("b.example.com", "A", ("10.0.0.1",), 300, None),
        ),
        (("1.0.0.10.in-addr.arpa", ("a.example.com", "b.example.com"), 60),),
    ),
    PtrCase(
        f"{_O}/annotation opts in when flag is off",
        False,
        (("web.example.com", "A", ("192.168.49.2",), None, "ptr"),),
        (WEB_PTR,),
    ),
    PtrCase(
        f"{_O}/annotation opts out when flag is on",
        True,
        (("web.example.com", "A", ("192.168.49.2",), None, ""),),
        (),
    ),
    PtrCase(f"{_O}/no annotation uses flag default true", True, (WEB,), (WEB_PTR,)),
    PtrCase(f"{_O}/no annotation uses flag default false", False, (WEB,), ()),
    PtrCase(
        "TestPTRSource_IPv6",
        True,
        (("v6.example.com", "AAAA", ("2001:db8::1",), None, None),),
        (
            (
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                ("v6.example.com",),
                None,
            ),
        ),
    ),
    PtrCase(
        "TestRfc2136PTRCreation",
        True,
        (("demo.foo.com", "A", ("1.2.3.4",), None, None),),
        (("4.3.2.1.in-addr.arpa", ("demo.foo.com",), None),),
    ),
)
