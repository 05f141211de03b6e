"""Pure: what cert-manager, certbot, lego and Challenge objects hand us, and our answers.

* The webhook's wire format (cert-manager v1.21, ``webhook.acme.cert-manager.io/v1alpha1``):
  a ``ChallengePayload`` in, the same object with ``response`` out; the
  discovery documents the kube-aggregator reads; ``Status`` error bodies.
* The manual-hook arguments of certbot (environment) and lego's ``exec``
  provider (argv, default and RAW modes).
* cert-manager ``Challenge`` objects (``acme.cert-manager.io/v1``), reduced to
  what the watcher needs.

No I/O, no clock, no environment: callers pass in bytes, mappings and times.
Every error is :class:`~dnssync.errors.InvalidInput` with a stable text.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dnssync.acme.records import challenge_name, check_value, record_name
from dnssync.errors import InvalidInput

API_VERSION = "webhook.acme.cert-manager.io/v1alpha1"
VERSION = "v1alpha1"
KIND = "ChallengePayload"
#: Challenge states after which cert-manager no longer needs the value.
FINAL_STATES = frozenset({"valid", "invalid", "errored", "expired"})
_WHERE = "ChallengePayload"

JsonObj = dict[str, Any]


class Action(StrEnum):
    PRESENT = "Present"
    CLEANUP = "CleanUp"


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """The issuer's ``config`` block for our solver (never secrets)."""

    server: str | None = None  # a configured server's name
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class ChallengeRequest:
    """One Present or CleanUp, validated."""

    uid: str
    action: Action
    dns_name: str
    record: str  # the TXT record name, normalised (_acme-challenge.x)
    key: str
    namespace: str
    options: SolverOptions


# --- webhook payloads ------------------------------------------------------


def decode(body: bytes) -> JsonObj:
    """The JSON object of a request body, or :class:`InvalidInput` (HTTP 400)."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not valid JSON", where=_WHERE) from None
    except RecursionError:
        # json's decoder recurses once per nesting level: a deep body is hostile.
        raise InvalidInput("the body is nested too deeply", where=_WHERE) from None
    if not isinstance(obj, dict):
        raise InvalidInput("the body is not a JSON object", where=_WHERE)
    api_version = obj.get("apiVersion")
    if api_version not in (None, "", API_VERSION):
        raise InvalidInput(f"apiVersion must be {API_VERSION!r}", where=_WHERE)
    if obj.get("kind") not in (None, "", KIND):
        raise InvalidInput(f"kind must be {KIND!r}", where=_WHERE)
    if not isinstance(obj.get("request"), dict):
        raise InvalidInput("'request' is missing or not an object", where=_WHERE)
    return obj


def request_uid(obj: Mapping[str, Any]) -> str:
    """The request's uid as sent (echoed even when the rest is invalid)."""
    req = obj.get("request")
    uid = req.get("uid") if isinstance(req, Mapping) else None
    return uid if isinstance(uid, str) else ""


def _str(req: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = req.get(key)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"request.{key} is missing or empty", where=_WHERE)
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"request.{key} must be a string", where=_WHERE)
    return value


def parse_options(config: object, *, where: str = _WHERE) -> SolverOptions:
    """The solver's ``config`` block: ``server`` and ``ttl``, nothing else."""
    if config is None:
        return SolverOptions()
    if not isinstance(config, Mapping):
        raise InvalidInput("config must be an object", where=where)
    unknown = sorted(set(config) - {"server", "ttl"})
    if unknown:
        raise InvalidInput(
            f"config has unknown field(s) {', '.join(unknown)}; known: server, ttl", where=where
        )
    server = config.get("server")
    if server is not None and (not isinstance(server, str) or not server):
        raise InvalidInput("config.server must be a server name", where=where)
    ttl = config.get("ttl")
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= 86_400
    ):
        raise InvalidInput("config.ttl must be an integer from 1 to 86400", where=where)
    return SolverOptions(server=server, ttl=ttl)


def parse_request(obj: Mapping[str, Any]) -> ChallengeRequest:
    """Validate ``obj['request']`` (already :func:`decode`-d)."""
    req = obj["request"]
    uid = request_uid(obj)
    action_text = _str(req, "action")
    try:
        action = Action(action_text)
    except ValueError:
        raise InvalidInput(
            f"unknown action {action_text[:40]!r}; expected 'Present' or 'CleanUp'", where=_WHERE
        ) from None
    type_ = _str(req, "type", required=False)
    if type_ and type_.lower() != "dns-01":
        raise InvalidInput(f"unsupported challenge type {type_[:20]!r}; only dns-01", where=_WHERE)
    key = check_value(_str(req, "key"), where=_WHERE)
    dns_name = _str(req, "dnsName", required=False)
    resolved = _str(req, "resolvedFQDN", required=False)
    if resolved:
        record = record_name(resolved, where=f"{_WHERE} request.resolvedFQDN")
    elif dns_name:
        record = challenge_name(dns_name, where=f"{_WHERE} request.dnsName")
    else:
        raise InvalidInput("request has neither resolvedFQDN nor dnsName", where=_WHERE)
    namespace = _str(req, "resourceNamespace", required=False)
    options = parse_options(req.get("config"), where=f"{_WHERE} request")
    return ChallengeRequest(uid, action, dns_name or resolved, record, key, namespace, options)


def response(
    obj: Mapping[str, Any] | None,
    *,
    uid: str,
    success: bool,
    reason: str = "",
    message: str = "",
) -> JsonObj:
    """The ChallengePayload answer: the request echoed, ``response`` always set."""
    out: JsonObj = {"apiVersion": API_VERSION, "kind": KIND}
    if obj is not None and isinstance(obj.get("request"), Mapping):
        out["request"] = obj["request"]
    resp: JsonObj = {"uid": uid, "success": success}
    if not success:
        resp["status"] = {
            "metadata": {},
            "status": "Failure",
            "reason": reason or "Failed",
            "message": message,
        }
    out["response"] = resp
    return out


def status(code: int, reason: str, message: str) -> JsonObj:
    """A ``meta/v1`` Status error body, as any API server sends."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


# --- discovery -------------------------------------------------------------


def _group_version(group: str) -> JsonObj:
    return {"groupVersion": f"{group}/{VERSION}", "version": VERSION}


def api_group(group: str) -> JsonObj:
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [_group_version(group)],
        "preferredVersion": _group_version(group),
    }


def api_group_list(group: str) -> JsonObj:
    doc = api_group(group)
    del doc["kind"], doc["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [doc]}


def api_resource_list(group: str, solver: str) -> JsonObj:
    """What the aggregator's availability check and cert-manager's client read."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{VERSION}",
        "resources": [
            {
                "name": solver,
                "singularName": solver,
                "namespaced": False,
                "kind": KIND,
                "verbs": ["create"],
            }
        ],
    }


# --- manual hooks ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HookRequest:
    """One present / clean-up asked for by certbot or lego."""

    action: Action
    record: str
    value: str
    source: str  # "certbot", "lego" or "lego-raw"


def key_authorization_digest(key_authorization: str) -> str:
    """The DNS-01 TXT value: base64url(SHA-256(keyAuthorization)), unpadded (RFC 8555 §8.4)."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hook_request(
    action: str,
    args: Sequence[str],
    *,
    certbot_domain: str | None,
    certbot_validation: str | None,
) -> HookRequest:
    """Interpret a hook call.

    * no arguments: certbot (``CERTBOT_DOMAIN``, ``CERTBOT_VALIDATION``);
    * ``<fqdn> <value>``: lego ``exec`` (``_acme-challenge.x.`` and the value);
    * ``<domain> <token> <keyAuth>``: lego ``exec`` with ``EXEC_MODE=RAW``.
    """
    try:
        act = {"present": Action.PRESENT, "cleanup": Action.CLEANUP}[action.lower()]
    except KeyError:
        raise InvalidInput(f"unknown hook action {action!r}; use present or cleanup") from None
    if not args:
        if not certbot_domain or not certbot_validation:
            raise InvalidInput(
                "pass '<fqdn> <value>' (lego exec), or set CERTBOT_DOMAIN and "
                "CERTBOT_VALIDATION (certbot --manual-auth-hook)"
            )
        where = "CERTBOT_DOMAIN"
        return HookRequest(
            act,
            challenge_name(certbot_domain, where=where),
            check_value(certbot_validation, where="CERTBOT_VALIDATION"),
            "certbot",
        )
    if len(args) == 2:
        return HookRequest(
            act,
            record_name(args[0], where="fqdn argument"),
            check_value(args[1], where="value argument"),
            "lego",
        )
    if len(args) == 3:
        domain, _token, key_auth = args
        if not key_auth:
            raise InvalidInput("the key authorization argument is empty")
        return HookRequest(
            act,
            challenge_name(domain, where="domain argument"),
            key_authorization_digest(key_auth),
            "lego-raw",
        )
    raise InvalidInput(
        f"expected 0, 2 or 3 arguments after {action!r}, got {len(args)}: "
        "'<fqdn> <value>' or '<domain> <token> <keyAuth>'"
    )


# --- Challenge objects -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """A cert-manager DNS-01 Challenge solved by our webhook."""

    uid: str
    namespace: str
    name: str
    dns_name: str
    record: str
    key: str
    state: str
    created: float | None  # epoch seconds (metadata.creationTimestamp)
    deleting: bool
    options: SolverOptions

    @property
    def live(self) -> bool:
        """cert-manager still needs the value in DNS."""
        return not self.deleting and self.state not in FINAL_STATES

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: object) -> float | None:
    """Epoch seconds of a Kubernetes RFC 3339 timestamp, None when absent or bad."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    try:
        epoch = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    tz = m.group(7)
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        epoch -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return float(epoch)


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def is_ours(obj: Mapping[str, Any], *, group_name: str, solver_name: str) -> bool:
    """A DNS-01 Challenge whose solver is our webhook (group and solver name)."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return False
    if str(spec.get("type") or "").lower() != "dns-01":
        return False
    hook = _get(spec, "solver", "dns01", "webhook")
    return (
        isinstance(hook, Mapping)
        and hook.get("groupName") == group_name
        and hook.get("solverName") == solver_name
    )


def parse_challenge(
    obj: Mapping[str, Any], *, group_name: str, solver_name: str
) -> Challenge | None:
    """Our Challenge, None when another solver's; InvalidInput when ours but unusable."""
    if not is_ours(obj, group_name=group_name, solver_name=solver_name):
        return None
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    spec = obj["spec"]
    namespace = str(meta.get("namespace") or "")
    name = str(meta.get("name") or "")
    where = f"Challenge {namespace}/{name}"
    dns_name = spec.get("dnsName")
    key = spec.get("key")
    if not isinstance(dns_name, str) or not dns_name:
        raise InvalidInput("spec.dnsName is missing", where=where)
    if not isinstance(key, str):
        raise InvalidInput("spec.key is missing", where=where)
    state = _get(obj, "status", "state")
    return Challenge(
        uid=str(meta.get("uid") or f"{namespace}/{name}"),
        namespace=namespace,
        name=name,
        dns_name=dns_name,
        record=challenge_name(dns_name, where=f"{where} spec.dnsName"),
        key=check_value(key, where=f"{where} spec.key"),
        state=str(state or "").lower(),
        created=parse_time(meta.get("creationTimestamp")),
        deleting=bool(meta.get("deletionTimestamp")),
        options=parse_options(_get(spec, "solver", "dns01", "webhook", "config"), where=where),
    )
