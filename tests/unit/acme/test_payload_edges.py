"""Payload edges that ``make mutation`` found unguarded in :mod:`dnssync.acme.payload`.

The discovery documents the kube-aggregator reads, whole; a failure answer's
defaults; an answer to a body with no request; certbot's half-set
environment.  Mutants left alive, equivalent:

* ``rstrip("XX=XX")`` in :func:`key_authorization_digest`: the 43rd character
  of a 32-byte digest encodes four bits and two zero bits, so it is never
  ``X`` and only ``=`` is ever stripped.
"""

from __future__ import annotations

import json

import pytest

from dnssync.acme.payload import (
    API_VERSION,
    KIND,
    Action,
    Challenge,
    api_group,
    api_group_list,
    api_resource_list,
    decode,
    hook_request,
    parse_challenge,
    parse_request,
    response,
)
from dnssync.errors import InvalidInput

GROUP = "acme.dnssync.io"
KEY = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


def _body(config: object) -> bytes:
    req = {"uid": "u", "action": "Present", "dnsName": "www.example.com", "key": KEY}
    return json.dumps({"request": {**req, "config": config}}).encode()


_VERSION = {"groupVersion": f"{GROUP}/v1alpha1", "version": "v1alpha1"}


def test_discovery_documents_are_exactly_what_the_aggregator_reads() -> None:
    """APIGroupList, APIGroup and APIResourceList, every field and its case."""
    group = {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [_VERSION],
        "preferredVersion": _VERSION,
    }
    assert api_group(GROUP) == group
    assert api_group_list(GROUP) == {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{k: v for k, v in group.items() if k not in ("kind", "apiVersion")}],
    }
    assert api_resource_list(GROUP, "dnssync") == {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{GROUP}/v1alpha1",
        "resources": [
            {
                "name": "dnssync",
                "singularName": "dnssync",
                "namespaced": False,
                "kind": "ChallengePayload",
                "verbs": ["create"],
            }
        ],
    }


def test_a_failure_without_reason_or_message_is_a_plain_failed_status() -> None:
    """Defaults: reason Failed, an empty message, metadata present as cert-manager decodes it."""
    out = response({"request": {"uid": "u"}}, uid="u", success=False)
    assert out["response"]["status"] == {
        "metadata": {},
        "status": "Failure",
        "reason": "Failed",
        "message": "",
    }


def test_an_answer_to_a_body_without_a_request_echoes_none() -> None:
    """A body that never decoded (None) or had no request still gets a ChallengePayload."""
    for obj in (None, {"request": "not an object"}):
        out = response(obj, uid="", success=False, reason="BadRequest", message="no")
        assert out == {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "response": {
                "uid": "",
                "success": False,
                "status": {
                    "metadata": {},
                    "status": "Failure",
                    "reason": "BadRequest",
                    "message": "no",
                },
            },
        }


@pytest.mark.parametrize(
    ("domain", "validation"), [("www.example.com", None), (None, KEY)], ids=["domain", "validation"]
)
def test_certbot_with_one_variable_is_the_usage_error(
    domain: str | None, validation: str | None
) -> None:
    """Either certbot variable alone is the usage line naming both ways to call the hook."""
    with pytest.raises(InvalidInput) as info:
        hook_request("present", [], certbot_domain=domain, certbot_validation=validation)
    assert str(info.value) == (
        "pass '<fqdn> <value>' (lego exec), or set CERTBOT_DOMAIN and "
        "CERTBOT_VALIDATION (certbot --manual-auth-hook)"
    )


def test_a_bad_certbot_domain_is_named_by_its_variable() -> None:
    """The error for an unusable CERTBOT_DOMAIN says it came from CERTBOT_DOMAIN."""
    with pytest.raises(InvalidInput) as info:
        hook_request("present", [], certbot_domain="a..b", certbot_validation=KEY)
    assert str(info.value).startswith("CERTBOT_DOMAIN: ")


def _error(args: list[str], **env: str | None) -> str:
    with pytest.raises(InvalidInput) as info:
        hook_request(
            "cleanup",
            args,
            certbot_domain=env.get("domain"),
            certbot_validation=env.get("validation"),
        )
    return str(info.value)


@pytest.mark.parametrize(
    ("args", "env", "start"),
    [
        ([], {"domain": "www.example.com", "validation": "short"}, "CERTBOT_VALIDATION: "),
        (["_acme-challenge.a..b.", KEY], {}, "fqdn argument: "),
        (["_acme-challenge.www.example.com.", "short"], {}, "value argument: "),
        (["a..b", "token", "token.thumb"], {}, "domain argument: "),
        (["www.example.com", "token", ""], {}, "the key authorization argument is empty"),
    ],
    ids=["certbot value", "lego fqdn", "lego value", "raw domain", "raw key authorization"],
)
def test_each_bad_hook_argument_is_named(args: list[str], env: dict[str, str], start: str) -> None:
    """A certbot or lego hook error says which variable or argument was wrong."""
    assert _error(args, **env).startswith(start)


def test_the_argument_count_error_shows_both_forms() -> None:
    """Four arguments: the count and both forms lego can call the hook with."""
    assert _error(["a", "b", "c", "d"]) == (
        "expected 0, 2 or 3 arguments after 'cleanup', got 4: "
        "'<fqdn> <value>' or '<domain> <token> <keyAuth>'"
    )


def test_lego_raw_mode_keeps_the_action_and_names_its_source() -> None:
    """RAW mode's request carries the action asked for and says it came from lego-raw."""
    req = hook_request(
        "cleanup", ["www.example.com", "t", "t.k"], certbot_domain=None, certbot_validation=None
    )
    assert (req.action, req.source) == (Action.CLEANUP, "lego-raw")


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ("x", "ChallengePayload request: config must be an object"),
        (
            {"zone": 1, "key": 2},
            "ChallengePayload request: config has unknown field(s) key, zone; known: server, ttl",
        ),
    ],
)
def test_a_bad_solver_config_is_named_with_its_place(config: object, text: str) -> None:
    """The issuer's config block errors say where the block was and which fields are unknown."""
    with pytest.raises(InvalidInput) as info:
        parse_request(decode(_body(config)))
    assert str(info.value) == text


def _options_error(config: object) -> str:
    with pytest.raises(InvalidInput) as info:
        parse_request(decode(_body(config)))
    return str(info.value)


@pytest.mark.parametrize("ttl", [1, 86_400])
def test_the_ttl_bounds_are_accepted(ttl: int) -> None:
    """A solver TTL of 1 s and of one day are both used as given."""
    assert parse_request(decode(_body({"ttl": ttl}))).options.ttl == ttl


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ({"ttl": 0}, "config.ttl must be an integer from 1 to 86400"),
        ({"ttl": 86_401}, "config.ttl must be an integer from 1 to 86400"),
        ({"ttl": True}, "config.ttl must be an integer from 1 to 86400"),
        ({"server": ""}, "config.server must be a server name"),
        ({"server": 3}, "config.server must be a server name"),
    ],
    ids=["ttl 0", "ttl over a day", "ttl true", "empty server", "server number"],
)
def test_out_of_range_solver_options_are_refused(config: object, text: str) -> None:
    """TTL 0, over a day or a JSON true, and an empty or non-text server: named, in place."""
    assert _options_error(config) == f"ChallengePayload request: {text}"


def _challenge(**meta: object) -> dict[str, object]:
    hook = {"groupName": GROUP, "solverName": "dnssync"}
    spec = {"type": "DNS-01", "dnsName": "www.example.com", "key": KEY}
    metadata = {"name": "c1", "namespace": "ns", **meta}
    return {"metadata": metadata, "spec": {**spec, "solver": {"dns01": {"webhook": hook}}}}


def _parse(obj: dict[str, object], solver: str = "dnssync") -> Challenge | None:
    return parse_challenge(obj, group_name=GROUP, solver_name=solver)


def test_a_challenge_of_another_solver_in_our_group_is_not_ours() -> None:
    """Same webhook group, another solver name: never solved, never cleaned up by us."""
    assert _parse(_challenge()) is not None
    assert _parse(_challenge(), solver="other") is None


def test_a_challenge_is_read_with_its_uid_name_and_state() -> None:
    """uid from metadata (else namespace/name), the dnsName as given, no status: state ''."""
    with_uid = _parse(_challenge(uid="u-7"))
    assert with_uid is not None
    assert (with_uid.uid, with_uid.dns_name, with_uid.state) == ("u-7", "www.example.com", "")
    without = _parse(_challenge())
    assert without is not None
    assert (without.uid, without.ref) == ("ns/c1", "ns/c1")


def test_a_challenge_whose_metadata_is_no_object_is_read_without_it() -> None:
    """metadata of another JSON type: no crash, an unnamed Challenge."""
    obj = _challenge()
    obj["metadata"] = ["not", "an", "object"]
    ch = _parse(obj)
    assert ch is not None
    assert (ch.uid, ch.ref) == ("/", "/")


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"dnsName": ""}, "Challenge ns/c1: spec.dnsName is missing"),
        ({"dnsName": 7}, "Challenge ns/c1: spec.dnsName is missing"),
        ({"dnsName": "a..b"}, "Challenge ns/c1 spec.dnsName: "),
        ({"key": "short"}, "Challenge ns/c1 spec.key: "),
    ],
    ids=["empty name", "name not text", "bad name", "bad key"],
)
def test_an_unusable_challenge_of_ours_names_the_field(spec: dict[str, object], text: str) -> None:
    """A missing or bad dnsName and a bad key: InvalidInput naming the Challenge and field."""
    obj = _challenge()
    obj["spec"] = {**obj["spec"], **spec}  # type: ignore[dict-item]
    with pytest.raises(InvalidInput) as info:
        _parse(obj)
    assert str(info.value).startswith(text)
