"""The TXT ownership registry: names, values and encryption as external-dns v0.22 has them."""

from __future__ import annotations

import base64
import gzip
import os
import struct
import zlib
from collections.abc import Mapping

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import assume, given
from hypothesis import strategies as st

from dnssync.errors import ConfigError, InvalidInput, InvalidName
from dnssync.model import RecordKey, RRset, ZoneSnapshot
from dnssync.names import in_zone, normalize
from dnssync.registry import (
    HERITAGE,
    PARSED_TYPES,
    Claim,
    Registry,
    RegistryOptions,
    decode_aes_key,
    decrypt_value,
    encrypt_value,
    format_labels,
    parse_labels,
)

ZONE = "example.com"
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
OURS = "heritage=external-dns,external-dns/owner=me,external-dns/resource=ingress/ns/web"
THEIRS = "heritage=external-dns,external-dns/owner=them,external-dns/resource=service/ns/api"
SPF = "v=spf1 include:_spf.example.net ~all"


def reg(
    prefix: str = "",
    suffix: str = "",
    wildcard_replacement: str = "",
    encryption_key: bytes | None = None,
) -> Registry:
    return Registry(RegistryOptions("me", prefix, suffix, wildcard_replacement, encryption_key))


def reg_of(options: Mapping[str, str], encryption_key: bytes | None = None) -> Registry:
    """A registry from an affix dictionary as the parametrised tests hold them."""
    return reg(
        options.get("prefix", ""),
        options.get("suffix", ""),
        options.get("wildcard_replacement", ""),
        encryption_key,
    )


def snapshot(txts: dict[str, list[str]], zone: str = ZONE) -> ZoneSnapshot:
    rrsets = {RecordKey(n, "TXT"): RRset.of(n, "TXT", 300, v) for n, v in txts.items()}
    return ZoneSnapshot(zone=zone, serial=1, rrsets=rrsets)


# --- external-dns's encryption, rebuilt independently ----------------------


def go_gzip(data: bytes) -> bytes:
    """What Go's gzip.NewWriterLevel(BestCompression) + Flush + Close writes."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush(zlib.Z_SYNC_FLUSH) + deflate.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(data), len(data))


def external_dns_encrypt(text: str, key: bytes) -> str:
    """endpoint.EncryptText: base64(nonce || AES-256-GCM(gzip(text))), random nonce."""
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + AESGCM(key).encrypt(nonce, go_gzip(text.encode()), None)
    ).decode()


def external_dns_decrypt(text: str, key: bytes) -> str:
    """endpoint.DecryptText: the inverse, raising on any failure."""
    data = base64.b64decode(text, validate=True)
    return gzip.decompress(AESGCM(key).decrypt(data[:12], data[12:], None)).decode()


# --- names: golden ---------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        ("A", "a-www.example.com"),
        ("CNAME", "cname-www.example.com"),
        ("AAAA", "aaaa-www.example.com"),
    ],
)
def test_name_without_affix(type_: str, expected: str) -> None:
    """No affix: <type>-<first>.<rest>."""
    assert reg().txt_name("www.example.com", type_, zone=ZONE) == expected


def test_name_with_prefix() -> None:
    """--txt-prefix=extdns- goes before the type: extdns-a-www.example.com."""
    assert reg(prefix="extdns-").txt_name("www.example.com", "A", zone=ZONE) == (
        "extdns-a-www.example.com"
    )


def test_name_with_prefix_ending_in_dot() -> None:
    """A prefix ending in '.' without the template puts P before <type>-<first>."""
    assert reg(prefix="extdns.").txt_name("www.example.com", "A", zone=ZONE) == (
        "extdns.a-www.example.com"
    )


def test_name_with_suffix() -> None:
    """--txt-suffix=-txt goes after the first label: a-www-txt.example.com."""
    assert reg(suffix="-txt").txt_name("www.example.com", "A", zone=ZONE) == "a-www-txt.example.com"


@pytest.mark.parametrize(
    ("prefix", "name", "type_", "expected"),
    [
        ("%{record_type}-foo.", "www.example.com", "A", "a-foo.www.example.com"),
        ("%{record_type}-", "foo.example.com", "A", "a-foo.example.com"),
        (
            "someprefix-%{record_type}.",
            "www.example.com",
            "CNAME",
            "someprefix-cname.www.example.com",
        ),
        ("%{record_type}-abc-.", "www.ex.com", "CNAME", "cname-abc-.www.ex.com"),
    ],
)
def test_name_with_template_prefix(prefix: str, name: str, type_: str, expected: str) -> None:
    """%{record_type} in the prefix is substituted and no <type>- is added."""
    zone = name.split(".", 1)[1]
    assert reg(prefix=prefix).txt_name(name, type_, zone=zone) == expected


@pytest.mark.parametrize(
    ("suffix", "name", "type_", "expected"),
    [
        ("-%{record_type}", "foo.example.com", "A", "foo-a.example.com"),
        ("-.%{record_type}", "www.ex.com", "CNAME", "www-.cname.ex.com"),
    ],
)
def test_name_with_template_suffix(suffix: str, name: str, type_: str, expected: str) -> None:
    """%{record_type} in the suffix is substituted and no <type>- is added."""
    zone = name.split(".", 1)[1]
    assert reg(suffix=suffix).txt_name(name, type_, zone=zone) == expected


def test_wildcard_with_replacement() -> None:
    """A leading '*' becomes --txt-wildcard-replacement: txt-a-wild.example.com."""
    r = reg(prefix="txt-", wildcard_replacement="wild")
    assert r.txt_name("*.example.com", "A", zone=ZONE) == "txt-a-wild.example.com"


def test_wildcard_without_replacement() -> None:
    """Without a replacement the '*' stays, inside a longer label."""
    assert reg().txt_name("*.example.com", "A", zone=ZONE) == "a-*.example.com"


def test_wildcard_shares_name_with_replacement_record() -> None:
    """As in external-dns, *.x and <replacement>.x share one ownership name."""
    r = reg(wildcard_replacement="wild")
    assert r.txt_name("*.example.com", "A", zone=ZONE) == r.txt_name(
        "wild.example.com", "A", zone=ZONE
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "www.example.com"),
        ({"prefix": "extdns-"}, "extdns-www.example.com"),
        ({"suffix": "-txt"}, "www-txt.example.com"),
        ({"prefix": "%{record_type}-"}, "-www.example.com"),
        ({"prefix": "%{record_type}."}, None),
        ({"suffix": "-.%{record_type}"}, None),
    ],
)
def test_legacy_untyped_name(options: dict[str, str], expected: str | None) -> None:
    """Legacy: no <type>-, template removed; None when that leaves an empty label."""
    assert reg_of(options).legacy_txt_name("www.example.com", zone=ZONE) == expected


def test_legacy_name_of_apex() -> None:
    """The legacy apex name is the apex itself, or None when it fell outside the zone."""
    assert reg().legacy_txt_name(ZONE, zone=ZONE) == ZONE
    assert reg(prefix="extdns.").legacy_txt_name(ZONE, zone=ZONE) == "extdns.example.com"
    assert reg(prefix="extdns-").legacy_txt_name(ZONE, zone=ZONE) is None


@pytest.mark.parametrize(
    ("options", "type_", "expected"),
    [
        ({}, "A", "a-.example.com"),
        ({}, "CNAME", "cname-.example.com"),
        ({}, "AAAA", "aaaa-.example.com"),
        ({"prefix": "extdns-"}, "A", "extdns-a-.example.com"),
        ({"prefix": "extdns."}, "A", "extdns.a-.example.com"),
        ({"suffix": "-txt"}, "A", "a--txt.example.com"),
        ({"suffix": "-%{record_type}"}, "A", "-a.example.com"),
        ({"suffix": ".%{record_type}"}, "A", "a.example.com"),
        # external-dns's own name is inside the zone here: kept unchanged.
        ({"prefix": "%{record_type}."}, "A", "a.example.com"),
        ({"prefix": "extdns-%{record_type}."}, "CNAME", "extdns-cname.example.com"),
    ],
)
def test_apex_name_inside_zone(options: dict[str, str], type_: str, expected: str) -> None:
    """The apex's ownership TXT stays inside the zone (external-dns #449, #5010)."""
    r = reg_of(options)
    name = r.txt_name(ZONE, type_, zone=ZONE)
    assert name == expected
    assert in_zone(name, ZONE)
    assert name != ZONE


def test_apex_of_single_label_zone() -> None:
    """A one-label zone's apex also keeps its ownership TXT inside the zone."""
    assert reg().txt_name("lan", "A", zone="lan") == "a-.lan"


def test_apex_name_is_recognised_as_registry_name() -> None:
    """is_registry_name knows the apex names and the typed names, not record names."""
    r = reg()
    assert r.is_registry_name("a-.example.com", zone=ZONE)
    assert r.is_registry_name("cname-www.example.com", zone=ZONE)
    assert not r.is_registry_name("www.example.com", zone=ZONE)
    assert not r.is_registry_name("a-www.other.org", zone=ZONE)


def test_multi_label_rest() -> None:
    """Only the first label is decorated; the rest stays as it is."""
    assert reg().txt_name("www.sub.example.com", "A", zone=ZONE) == "a-www.sub.example.com"
    assert reg(suffix="-txt").txt_name("www.sub.example.com", "A", zone=ZONE) == (
        "a-www-txt.sub.example.com"
    )


def test_upper_case_inputs_are_normalised() -> None:
    """Names, zone, type and affixes are lower-cased; a trailing dot is dropped."""
    assert reg().txt_name("WWW.Example.COM.", "a", zone="EXAMPLE.com") == "a-www.example.com"
    assert reg(prefix="ExtDNS-").txt_name("www.example.com", "A", zone=ZONE) == (
        "extdns-a-www.example.com"
    )
    assert reg(prefix="%{RECORD_TYPE}-X.").txt_name("www.example.com", "Cname", zone=ZONE) == (
        "cname-x.www.example.com"
    )


def test_name_outside_zone_is_refused() -> None:
    """A record outside the zone has no ownership name there."""
    with pytest.raises(InvalidName):
        reg().txt_name("www.example.org", "A", zone=ZONE)
    with pytest.raises(InvalidName):
        reg().txt_name("evilexample.com", "A", zone=ZONE)


def test_too_long_label_is_refused() -> None:
    """A 63-character label plus 'cname-' is no DNS label: InvalidName, not a bad write."""
    with pytest.raises(InvalidName):
        reg().txt_name("x" * 63 + ".example.com", "CNAME", zone=ZONE)


def test_claims_on_record_without_valid_ownership_name() -> None:
    """A record whose ownership name would be too long has no claims; reading never raises."""
    long_name = "x" * 63 + ".example.com"
    assert reg().claims(snapshot({}), long_name, "CNAME") == []


@pytest.mark.parametrize(
    "options",
    [
        {"prefix": "a-", "suffix": "-b"},
        {"prefix": ".x-"},
        {"suffix": "-x."},
        {"prefix": "a..b-"},
        {"prefix": "a b"},
        {"wildcard_replacement": "a.b"},
        {"prefix": "_acme-challenge."},
        {"prefix": "%{record_type}._dnssync-acme."},
        {"suffix": "._acme-challenge"},
    ],
)
def test_invalid_options_are_refused(options: dict[str, str]) -> None:
    """Exclusive affixes, empty labels and characters no name holds raise ConfigError."""
    with pytest.raises(ConfigError):
        reg_of(options)


def test_short_key_is_refused() -> None:
    """An AES-256 key must be 32 bytes."""
    with pytest.raises(ConfigError):
        reg(encryption_key=b"short")


@pytest.mark.parametrize("owner", ["", "a,b", 'a"b', "a\nb"])
def test_invalid_owner_id_is_refused(owner: str) -> None:
    """An owner id the value format cannot carry back raises ConfigError."""
    with pytest.raises(ConfigError):
        RegistryOptions(owner)


# --- values -----------------------------------------------------------------


def test_format_labels_golden() -> None:
    """Keys sorted, heritage first, no spaces, no quotes."""
    text = format_labels({"resource": "ingress/ns/web", "owner": "me"})
    assert text == OURS


def test_ownership_value_golden() -> None:
    """What dnssync writes for a record: typed name, our owner and resource."""
    own = reg().ownership("www.example.com", "A", zone=ZONE, resource="ingress/ns/web")
    assert own.name == "a-www.example.com"
    assert own.value == OURS


def test_ownership_without_resource() -> None:
    """An empty resource is left out, as external-dns leaves out absent labels."""
    own = reg().ownership("www.example.com", "A", zone=ZONE, resource="")
    assert own.value == "heritage=external-dns,external-dns/owner=me"


def test_parse_tolerates_quotes_and_order() -> None:
    """Surrounding quotes and key order do not matter when reading."""
    expected = {"owner": "me", "resource": "ingress/ns/web"}
    assert parse_labels(OURS) == expected
    assert parse_labels(f'"{OURS}"') == expected
    swapped = "external-dns/resource=ingress/ns/web,external-dns/owner=me,heritage=external-dns"
    assert parse_labels(swapped) == expected


@pytest.mark.parametrize(
    "text",
    [
        SPF,
        "",
        '""',
        "heritage=other,external-dns/owner=me",
        "external-dns/owner=me,external-dns/resource=x",
        "heritage=external-dns-fake,external-dns/owner=me",
        "===,,,",
        '"',
        "\x00\xff",
    ],
)
def test_user_txt_is_not_heritage(text: str) -> None:
    """SPF, empty, another heritage or junk: a user's TXT (None), never an exception."""
    assert parse_labels(text) is None


def test_format_refuses_unstorable_labels() -> None:
    """A label value with ',' or '=' would not read back the same: InvalidInput."""
    with pytest.raises(InvalidInput):
        format_labels({"owner": "a,b"})
    with pytest.raises(InvalidInput):
        format_labels({"heritage": "x"})


# --- encryption ---------------------------------------------------------------


def test_decrypts_external_dns_value() -> None:
    """A value external-dns wrote (random nonce, Go-style gzip) reads as its labels."""
    stored = external_dns_encrypt(THEIRS, KEY)
    r = reg(encryption_key=KEY)
    assert r.labels_of(stored) == {"owner": "them", "resource": "service/ns/api"}
    assert r.labels_of(f'"{stored}"') == {"owner": "them", "resource": "service/ns/api"}


def test_our_encrypted_value_decrypts_the_external_dns_way() -> None:
    """external-dns's DecryptText recovers our plain value exactly."""
    own = reg(encryption_key=KEY).ownership(
        "www.example.com", "A", zone=ZONE, resource="ingress/ns/web"
    )
    assert own.value != OURS
    assert external_dns_decrypt(own.value, KEY) == OURS


def test_encryption_is_deterministic() -> None:
    """Same record, owner and resource: the same bytes, from any Registry instance."""
    a = reg(encryption_key=KEY).ownership("www.example.com", "A", zone=ZONE, resource="x/y/z")
    b = reg(encryption_key=KEY).ownership("www.example.com", "A", zone=ZONE, resource="x/y/z")
    assert a == b
    assert encrypt_value(OURS, KEY) == encrypt_value(OURS, KEY)


def test_different_plaintexts_get_different_nonces() -> None:
    """The synthetic IV differs whenever the plaintext does (no GCM nonce reuse)."""
    one = base64.b64decode(encrypt_value(OURS, KEY))[:12]
    two = base64.b64decode(encrypt_value(THEIRS, KEY))[:12]
    assert one != two


def test_wrong_key_is_not_ours() -> None:
    """A value under another key is a user's TXT: no labels, no claim, no crash."""
    stored = encrypt_value(OURS, OTHER_KEY)
    r = reg(encryption_key=KEY)
    assert decrypt_value(stored, KEY) is None
    assert r.labels_of(stored) is None
    snap = snapshot({"a-www.example.com": [stored]})
    assert r.claims(snap, "www.example.com", "A") == []
    assert r.owns(r.claims(snap, "www.example.com", "A")) is None
    with pytest.raises(InvalidTag):
        external_dns_decrypt(stored, KEY)


def test_encrypted_value_without_key_is_user_txt() -> None:
    """Without a key an encrypted value is not heritage, as in external-dns."""
    assert reg().labels_of(encrypt_value(OURS, KEY)) is None


def test_plain_value_still_read_with_key() -> None:
    """With a key set, plain values written before encryption still count."""
    assert reg(encryption_key=KEY).labels_of(OURS) == {"owner": "me", "resource": "ingress/ns/web"}


def test_authentic_value_without_gzip_is_read() -> None:
    """An early external-dns value (encrypted, not gzipped) is read as plain text."""
    nonce = os.urandom(12)
    stored = base64.b64encode(nonce + AESGCM(KEY).encrypt(nonce, OURS.encode(), None)).decode()
    assert reg(encryption_key=KEY).labels_of(stored) == {
        "owner": "me",
        "resource": "ingress/ns/web",
    }


@pytest.mark.parametrize("junk", ["", "AAAA", "not base64!", base64.b64encode(b"x" * 12).decode()])
def test_decrypt_junk_returns_none(junk: str) -> None:
    """Short, non-base64 or tag-less values decrypt to None, never raise."""
    assert decrypt_value(junk, KEY) is None


def test_decode_aes_key_forms() -> None:
    """The key is 32 plain bytes or base64 of 32 (standard or URL-safe); else ConfigError."""
    plain = "passphrasewhichneedstobe32bytes!"
    assert decode_aes_key(plain) == plain.encode()
    assert decode_aes_key(base64.b64encode(KEY).decode()) == KEY
    odd = bytes([0xFB] * 32)
    assert decode_aes_key(base64.urlsafe_b64encode(odd).decode()) == odd
    with pytest.raises(ConfigError):
        decode_aes_key("too short")


# --- claims and owns ------------------------------------------------------------


def test_claims_our_typed_txt() -> None:
    """Our typed TXT is a non-legacy claim, and owns returns it."""
    r = reg()
    snap = snapshot({"a-www.example.com": [OURS]})
    claims = r.claims(snap, "www.example.com", "A")
    assert len(claims) == 1
    claim = claims[0]
    assert (claim.owner, claim.resource, claim.legacy) == ("me", "ingress/ns/web", False)
    assert claim.ownership.name == "a-www.example.com"
    assert claim.ownership.value == OURS
    assert dict(claim.labels) == {"owner": "me", "resource": "ingress/ns/web"}
    assert r.owns(claims) == claim


@pytest.mark.parametrize("label", ["_acme-challenge", "_dnssync-acme"])
def test_txt_under_acme_names_is_never_ownership(label: str) -> None:
    """A heritage TXT where the ACME side writes never claims a record, even as a legacy name."""
    r = reg()
    record = f"{label}.www.example.com"
    # Without an affix the legacy name is the record's own name: the challenge TXT.
    snap = snapshot({record: [OURS]})
    assert r.legacy_txt_name(record, zone=ZONE) is None
    assert r.claims(snap, record, "A") == []
    assert r.claims(snap, record, "CNAME") == []
    deep = reg(prefix="%{record_type}.")
    snap = snapshot({f"a.{record}": [OURS], f"cname.{record}": [OURS]})
    assert deep.claims(snap, record, "A") == []
    with pytest.raises(InvalidName, match="_acme-challenge or _dnssync-acme"):
        deep.txt_name(record, "A", zone=ZONE)


def test_claims_other_owner() -> None:
    """Another owner's TXT is a claim, but not ours."""
    r = reg()
    claims = r.claims(snapshot({"a-www.example.com": [THEIRS]}), "www.example.com", "A")
    assert [c.owner for c in claims] == ["them"]
    assert r.owns(claims) is None


def test_owner_must_match_exactly() -> None:
    """'me2', 'Me' and ' me' are not 'me'."""
    r = reg()
    for owner in ("me2", "Me", " me"):
        value = f"heritage=external-dns,external-dns/owner={owner}"
        claims = r.claims(snapshot({"a-www.example.com": [value]}), "www.example.com", "A")
        assert r.owns(claims) is None


def test_claims_legacy_txt() -> None:
    """A legacy TXT at the record's own name is a legacy claim that can make it ours."""
    r = reg()
    claims = r.claims(snapshot({"www.example.com": [OURS]}), "www.example.com", "A")
    assert [(c.owner, c.legacy, c.ownership.name) for c in claims] == [
        ("me", True, "www.example.com")
    ]
    assert r.owns(claims) == claims[0]


def test_legacy_not_read_for_aaaa() -> None:
    """external-dns never falls back to the legacy name for AAAA; neither do we."""
    r = reg()
    assert r.claims(snapshot({"www.example.com": [OURS]}), "www.example.com", "AAAA") == []


def test_user_txt_beside_ours_is_ignored() -> None:
    """A user's SPF at the ownership name is not a claim; ours still is."""
    r = reg()
    claims = r.claims(snapshot({"a-www.example.com": [OURS, SPF]}), "www.example.com", "A")
    assert [c.ownership.value for c in claims] == [OURS]
    assert r.owns(claims) is not None


def test_user_txt_at_record_name_is_not_legacy_claim() -> None:
    """A user's TXT at the record name (the legacy place) claims nothing."""
    r = reg()
    assert r.claims(snapshot({"www.example.com": [SPF]}), "www.example.com", "A") == []


def test_typed_and_legacy_typed_first() -> None:
    """With both forms present, typed claims come first and owns picks the typed one."""
    r = reg()
    snap = snapshot({"a-www.example.com": [OURS], "www.example.com": [OURS]})
    claims = r.claims(snap, "www.example.com", "A")
    assert [c.legacy for c in claims] == [False, True]
    mine = r.owns(claims)
    assert mine is not None
    assert not mine.legacy


def test_typed_other_overrides_legacy_ours() -> None:
    """A typed TXT of another owner decides; our legacy TXT does not make it ours."""
    r = reg()
    snap = snapshot({"a-www.example.com": [THEIRS], "www.example.com": [OURS]})
    claims = r.claims(snap, "www.example.com", "A")
    assert len(claims) == 2
    assert [c.owner for c in r.effective(claims)] == ["them"]
    assert r.owns(claims) is None


def test_contested_typed_name_is_nobodys() -> None:
    """Two owners at one ownership name: not ours to change."""
    r = reg()
    claims = r.claims(snapshot({"a-www.example.com": [OURS, THEIRS]}), "www.example.com", "A")
    assert {c.owner for c in claims} == {"me", "them"}
    assert r.owns(claims) is None


def test_typed_name_of_another_record_is_not_a_legacy_claim() -> None:
    """Our TXT for (team, A) sits at a-team's name; it must not make a-team.example.com ours."""
    r = reg()
    own = r.ownership("team.example.com", "A", zone=ZONE, resource="ingress/ns/web")
    snap = snapshot({own.name: [own.value]})
    assert own.name == "a-team.example.com"
    assert r.owns(r.claims(snap, "team.example.com", "A")) is not None
    assert r.claims(snap, "a-team.example.com", "A") == []
    assert r.claims(snap, "a-team.example.com", "CNAME") == []


def test_claims_with_prefix_and_legacy_prefix() -> None:
    """With a prefix, typed and legacy claims are read at the prefixed names."""
    r = reg(prefix="extdns-")
    snap = snapshot({"extdns-cname-www.example.com": [THEIRS], "extdns-www.example.com": [OURS]})
    claims = r.claims(snap, "www.example.com", "CNAME")
    assert [(c.ownership.name, c.legacy) for c in claims] == [
        ("extdns-cname-www.example.com", False),
        ("extdns-www.example.com", True),
    ]


def test_apex_round_trip() -> None:
    """What dnssync writes for the apex reads back as ours."""
    r = reg()
    own = r.ownership(ZONE, "A", zone=ZONE, resource="ingress/ns/web")
    snap = snapshot({own.name: [own.value], ZONE: [SPF]})
    mine = r.owns(r.claims(snap, ZONE, "A"))
    assert mine is not None
    assert mine.ownership == own


def test_encrypted_claims_keep_stored_value() -> None:
    """A claim on an external-dns-encrypted TXT carries the exact stored text."""
    stored = external_dns_encrypt(OURS, KEY)
    r = reg(encryption_key=KEY)
    claims = r.claims(snapshot({"a-www.example.com": [stored]}), "www.example.com", "A")
    mine = r.owns(claims)
    assert mine is not None
    assert mine.ownership.value == stored
    assert mine.resource == "ingress/ns/web"


def test_claim_is_hashable_and_read_only() -> None:
    """Claims are frozen values; their labels cannot be changed."""
    claim = reg().claims(snapshot({"a-www.example.com": [OURS]}), "www.example.com", "A")[0]
    assert isinstance(claim, Claim)
    assert hash(claim) == hash(claim)
    with pytest.raises(TypeError):
        claim.labels["owner"] = "x"  # type: ignore[index]


def test_heritage_constant() -> None:
    """The heritage label value is external-dns's."""
    assert HERITAGE == "external-dns"


# --- properties -------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
# Labels close to ownership names ("a-aaaa", "x-a"): where collisions would hide.
_tight = st.from_regex(r"[ax]([acx-]{0,5}[ax])?", fullmatch=True)
_chunk = st.from_regex(r"[a-z0-9_-]{0,5}", fullmatch=True)
_zone = st.lists(_label, min_size=1, max_size=3).map(".".join)
_types = st.sampled_from(PARSED_TYPES)


@st.composite
def _affixes(draw: st.DrawFn) -> dict[str, str]:
    """Valid external-dns affix settings of every shape (with and without template)."""
    kind = draw(st.sampled_from(["none", "prefix", "suffix", "prefix-t", "suffix-t"]))
    a, b = draw(_chunk), draw(_chunk)
    sep = draw(st.sampled_from(["-", "_", "."]))
    dot = draw(st.sampled_from(["", "."]))
    options: dict[str, str] = {}
    if kind == "prefix":
        options["prefix"] = a + "x" + dot
    elif kind == "suffix":
        options["suffix"] = dot + "x" + a
    elif kind == "prefix-t":
        options["prefix"] = a + "%{record_type}" + sep + b + dot
    elif kind == "suffix-t":
        options["suffix"] = dot + a + sep + "%{record_type}" + b
    if draw(st.booleans()):
        options["wildcard_replacement"] = draw(_label)
    try:
        reg_of(options)
    except ConfigError:
        assume(False)
    return options


@st.composite
def _records(draw: st.DrawFn, zone: str) -> tuple[str, str]:
    depth = draw(st.integers(min_value=0, max_value=3))
    labels = draw(st.lists(st.one_of(_label, _tight), min_size=depth, max_size=depth))
    if labels and draw(st.integers(0, 5)) == 0:
        labels[0] = "*"
    name = ".".join([*labels, zone])
    return name, draw(_types)


@given(data=st.data(), zone=_zone, options=_affixes())
def test_property_txt_name_inside_zone(
    data: st.DataObject, zone: str, options: dict[str, str]
) -> None:
    """Every typed ownership name, apex included, lies strictly inside the zone."""
    r = reg_of(options)
    name, type_ = data.draw(_records(zone))
    txt = r.txt_name(name, type_, zone=zone)
    assert in_zone(txt, zone)
    assert txt != zone
    assert "" not in txt.split(".")
    assert r.is_registry_name(txt, zone=zone)
    legacy = r.legacy_txt_name(name, zone=zone)
    assert legacy is None or in_zone(legacy, zone)


@given(data=st.data(), zone=_zone, options=_affixes())
def test_property_no_collisions(data: st.DataObject, zone: str, options: dict[str, str]) -> None:
    """Distinct records of one zone (apex included) never share an ownership name.

    The one exception is inherited from external-dns: ``*.x`` and
    ``<replacement>.x`` are one record to its registry.
    """
    r = reg_of(options)
    records = data.draw(st.lists(_records(zone), min_size=2, max_size=12))
    records += [(zone, t) for t in ("A", "AAAA", "CNAME")]
    seen: dict[str, tuple[str, str]] = {}
    for name, type_ in records:
        first, _, rest = name.partition(".")
        replacement = options.get("wildcard_replacement", "")
        key = (f"{replacement}.{rest}" if first == "*" and replacement and rest else name, type_)
        txt = r.txt_name(name, type_, zone=zone)
        assert seen.setdefault(txt, key) == key, (txt, seen[txt], key)


@given(data=st.data(), zone=_zone, options=_affixes())
def test_property_external_dns_reads_our_names_back(
    data: st.DataObject, zone: str, options: dict[str, str]
) -> None:
    """external-dns's parser inverts every non-apex name; apex names parse to no other record."""
    r = reg_of(options)
    name, type_ = data.draw(_records(zone))
    parsed = r.parse_txt_name(r.txt_name(name, type_, zone=zone))
    if name == zone:
        # Either external-dns's own apex name, or one it reads as no valid record
        # of this zone: with the left inverse below, no record can share it.
        if parsed != (zone, type_):
            assert not _valid_record(parsed[0], zone)
        return
    first, _, rest = name.partition(".")
    if first == "*" and options.get("wildcard_replacement"):
        name = f"{options['wildcard_replacement']}.{rest}"
    assert parsed == (name, type_)


def _valid_record(name: str, zone: str) -> bool:
    try:
        return normalize(name, underscore=True) == name and in_zone(name, zone)
    except InvalidName:
        return False


@given(data=st.data(), zone=_zone, options=_affixes())
def test_property_each_record_sees_only_its_own_ownership(
    data: st.DataObject, zone: str, options: dict[str, str]
) -> None:
    """With every record's TXT written, each record's claims are exactly its own one.

    No typed TXT of one record is read as a legacy or typed claim of another.
    """
    r = reg_of(options)
    records = data.draw(st.lists(_records(zone), min_size=1, max_size=10))
    records += [(zone, "A"), (zone, "CNAME")]
    by_key: dict[tuple[str, str], str] = {}
    for name, type_ in records:
        by_key.setdefault((r.txt_name(name, type_, zone=zone), type_), name)
    txts: dict[str, list[str]] = {}
    written: dict[tuple[str, str], str] = {}
    for i, ((_, type_), name) in enumerate(sorted(by_key.items())):
        own = r.ownership(name, type_, zone=zone, resource=f"ingress/ns/r{i}")
        txts.setdefault(own.name, []).append(own.value)
        written[(name, type_)] = own.value
    snap = snapshot(txts, zone=zone)
    for (name, type_), value in written.items():
        claims = r.claims(snap, name, type_)
        assert [c.ownership.value for c in claims] == [value], (name, type_, claims)


_label_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=',="'), max_size=20)


@given(
    labels=st.dictionaries(_label_text.filter(lambda k: bool(k) and k != "heritage"), _label_text)
)
def test_property_format_parse_round_trip(labels: dict[str, str]) -> None:
    """parse_labels(format_labels(x)) == x for every storable label set."""
    assume(all(not k.startswith('"') for k in labels))
    text = format_labels(labels)
    assume(not text.endswith('"'))
    assert parse_labels(text) == labels


@given(
    data=st.data(),
    zone=_zone,
    options=_affixes(),
    resource=st.from_regex(r"(ingress|service)/[a-z0-9-]{1,10}/[a-z0-9-]{1,10}", fullmatch=True),
    encrypted=st.booleans(),
)
def test_property_ownership_reads_back_as_ours(
    data: st.DataObject, zone: str, options: dict[str, str], resource: str, encrypted: bool
) -> None:
    """Whatever dnssync writes for a record, claims/owns read back as ours, with the resource."""
    r = reg_of(options, KEY if encrypted else None)
    name, type_ = data.draw(_records(zone))
    own = r.ownership(name, type_, zone=zone, resource=resource)
    snap = snapshot({own.name: [own.value, SPF]}, zone=zone)
    mine = r.owns(r.claims(snap, name, type_))
    assert mine is not None
    assert (mine.ownership, mine.owner, mine.resource, mine.legacy) == (own, "me", resource, False)
