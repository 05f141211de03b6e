"""API errors as the real server reports them: a `Status` object plus an HTTP code.

Every failure the fake produces goes through `ApiError`, so the JSON body,
reason and details have one shape everywhere (and match what
kubernetes-asyncio's `ApiException` and `Watch` parse: an in-stream ERROR
without `reason` and `message` would crash the client with a KeyError).
"""

from __future__ import annotations

from typing import Any

from .resources import JsonObj, ResourceType

# The `reason` the real server puts in a Status for a bare HTTP code.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

# Messages for injected failures, worded like the real server's.
_INJECTED_MESSAGES: dict[int, str] = {
    401: "Unauthorized",
    403: 'forbidden: RBAC: clusterrole.rbac.authorization.k8s.io "dnssync" not found',
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected by FakeKube",
    503: "the server is currently unable to handle the request",
    504: "Timeout: request did not complete within requested timeout - context deadline exceeded",
}


class ApiError(Exception):
    """A request failure: HTTP `code` with a `Status` body."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: JsonObj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self) -> JsonObj:
        """The Status object, keys in the order the real server writes them."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(rtype: ResourceType, name: str, kind: str | None = None) -> JsonObj:
    details: JsonObj = {"name": name}
    if rtype.group:
        details["group"] = rtype.group
    details["kind"] = kind or rtype.plural
    return details


def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(404, f'{rtype.qualified} "{name}" not found', details=_details(rtype, name))


def already_exists(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        f'{rtype.qualified} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(rtype, name),
    )


def conflict(rtype: ResourceType, name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version"
        " and try again"
    )
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {rtype.qualified} "{name}": {why}',
        details=_details(rtype, name),
    )


def invalid(rtype: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; `causes` are (field, message) pairs."""
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    details = _details(rtype, name, kind=rtype.kind)
    details["causes"] = [
        {"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes
    ]
    return ApiError(422, f'{rtype.kind} "{name}" is invalid: {text}', details=details)


def expired(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")


def injected(code: int, retry_after: str = "1") -> ApiError:
    """A failure queued with `FakeKube.fail_next` or `fail_for`."""
    headers = {"Retry-After": retry_after} if code in (429, 503) else None
    message = _INJECTED_MESSAGES.get(code, f"injected failure {code}")
    return ApiError(code, message, headers=headers)
