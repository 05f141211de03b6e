"""registry/mapper/mapper_test.go: ownership TXT names, both ways."""

from __future__ import annotations

from typing import NamedTuple


class ToTXT(NamedTuple):
    upstream: str  # test function / case name
    prefix: str
    suffix: str
    wildcard: str
    name: str
    type: str
    txt: str


class ToEndpoint(NamedTuple):
    upstream: str
    prefix: str
    suffix: str
    txt: str
    name: str  # "" when external-dns reads no record from it
    type: str  # "" for legacy (untyped) or no record


_T = "TestAffixNameMapper_ToTXTName"
_TYPES = ("A", "AAAA", "CNAME", "NS", "MX", "SRV", "NAPTR", "DNAME", "TXT")

TO_TXT: tuple[ToTXT, ...] = (
    *(
        ToTXT(
            f"{_T}/prefix with {t} record type in affix",
            "%{record_type}-",
            "",
            "",
            "foo.example.com",
            t,
            f"{t.lower()}-foo.example.com",
        )
        for t in _TYPES
    ),
    ToTXT(
        f"{_T}/prefix with PTR record type in affix",
        "%{record_type}-",
        "",
        "",
        "2.49.168.192.in-addr.arpa",
        "PTR",
        "ptr-2.49.168.192.in-addr.arpa",
    ),
    ToTXT(
        f"{_T}/suffix with A record type in affix",
        "",
        "-%{record_type}",
        "",
        "foo.example.com",
        "A",
        "foo-a.example.com",
    ),
    ToTXT(
        f"{_T}/suffix with CNAME record type in affix",
        "",
        "-%{record_type}",
        "",
        "foo.example.com",
        "CNAME",
        "foo-cname.example.com",
    ),
    ToTXT(
        f"{_T}/suffix with TXT record type in affix",
        "",
        "-%{record_type}",
        "",
        "foo.example.com",
        "TXT",
        "foo-txt.example.com",
    ),
    ToTXT(
        f"{_T}/wildcard replacement with A record",
        "txt-",
        "",
        "wild",
        "*.example.com",
        "A",
        "txt-a-wild.example.com",
    ),
    ToTXT(
        f"{_T}/wildcard replacement with MX record",
        "txt-",
        "",
        "wild",
        "*.example.com",
        "MX",
        "txt-mx-wild.example.com",
    ),
    ToTXT(
        f"{_T}/wildcard replacement with TXT record",
        "txt-",
        "",
        "wild",
        "*.example.com",
        "TXT",
        "txt-txt-wild.example.com",
    ),
    *(
        ToTXT(
            f"{_T}/no affix with {t} record",
            "",
            "",
            "",
            "foo.example.com",
            t,
            f"{t.lower()}-foo.example.com",
        )
        for t in ("A", "AAAA", "CNAME", "NS", "MX", "SRV", "NAPTR", "TXT")
    ),
    ToTXT(
        f"{_T}/default prefix with PTR record",
        "",
        "",
        "",
        "2.49.168.192.in-addr.arpa",
        "PTR",
        "ptr-2.49.168.192.in-addr.arpa",
    ),
)

_E = "TestAffixNameMapper_ToEndpointName"
_ALL = ("A", "AAAA", "CNAME", "NS", "MX", "SRV", "NAPTR", "DNAME")

TO_ENDPOINT: tuple[ToEndpoint, ...] = (
    *(
        ToEndpoint(
            f"{_E}/prefix with {t} record type in affix",
            "%{record_type}-",
            "",
            f"{t.lower()}-foo.example.com",
            "foo.example.com",
            t,
        )
        for t in _ALL
    ),
    ToEndpoint(
        f"{_E}/prefix with PTR record type in affix",
        "%{record_type}-",
        "",
        "ptr-2.49.168.192.in-addr.arpa",
        "2.49.168.192.in-addr.arpa",
        "PTR",
    ),
    ToEndpoint(
        f"{_E}/suffix with A record type in affix",
        "",
        "-%{record_type}",
        "foo-a.example.com",
        "foo.example.com",
        "A",
    ),
    ToEndpoint(
        f"{_E}/suffix with CNAME record type in affix",
        "",
        "-%{record_type}",
        "foo-cname.example.com",
        "foo.example.com",
        "CNAME",
    ),
    ToEndpoint(
        f"{_E}/suffix with multiple dots and trailing labels",
        "",
        ".foo.bar",
        "a-example.foo.bar.com",
        "example.com",
        "A",
    ),
    ToEndpoint(
        f"{_E}/suffix with multiple dots and no trailing labels",
        "",
        ".foo.bar",
        "a-example.foo.bar",
        "example",
        "A",
    ),
    ToEndpoint(
        f"{_E}/suffix with multiple dots and too few labels does not panic",
        "",
        ".foo.bar",
        "a-example.foo",
        "",
        "",
    ),
    *(
        ToEndpoint(
            f"{_E}/no affix with {t} record",
            "",
            "",
            f"{t.lower()}-foo.example.com",
            "foo.example.com",
            t,
        )
        for t in ("A", "AAAA", "CNAME", "NS", "MX", "SRV", "NAPTR")
    ),
    ToEndpoint(
        f"{_E}/default prefix with PTR record",
        "",
        "",
        "ptr-2.49.168.192.in-addr.arpa",
        "2.49.168.192.in-addr.arpa",
        "PTR",
    ),
    ToEndpoint(
        f"{_E}/suffix with txt record", "", "", "txt-foo.example.com", "foo.example.com", "TXT"
    ),
    # TestDropPrefix: one mapper, three stored forms, one record.
    *(
        ToEndpoint(f"TestDropPrefix/{txt}", "foo-%{record_type}-", "", txt, "test.example.com", t)
        for txt, t in (
            ("foo-cname-test.example.com", "CNAME"),
            ("foo-a-test.example.com", "A"),
            ("foo--test.example.com", ""),
        )
    ),
    *(
        ToEndpoint(f"TestDropSuffix/{txt}", "", "-%{record_type}-foo", txt, "test.example.com", t)
        for txt, t in (("test-a-foo.example.com", "A"), ("test--foo.example.com", ""))
    ),
    # TestExtractRecordTypeDefaultPosition: the no-affix mapper reads the type at the front.
    ToEndpoint(
        "TestExtractRecordTypeDefaultPosition/ns-zone.example.com",
        "",
        "",
        "ns-zone.example.com",
        "zone.example.com",
        "NS",
    ),
    ToEndpoint(
        "TestExtractRecordTypeDefaultPosition/aaaa-zone.example.com",
        "",
        "",
        "aaaa-zone.example.com",
        "zone.example.com",
        "AAAA",
    ),
    ToEndpoint(
        "TestExtractRecordTypeDefaultPosition/ptr-zone.example.com",
        "",
        "",
        "ptr-zone.example.com",
        "zone.example.com",
        "PTR",
    ),
    ToEndpoint(
        "TestExtractRecordTypeDefaultPosition/zone.example.com",
        "",
        "",
        "zone.example.com",
        "zone.example.com",
        "",
    ),
)

#: TestToEndpointNameNewTXT: (case, prefix, suffix, record, type, txt name); each also reads back.
ROUND_TRIP: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("prefix", "foo", "", "example.com", "A", "fooa-example.com"),
    ("suffix", "", "foo", "example", "AAAA", "aaaa-examplefoo"),
    ("suffix", "", "foo", "example.com", "AAAA", "aaaa-examplefoo.com"),
    ("prefix with dash", "foo-", "", "example.com", "A", "foo-a-example.com"),
    ("suffix with dash", "", "-foo", "example.com", "CNAME", "cname-example-foo.com"),
    ("prefix with dot", "foo.", "", "example.com", "CNAME", "foo.cname-example.com"),
    ("suffix with dot", "", ".foo", "example.com", "CNAME", "cname-example.foo.com"),
    (
        "prefix with multiple dots",
        "foo.bar.",
        "",
        "example.com",
        "CNAME",
        "foo.bar.cname-example.com",
    ),
    (
        "suffix with multiple dots",
        "",
        ".foo.bar.test",
        "example.com",
        "CNAME",
        "cname-example.foo.bar.test.com",
    ),
    ("templated prefix", "%{record_type}-foo", "", "example.com", "A", "a-fooexample.com"),
    ("templated suffix", "", "foo-%{record_type}", "example.com", "A", "examplefoo-a.com"),
    (
        "templated prefix with dot",
        "%{record_type}foo.",
        "",
        "example.com",
        "CNAME",
        "cnamefoo.example.com",
    ),
    ("templated suffix with dot", "", ".foo%{record_type}", "example.com", "A", "example.fooa.com"),
    (
        "templated prefix with multiple dots",
        "bar.%{record_type}.foo.",
        "",
        "example.com",
        "CNAME",
        "bar.cname.foo.example.com",
    ),
    (
        "templated suffix with multiple dots",
        "",
        ".foo%{record_type}.bar",
        "example.com",
        "A",
        "example.fooa.bar.com",
    ),
)

#: NewTXTRegistry refuses both affixes at once ("txt-prefix and txt-suffix are mutual
#: exclusive"), so TestAffixNameMapper_ToEndpointName's "both prefix and suffix set returns
#: empty" is a configuration error in both tools.
BOTH_AFFIXES = ("pre-", "-suf")

#: TestDropAffixExtractType_NoMatch: (case, prefix, suffix, name) from which the affix step reads
#: no record.  Upstream calls that step on the whole name; through ToEndpointName a suffix
#: mapper applies it to the first label only, so the record part is empty there.
NO_MATCH: tuple[tuple[str, str, str, str], ...] = (
    (
        "TestDropAffixExtractType_NoMatch/prefix mapper input missing prefix",
        "foo-",
        "",
        "bar.example.com",
    ),
    (
        "TestDropAffixExtractType_NoMatch/suffix mapper input missing suffix",
        "",
        "-foo",
        "bar.example.com",
    ),
)
