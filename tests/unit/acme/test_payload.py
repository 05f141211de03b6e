"""The webhook wire format, hook arguments and Challenge objects (payload.py)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from dnssync.acme.payload import (
    API_VERSION,
    KIND,
    Action,
    SolverOptions,
    api_group,
    api_group_list,
    api_resource_list,
    decode,
    hook_request,
    key_authorization_digest,
    parse_challenge,
    parse_request,
    parse_time,
    request_uid,
    response,
    status,
)
from dnssync.errors import InvalidInput, InvalidName

GROUP = "acme.dnssync.io"
SOLVER = "dnssync"
KEY = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


def body(**request: Any) -> bytes:
    req = {
        "uid": "u-1",
        "action": "Present",
        "type": "dns-01",
        "dnsName": "www.example.com",
        "key": KEY,
        "resourceNamespace": "cert-manager",
        "resolvedFQDN": "_acme-challenge.www.example.com.",
        "resolvedZone": "example.com.",
        "allowAmbientCredentials": False,
        "config": None,
    }
    req.update(request)
    return json.dumps({"apiVersion": API_VERSION, "kind": KIND, "request": req}).encode()


def test_request_is_parsed_from_a_full_payload() -> None:
    """A cert-manager Present payload yields the record, key, uid and action."""
    req = parse_request(decode(body()))
    assert req.action is Action.PRESENT
    assert req.record == "_acme-challenge.www.example.com"
    assert req.key == KEY
    assert req.uid == "u-1"
    assert req.namespace == "cert-manager"
    assert req.options == SolverOptions()


def test_missing_api_version_and_kind_are_accepted() -> None:
    """apiVersion/kind may be absent (cert-manager does not always send them)."""
    raw = json.dumps({"request": json.loads(body())["request"]}).encode()
    assert parse_request(decode(raw)).action is Action.PRESENT


def test_wrong_api_version_is_refused() -> None:
    """A different apiVersion is a bad request, not silently accepted."""
    raw = json.dumps({"apiVersion": "v1", "request": {}}).encode()
    with pytest.raises(InvalidInput, match="apiVersion"):
        decode(raw)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"kind": "ChallengePayload"}', "'request' is missing"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_bodies_are_bad_requests(raw: bytes, text: str) -> None:
    """Bodies that are not a ChallengePayload at all raise InvalidInput naming why."""
    with pytest.raises(InvalidInput, match=text):
        decode(raw)


def test_dns_name_is_used_when_resolved_fqdn_is_absent() -> None:
    """Without resolvedFQDN the record is _acme-challenge.<dnsName>; wildcards use the base."""
    req = parse_request(decode(body(resolvedFQDN="", dnsName="*.Example.COM")))
    assert req.record == "_acme-challenge.example.com"


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("action", "Destroy", "unknown action 'Destroy'"),
        ("action", "", "request.action is missing"),
        ("key", "", "request.key is missing"),
        ("key", "x" * 256, "not an ACME DNS-01 digest"),
        ("key", "bad\nkey", "not an ACME DNS-01 digest"),
        ("key", KEY[:42] + "=", "not an ACME DNS-01 digest"),
        (
            "key",
            "heritage=external-dns,external-dns/owner=prod,external-dns/resource=service/a/b",
            "not an ACME DNS-01 digest",
        ),
        ("resolvedFQDN", "a-victim.example.com.", "first label is _acme-challenge"),
        ("resolvedFQDN", "x._acme-challenge.example.com.", "first label is _acme-challenge"),
        ("type", "http-01", "only dns-01"),
        ("resolvedFQDN", "bad name!.example.com", "may only hold"),
        ("config", {"server": "a", "secret": "x"}, "unknown field"),
        ("config", {"ttl": 0}, "config.ttl"),
        ("config", "text", "config must be an object"),
    ],
)
def test_invalid_requests_are_refused_with_a_reason(field: str, value: object, text: str) -> None:
    """Each invalid field gives InvalidInput with a stable message naming it."""
    with pytest.raises(InvalidInput, match=text):
        parse_request(decode(body(**{field: value})))


def test_request_without_any_name_is_refused() -> None:
    """Neither resolvedFQDN nor dnsName: nothing to present."""
    with pytest.raises(InvalidInput, match="neither resolvedFQDN nor dnsName"):
        parse_request(decode(body(resolvedFQDN="", dnsName="")))


def test_options_from_config_block() -> None:
    """The solver config block selects a server and TTL."""
    req = parse_request(decode(body(config={"server": "bind", "ttl": 120})))
    assert req.options == SolverOptions(server="bind", ttl=120)


def test_uid_is_echoed_even_when_invalid() -> None:
    """request_uid reads the uid without validating the rest."""
    obj = decode(body(action="nope"))
    assert request_uid(obj) == "u-1"
    assert request_uid({"request": {"uid": 5}}) == ""


def test_success_response_echoes_request_and_sets_response() -> None:
    """The answer is a ChallengePayload with the request echoed and response.success."""
    obj = decode(body())
    out = response(obj, uid="u-1", success=True)
    assert out["apiVersion"] == API_VERSION
    assert out["kind"] == KIND
    assert out["request"] == obj["request"]
    assert out["response"] == {"uid": "u-1", "success": True}


def test_failure_response_carries_status_message() -> None:
    """A failure sets response.status with status Failure, a reason and the message."""
    out = response(decode(body()), uid="", success=False, reason="DNSRefused", message="boom")
    assert out["response"]["success"] is False
    assert out["response"]["uid"] == ""
    assert out["response"]["status"]["status"] == "Failure"
    assert out["response"]["status"]["reason"] == "DNSRefused"
    assert out["response"]["status"]["message"] == "boom"


def test_discovery_documents() -> None:
    """APIGroupList, APIGroup and APIResourceList as the kube-aggregator reads them."""
    res = api_resource_list(GROUP, SOLVER)
    assert res["kind"] == "APIResourceList"
    assert res["groupVersion"] == f"{GROUP}/v1alpha1"
    [resource] = res["resources"]
    assert resource["name"] == SOLVER
    assert resource["kind"] == "ChallengePayload"
    assert resource["verbs"] == ["create"]
    assert resource["namespaced"] is False
    group = api_group(GROUP)
    assert group["name"] == GROUP
    assert group["preferredVersion"]["groupVersion"] == f"{GROUP}/v1alpha1"
    groups = api_group_list(GROUP)
    assert groups["kind"] == "APIGroupList"
    assert groups["groups"][0]["name"] == GROUP
    assert "kind" not in groups["groups"][0]


def test_status_document() -> None:
    """Error bodies are meta/v1 Status objects."""
    st = status(401, "Unauthorized", "no")
    assert st == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "no",
        "reason": "Unauthorized",
        "code": 401,
    }


# --- hooks -----------------------------------------------------------------


def test_certbot_hook_reads_domain_and_validation() -> None:
    """No arguments: certbot's CERTBOT_DOMAIN / CERTBOT_VALIDATION."""
    req = hook_request("present", [], certbot_domain="*.Example.com", certbot_validation=KEY)
    assert (req.action, req.record, req.value, req.source) == (
        Action.PRESENT,
        "_acme-challenge.example.com",
        KEY,
        "certbot",
    )


def test_certbot_hook_without_environment_is_a_usage_error() -> None:
    """Missing certbot variables and no arguments: a clear usage error."""
    with pytest.raises(InvalidInput, match="CERTBOT_DOMAIN"):
        hook_request("cleanup", [], certbot_domain=None, certbot_validation=None)


def test_lego_exec_hook_takes_fqdn_and_value() -> None:
    """lego exec: '<fqdn> <value>'; a value may start with '-'."""
    req = hook_request(
        "cleanup",
        ["_acme-challenge.www.example.com.", "-" + KEY[1:]],
        certbot_domain=None,
        certbot_validation=None,
    )
    assert (req.action, req.record, req.value, req.source) == (
        Action.CLEANUP,
        "_acme-challenge.www.example.com",
        "-" + KEY[1:],
        "lego",
    )


def test_lego_raw_mode_hashes_the_key_authorization() -> None:
    """lego RAW mode: the value is base64url(SHA-256(keyAuth)) without padding."""
    key_auth = "token.thumbprint"
    req = hook_request(
        "present",
        ["www.example.com", "token", key_auth],
        certbot_domain=None,
        certbot_validation=None,
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(key_auth.encode()).digest()).rstrip(b"=")
    assert req.value == expected.decode()
    assert len(req.value) == 43
    assert req.record == "_acme-challenge.www.example.com"
    assert key_authorization_digest(key_auth) == req.value


@pytest.mark.parametrize("args", [["one"], ["a", "b", "c", "d"]])
def test_wrong_argument_count_is_a_usage_error(args: list[str]) -> None:
    """Only 0, 2 or 3 arguments mean something."""
    with pytest.raises(InvalidInput, match="expected 0, 2 or 3 arguments"):
        hook_request("present", args, certbot_domain=None, certbot_validation=None)


def test_unknown_hook_action() -> None:
    """Only present and cleanup exist."""
    with pytest.raises(InvalidInput, match="unknown hook action"):
        hook_request("auth", [], certbot_domain="a.b", certbot_validation="v")


def test_bad_domain_in_hook_is_invalid_name() -> None:
    """A domain that is not a DNS name is refused before any I/O."""
    with pytest.raises(InvalidName):
        hook_request("present", [], certbot_domain="bad domain", certbot_validation="v")


# --- Challenge objects -------------------------------------------------------


def challenge(
    *,
    group: str = GROUP,
    solver: str = SOLVER,
    state: str | None = "pending",
    deleting: bool = False,
    type_: str = "DNS-01",
    config: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "c1",
        "namespace": "ns",
        "uid": "uid-1",
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "finalizers": ["acme.cert-manager.io/finalizer"],
    }
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:05:00Z"
    hook: dict[str, Any] = {"groupName": group, "solverName": solver}
    if config is not None:
        hook["config"] = config
    body = {
        "dnsName": "www.example.com",
        "wildcard": False,
        "type": type_,
        "key": KEY,
        "token": "tok",
        "url": "https://acme.example/chall/1",
        "solver": {"dns01": {"webhook": hook}},
    }
    body.update(spec)
    obj: dict[str, Any] = {"metadata": meta, "spec": body}
    if state is not None:
        obj["status"] = {"state": state, "processing": True, "presented": False}
    return obj


def test_our_challenge_is_parsed() -> None:
    """A DNS-01 Challenge for our group/solver becomes a live Challenge."""
    ch = parse_challenge(challenge(config={"ttl": 30}), group_name=GROUP, solver_name=SOLVER)
    assert ch is not None
    assert ch.record == "_acme-challenge.www.example.com"
    assert ch.key == KEY
    assert ch.live
    assert ch.created == 1714557600.0
    assert ch.options.ttl == 30
    assert ch.ref == "ns/c1"


@pytest.mark.parametrize(
    "obj",
    [
        challenge(group="acme.other.io"),
        challenge(solver="other"),
        challenge(type_="HTTP-01"),
        {"metadata": {"name": "x"}, "spec": {"type": "DNS-01", "solver": {"dns01": {}}}},
        {"metadata": {"name": "x"}},
    ],
)
def test_other_solvers_challenges_are_not_ours(obj: dict[str, Any]) -> None:
    """Other webhooks, other solvers and HTTP-01 Challenges are ignored."""
    assert parse_challenge(obj, group_name=GROUP, solver_name=SOLVER) is None


@pytest.mark.parametrize("state", ["valid", "invalid", "errored", "expired", "Valid"])
def test_final_states_are_not_live(state: str) -> None:
    """Finished Challenges no longer need their value."""
    ch = parse_challenge(challenge(state=state), group_name=GROUP, solver_name=SOLVER)
    assert ch is not None
    assert not ch.live


def test_deleting_and_stateless_challenges() -> None:
    """A Challenge being deleted is not live; one without status yet is."""
    gone = parse_challenge(challenge(deleting=True), group_name=GROUP, solver_name=SOLVER)
    new = parse_challenge(challenge(state=None), group_name=GROUP, solver_name=SOLVER)
    assert gone is not None
    assert not gone.live
    assert new is not None
    assert new.live


def test_our_challenge_without_key_is_invalid() -> None:
    """Ours but unusable: InvalidInput naming the Challenge."""
    obj = challenge()
    del obj["spec"]["key"]
    with pytest.raises(InvalidInput, match=r"Challenge ns/c1: spec\.key"):
        parse_challenge(obj, group_name=GROUP, solver_name=SOLVER)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2024-05-01T10:00:00.123456Z", 1714557600.0),
        ("2024-05-01T12:00:00+02:00", 1714557600.0),
        ("2024-05-01T08:30:00-01:30", 1714557600.0),
        ("yesterday", None),
        (None, None),
        ("2024-13-45T99:00:00Z", None),
    ],
)
def test_parse_time(text: object, epoch: float | None) -> None:
    """RFC 3339 timestamps as Kubernetes writes them; junk gives None."""
    assert parse_time(text) == epoch
