"""registry/txt/registry_test.go: the ownership TXT written for one record."""

from __future__ import annotations

#: (upstream, prefix, owner, record name, type, resource, TXT name, TXT value unquoted).
#: Upstream's zone is "test-zone.example.org"; its values carry quotes, stripped here
#: because the DNS layer quotes TXT strings.
GENERATE: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    (
        "TestGenerateTXT",
        "",
        "owner",
        "foo.test-zone.example.org",
        "CNAME",
        "",
        "cname-foo.test-zone.example.org",
        "heritage=external-dns,external-dns/owner=owner",
    ),
    (
        "TestGenerateTXTWithMigration/before",
        "",
        "owner",
        "foo.test-zone.example.org",
        "A",
        "",
        "a-foo.test-zone.example.org",
        "heritage=external-dns,external-dns/owner=owner",
    ),
    (
        "TestGenerateTXTWithMigration/after",
        "",
        "foobar",
        "foo.test-zone.example.org",
        "A",
        "",
        "a-foo.test-zone.example.org",
        "heritage=external-dns,external-dns/owner=foobar",
    ),
    (
        "TestGenerateTXTForAAAA",
        "",
        "owner",
        "foo.test-zone.example.org",
        "AAAA",
        "",
        "aaaa-foo.test-zone.example.org",
        "heritage=external-dns,external-dns/owner=owner",
    ),
)
ZONE = "test-zone.example.org"
