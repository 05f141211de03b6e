"""Annotation reading, the opt-in filter, and TTL / target / host name parsing."""

from __future__ import annotations

import pytest

from dnssync.errors import ConfigError, InvalidInput, InvalidName
from dnssync.sources.annotations import (
    ALPHA_PREFIX,
    DEFAULT_PREFIX,
    find,
    get,
    parse_hostnames,
    parse_target,
    parse_targets,
    parse_ttl,
    split_list,
)
from dnssync.sources.selector import parse_filter

P, OTHER = DEFAULT_PREFIX, ALPHA_PREFIX  # read by default; read only when configured
WHERE = "service default/web: annotation external-dns.alpha.kubernetes.io/x"


# --- prefixes -------------------------------------------------------------------


def test_default_prefix_is_external_dns_v022s() -> None:
    """Without configuration annotations are read under external-dns.kubernetes.io/ only."""
    assert DEFAULT_PREFIX == "external-dns.kubernetes.io/"
    assert get({ALPHA_PREFIX + "hostname": "a.example.com"}, "hostname") is None
    assert get({DEFAULT_PREFIX + "hostname": "a.example.com"}, "hostname") == "a.example.com"


def test_configured_prefix_is_the_only_one_read() -> None:
    """With the alpha prefix configured, the v0.22 default prefix is ignored: no fallback."""
    annotations = {DEFAULT_PREFIX + "ttl": "60", ALPHA_PREFIX + "ttl": "120"}
    assert get(annotations, "ttl", ALPHA_PREFIX) == "120"
    assert find(annotations, "ttl", ALPHA_PREFIX) == (ALPHA_PREFIX + "ttl", "120")
    assert get({DEFAULT_PREFIX + "ttl": "60"}, "ttl", ALPHA_PREFIX) is None


def test_get_missing_is_none() -> None:
    """A missing annotation reads as None, not an empty string."""
    assert get({"other/hostname": "x"}, "hostname") is None


def test_empty_value_is_read_as_set() -> None:
    """An empty annotation is present (external-dns distinguishes empty from absent)."""
    assert get({P + "target": ""}, "target") == ""


def test_find_names_the_annotation_read() -> None:
    """find() returns the full annotation name so errors can cite it."""
    assert find({P + "ttl": "60"}, "ttl") == (P + "ttl", "60")


def test_split_list_strips_and_drops_empty_items() -> None:
    """Comma lists are stripped item by item; empty items (trailing commas) vanish."""
    assert split_list(" a.example.com , b.example.com,, ") == ["a.example.com", "b.example.com"]
    assert split_list("  ") == []


# --- filter ---------------------------------------------------------------------

MANAGE = P + "manage"


@pytest.mark.parametrize(
    ("text", "annotations", "expected"),
    [
        (f"{MANAGE}=mdapi", {MANAGE: "mdapi"}, True),
        (f"{MANAGE}=mdapi", {MANAGE: "other"}, False),
        (f"{MANAGE}=mdapi", {}, False),
        (f"{MANAGE}==mdapi", {MANAGE: "mdapi"}, True),
        (f"{MANAGE}!=mdapi", {MANAGE: "other"}, True),
        (f"{MANAGE}!=mdapi", {}, True),
        (f"{MANAGE}!=mdapi", {MANAGE: "mdapi"}, False),
        (f"{MANAGE} in (mdapi, lab)", {MANAGE: "lab"}, True),
        (f"{MANAGE} in (mdapi,lab)", {MANAGE: "prod"}, False),
        (f"{MANAGE} in (mdapi,lab)", {}, False),
        (f"{MANAGE} notin (mdapi,lab)", {MANAGE: "prod"}, True),
        (f"{MANAGE} notin (mdapi,lab)", {}, True),
        (f"{MANAGE} notin (mdapi,lab)", {MANAGE: "lab"}, False),
        (MANAGE, {MANAGE: ""}, True),
        (MANAGE, {}, False),
        (f"!{MANAGE}", {}, True),
        (f"!{MANAGE}", {MANAGE: "x"}, False),
        ("team=a", {"team": "a"}, True),
        (f"{MANAGE}=", {MANAGE: ""}, True),
        (f"{MANAGE}=", {MANAGE: "x"}, False),
    ],
)
def test_filter_operators(text: str, annotations: dict[str, str], expected: bool) -> None:
    """Every label-selector operator matches as Kubernetes defines it."""
    assert parse_filter(text).matches(annotations) is expected


def test_filter_comma_is_and() -> None:
    """Requirements separated by commas must all hold."""
    f = parse_filter(f"{MANAGE}=mdapi, !skip, team in (a,b)")
    assert f.matches({MANAGE: "mdapi", "team": "a"})
    assert not f.matches({MANAGE: "mdapi", "team": "a", "skip": "1"})
    assert not f.matches({MANAGE: "mdapi", "team": "c"})
    assert len(f.requirements) == 3


def test_empty_filter_matches_everything() -> None:
    """An empty or blank filter selects every object."""
    assert parse_filter("").matches({})
    assert parse_filter("   ").matches({"a": "b"})


def test_filter_keys_are_matched_exactly() -> None:
    """A filter key matches only that annotation, as external-dns's selector: no prefix aliasing."""
    f = parse_filter(f"{MANAGE}=mdapi")
    assert not f.matches({OTHER + "manage": "mdapi"})
    assert f.matches({MANAGE: "mdapi"})
    assert parse_filter(f"!{MANAGE}").matches({OTHER + "manage": "x"})


def test_filter_text_round_trips() -> None:
    """str() of a filter is the text it was parsed from (for logs)."""
    assert str(parse_filter("a=b")) == "a=b"


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("a b", 3, "expected an operator"),
        ("a,", 3, "expected a requirement after ','"),
        (",a", 1, "expected an annotation name"),
        ("!a=b", 3, "expected ',' after '!a'"),
        ("a=b c", 5, "expected ',' or the end"),
        ("a in x", 6, "expected '('"),
        ("a in ()", 7, "can't be empty"),
        ("a in (x y)", 9, "expected ',' or ')'"),
        ("a > 3", 3, "not supported"),
        ("a < 3", 3, "not supported"),
        ("a=(", 3, "expected a value"),
        ("Bad_Prefix/x=1", 1, "DNS subdomain"),
        ("-a=1", 1, "name part"),
        ("a=-x", 3, "invalid value"),
        (f"a={'v' * 64}", 3, "invalid value"),
        (f"{'k' * 64}=1", 1, "longer than 63"),
        ("/a=1", 1, "prefix before '/' is empty"),
        ("in=1", 1, "expected an annotation name"),
    ],
)
def test_filter_errors_give_position_and_reason(text: str, position: int, reason: str) -> None:
    """Bad filter syntax raises ConfigError naming the character position and the reason."""
    with pytest.raises(ConfigError) as e:
        parse_filter(text)
    message = str(e.value)
    assert f"at character {position}:" in message
    assert reason in message
    assert repr(text) in message


def test_filter_in_list_allows_empty_member() -> None:
    """`key in (a,)` also admits the empty value, as Kubernetes parses it."""
    f = parse_filter("a in (x,)")
    assert f.matches({"a": ""})
    assert f.matches({"a": "x"})


# --- ttl ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60", 60),
        ("+60", 60),
        (" 300 ", 300),
        ("1m30s", 90),
        ("2h", 7200),
        ("10m", 600),
        ("1.5s", 1),
        (".5m", 30),
        ("1h0m1s", 3601),
        ("1500ms", 1),
        ("2147483647", 2147483647),
    ],
)
def test_ttl_forms(text: str, seconds: int) -> None:
    """TTLs are whole seconds or Go durations (fractions of a second dropped)."""
    assert parse_ttl(text, where=WHERE) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "500ms", "-5", "-1m", "2147483648", "596524h"])
def test_ttl_out_of_range(text: str) -> None:
    """TTLs outside 1..2147483647 seconds are refused with the range in the message."""
    with pytest.raises(InvalidInput) as e:
        parse_ttl(text, where=WHERE)
    assert "between 1 and 2147483647" in str(e.value)
    assert e.value.where == WHERE
    assert repr(text) in str(e.value)


@pytest.mark.parametrize(
    "text", ["", "abc", "1h1", "5 m", "1d", "1e3", ".", "s", "60s60", "99999999999999999h"]
)
def test_ttl_invalid_text(text: str) -> None:
    """Text that is neither an integer nor a Go duration is refused, naming the value."""
    with pytest.raises(InvalidInput) as e:
        parse_ttl(text, where=WHERE)
    assert e.value.where == WHERE
    assert "not a valid TTL" in str(e.value)
    assert repr(text) in str(e.value)


# --- targets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", ("A", "192.0.2.1")),
        ("192.0.2.1.", ("A", "192.0.2.1")),
        ("2001:DB8:0:0::1", ("AAAA", "2001:db8::1")),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", ("AAAA", "2001:db8::1")),
        ("::ffff:192.0.2.7", ("A", "192.0.2.7")),
        ("LB.Example.COM.", ("CNAME", "lb.example.com")),
        ("a-1.elb.amazonaws.com", ("CNAME", "a-1.elb.amazonaws.com")),
    ],
)
def test_target_kinds(text: str, expected: tuple[str, str]) -> None:
    """IPv4 -> A, IPv6 -> AAAA (compressed), host names -> CNAME (canonical)."""
    assert parse_target(text, where=WHERE) == expected


def test_targets_list_mixed() -> None:
    """A comma list yields one (type, value) per item, in order, of mixed kinds."""
    assert parse_targets("192.0.2.1, 2001:db8::2,lb.example.com", where=WHERE) == [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::2"),
        ("CNAME", "lb.example.com"),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("192.0.2.300", "neither an IP address nor a host name"),
        ("10.1", "neither an IP address nor a host name"),
        ("fe80::1%eth0", "zone index"),
        ("lb example.com", "may only hold"),
        ("-lb.example.com", "may not start or end with '-'"),
        ("*.example.com", "may only hold"),
        ("a..b", "empty label"),
    ],
)
def test_bad_targets(text: str, reason: str) -> None:
    """Bad targets raise InvalidInput naming the annotation and the reason."""
    with pytest.raises(InvalidInput) as e:
        parse_targets(f"192.0.2.1,{text}", where=WHERE)
    assert reason in str(e.value)
    assert e.value.where == WHERE


def test_empty_target_item_is_refused_alone() -> None:
    """parse_target refuses an empty value (lists skip empty items instead)."""
    with pytest.raises(InvalidInput, match="empty target"):
        parse_target("  ", where=WHERE)
    assert parse_targets("192.0.2.1,", where=WHERE) == [("A", "192.0.2.1")]


# --- host names -----------------------------------------------------------------


def test_hostnames_normalized_and_wildcards_allowed() -> None:
    """Host names are lower-cased, lose the trailing dot, and may start with '*'."""
    assert parse_hostnames("WWW.Example.com., *.apps.example.com", where=WHERE) == [
        "www.example.com",
        "*.apps.example.com",
    ]


def test_hostnames_idna() -> None:
    """International names become A-labels."""
    assert parse_hostnames("bücher.example", where=WHERE) == ["xn--bcher-kva.example"]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("x" * 64 + ".example.com", "at most 63"),
        (".".join(["a" * 60] * 5), "at most 253"),
        ("bad_name.example.com", "may only hold"),
        ("a b.example.com", "may only hold"),
    ],
)
def test_hostname_errors_name_the_bad_one(bad: str, reason: str) -> None:
    """A bad host name raises InvalidName citing the name and the reason."""
    with pytest.raises(InvalidName) as e:
        parse_hostnames(f"ok.example.com,{bad}", where=WHERE)
    assert reason in str(e.value)
    assert bad[:20] in str(e.value)
    assert e.value.where == WHERE
