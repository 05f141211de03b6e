"""registry/txt/registry_test.go, ``testTXTRegistryRecords*``: who owns each record of a zone.

Each case is a zone as upstream's in-memory provider holds it -- records of
every type (CNAME, A, AAAA, TXT, MX, SRV, NAPTR) beside ownership TXTs in the
typed, legacy, prefixed, suffixed and templated forms -- and the owner
upstream's ``Records()`` reports for every record ("" for none).  Left out, as
dnssync has no such concept: endpoints with a set identifier (``multiple``)
and AWS alias records (``alias``, whose ownership is ``cname-``).
"""

from __future__ import annotations

from typing import NamedTuple

ZONE = "test-zone.example.org"
_Z = "." + ZONE


def _own(owner: str) -> str:
    return f'"heritage=external-dns,external-dns/owner={owner}"'


class RecordsCase(NamedTuple):
    upstream: str
    prefixes: tuple[str, ...]  # each is tried (upstream checks the affix case-insensitively)
    suffixes: tuple[str, ...]
    wildcard: str
    zone: tuple[tuple[str, str, str], ...]  # (name, type, value) as upstream creates them
    owners: tuple[tuple[str, str, str], ...]  # (name, type, owner upstream reports)


_SRV = ("1 50 5060 sip1-n1" + _Z, "1 50 5060 sip1-n2" + _Z)
_NAPTR = '10 "U" "SIP+DTU" "" _sip._udp.sip1' + _Z + "."

RECORDS: tuple[RecordsCase, ...] = (
    RecordsCase(
        "TestTXTRegistry/With prefix (testTXTRegistryRecordsPrefixed)",
        ("txt.", "TxT."),
        ("",),
        "wc",
        (
            ("foo" + _Z, "CNAME", "foo.loadbalancer.com"),
            ("bar" + _Z, "CNAME", "my-domain.com"),
            ("txt.bar" + _Z, "TXT", _own("owner")),
            ("txt.bar" + _Z, "CNAME", "baz" + _Z),
            ("qux" + _Z, "TXT", "random"),
            ("tar" + _Z, "CNAME", "tar.loadbalancer.com"),
            ("TxT.tar" + _Z, "TXT", _own("owner-2")),
            ("foobar" + _Z, "CNAME", "foobar.loadbalancer.com"),
            ("foobar" + _Z, "TXT", _own("owner")),
            ("*.wildcard" + _Z, "CNAME", "foo.loadbalancer.com"),
            ("txt.wc.wildcard" + _Z, "TXT", _own("owner")),
            ("dualstack" + _Z, "A", "1.1.1.1"),
            ("txt.dualstack" + _Z, "TXT", _own("owner")),
            ("dualstack" + _Z, "AAAA", "2001:DB8::1"),
            ("txt.aaaa-dualstack" + _Z, "TXT", _own("owner-2")),
            ("mail" + _Z, "MX", "10 onemail.example.com"),
            ("txt.mx-mail" + _Z, "TXT", _own("owner")),
            *(("_sip._udp.sip1" + _Z, "SRV", v) for v in _SRV),
            ("txt._sip._udp.sip1" + _Z, "TXT", _own("owner")),
            ("sip1" + _Z, "NAPTR", _NAPTR),
            ("txt.sip1" + _Z, "TXT", _own("owner")),
        ),
        (
            ("foo" + _Z, "CNAME", ""),
            ("bar" + _Z, "CNAME", "owner"),
            ("txt.bar" + _Z, "CNAME", ""),
            ("qux" + _Z, "TXT", ""),
            ("tar" + _Z, "CNAME", "owner-2"),
            ("foobar" + _Z, "CNAME", ""),
            ("*.wildcard" + _Z, "CNAME", "owner"),
            ("dualstack" + _Z, "A", "owner"),
            ("dualstack" + _Z, "AAAA", "owner-2"),
            ("mail" + _Z, "MX", "owner"),
            ("_sip._udp.sip1" + _Z, "SRV", "owner"),
            ("sip1" + _Z, "NAPTR", "owner"),
        ),
    ),
    RecordsCase(
        "TestTXTRegistry/With suffix (testTXTRegistryRecordsSuffixed)",
        ("",),
        ("-txt", "-TxT"),
        "",
        (
            ("foo" + _Z, "CNAME", "foo.loadbalancer.com"),
            ("bar" + _Z, "CNAME", "my-domain.com"),
            ("bar-txt" + _Z, "TXT", _own("owner")),
            ("bar-txt" + _Z, "CNAME", "baz" + _Z),
            ("qux" + _Z, "TXT", "random"),
            ("tar" + _Z, "CNAME", "tar.loadbalancer.com"),
            ("tar-TxT" + _Z, "TXT", _own("owner-2")),
            ("foobar" + _Z, "CNAME", "foobar.loadbalancer.com"),
            ("foobar" + _Z, "TXT", _own("owner")),
            ("dualstack" + _Z, "A", "1.1.1.1"),
            ("dualstack-txt" + _Z, "TXT", _own("owner")),
            ("dualstack" + _Z, "AAAA", "2001:DB8::1"),
            ("aaaa-dualstack-txt" + _Z, "TXT", _own("owner-2")),
            ("mail" + _Z, "MX", "10 onemail.example.com"),
            ("mx-mail-txt" + _Z, "TXT", _own("owner")),
            *(("_sip._udp.sip1" + _Z, "SRV", v) for v in _SRV),
            ("_sip-txt._udp.sip1" + _Z, "TXT", _own("owner")),
            ("sip1" + _Z, "NAPTR", _NAPTR),
            ("sip1-txt" + _Z, "TXT", _own("owner")),
        ),
        (
            ("foo" + _Z, "CNAME", ""),
            ("bar" + _Z, "CNAME", "owner"),
            ("bar-txt" + _Z, "CNAME", ""),
            ("qux" + _Z, "TXT", ""),
            ("tar" + _Z, "CNAME", "owner-2"),
            ("foobar" + _Z, "CNAME", ""),
            ("dualstack" + _Z, "A", "owner"),
            ("dualstack" + _Z, "AAAA", "owner-2"),
            ("mail" + _Z, "MX", "owner"),
            ("_sip._udp.sip1" + _Z, "SRV", "owner"),
            ("sip1" + _Z, "NAPTR", "owner"),
        ),
    ),
    RecordsCase(
        "TestTXTRegistry/No prefix (testTXTRegistryRecordsNoPrefix)",
        ("",),
        ("",),
        "",
        (
            ("foo" + _Z, "CNAME", "foo.loadbalancer.com"),
            ("bar" + _Z, "CNAME", "my-domain.com"),
            (
                "txt.bar" + _Z,
                "TXT",
                _own("owner,external-dns/resource=ingress/default/my-ingress"),
            ),
            ("txt.bar" + _Z, "CNAME", "baz" + _Z),
            ("qux" + _Z, "TXT", "random"),
            ("tar" + _Z, "CNAME", "tar.loadbalancer.com"),
            ("txt.tar" + _Z, "TXT", _own("owner-2")),
            ("foobar" + _Z, "CNAME", "foobar.loadbalancer.com"),
            ("foobar" + _Z, "TXT", _own("owner")),
            ("dualstack" + _Z, "A", "1.1.1.1"),
            ("dualstack" + _Z, "TXT", _own("owner")),
            ("dualstack" + _Z, "AAAA", "2001:DB8::1"),
            ("aaaa-dualstack" + _Z, "TXT", _own("owner-2")),
            ("mail" + _Z, "MX", "10 onemail.example.com"),
            ("mx-mail" + _Z, "TXT", _own("owner")),
            *(("_sip._udp.sip1" + _Z, "SRV", v) for v in _SRV),
            ("_sip._udp.sip1" + _Z, "TXT", _own("owner")),
            ("sip1" + _Z, "NAPTR", _NAPTR),
            ("sip1" + _Z, "TXT", _own("owner")),
        ),
        (
            ("foo" + _Z, "CNAME", ""),
            ("bar" + _Z, "CNAME", ""),
            ("txt.bar" + _Z, "CNAME", "owner"),
            ("qux" + _Z, "TXT", ""),
            ("tar" + _Z, "CNAME", ""),
            ("foobar" + _Z, "CNAME", "owner"),
            ("dualstack" + _Z, "A", "owner"),
            ("dualstack" + _Z, "AAAA", "owner-2"),
            ("mail" + _Z, "MX", "owner"),
            ("_sip._udp.sip1" + _Z, "SRV", "owner"),
            ("sip1" + _Z, "NAPTR", "owner"),
        ),
    ),
    RecordsCase(
        "TestTXTRegistry/With templated prefix (testTXTRegistryRecordsPrefixedTemplated)",
        ("txt-%{record_type}.", "TxT-%{record_type}."),
        ("",),
        "wc",
        (
            ("foo" + _Z, "A", "1.1.1.1"),
            ("txt-a.foo" + _Z, "TXT", _own("owner")),
            ("mail" + _Z, "MX", "10 onemail.example.com"),
            ("txt-mx.mail" + _Z, "TXT", _own("owner")),
        ),
        (("foo" + _Z, "A", "owner"), ("mail" + _Z, "MX", "owner")),
    ),
    RecordsCase(
        "TestTXTRegistry/With templated suffix (testTXTRegistryRecordsSuffixedTemplated)",
        ("",),
        ("txt%{record_type}", "TxT%{record_type}"),
        "wc",
        (
            ("bar" + _Z, "CNAME", "8.8.8.8"),
            ("bartxtcname" + _Z, "TXT", _own("owner")),
            ("mail" + _Z, "MX", "10 onemail.example.com"),
            ("mailtxt" + _Z, "TXT", _own("owner")),
        ),
        (("bar" + _Z, "CNAME", "owner"), ("mail" + _Z, "MX", "owner")),
    ),
)

#: TestGenerateTXT and kin name typed ownership records ``<type>-<name>``;
#: upstream's in-zone tests above show ``mx-`` (MX) and the mapper's
#: TestAffixNameMapper_ToTXTName the rest.  The typed names dnssync writes for
#: each type it publishes, no affix, zone "test-zone.example.org":
#: (upstream, name, type, ownership TXT name).
TYPED_NAMES: tuple[tuple[str, str, str, str], ...] = (
    ("TestGenerateTXT", "foo" + _Z, "CNAME", "cname-foo" + _Z),
    ("TestGenerateTXTWithMigration", "foo" + _Z, "A", "a-foo" + _Z),
    ("TestGenerateTXTForAAAA", "foo" + _Z, "AAAA", "aaaa-foo" + _Z),
    ("testTXTRegistryRecordsNoPrefix", "mail" + _Z, "MX", "mx-mail" + _Z),
    (
        "TestAffixNameMapper_ToTXTName/prefix with SRV record type",
        "_sip._udp.sip1" + _Z,
        "SRV",
        "srv-_sip._udp.sip1" + _Z,
    ),
    (
        "TestAffixNameMapper_ToTXTName/prefix with TXT record type",
        "foo" + _Z,
        "TXT",
        "txt-foo" + _Z,
    ),
    ("TestAffixNameMapper_ToTXTName/prefix with NS record type", "sub" + _Z, "NS", "ns-sub" + _Z),
    (
        "TestAffixNameMapper_ToTXTName/prefix with PTR record type",
        "2.49.168.192.in-addr.arpa",
        "PTR",
        "ptr-2.49.168.192.in-addr.arpa",
    ),
    # external-dns has no CAA type; its ToTXTName formula lower-cases any type.
    ("ToTXTName formula (CAA)", "foo" + _Z, "CAA", "caa-foo" + _Z),
)
