"""The one translator of Kubernetes API failures into dnssync's error tree.

Every call into the API goes through :func:`translating` (or :func:`check`
for a raw ``_preload_content=False`` response), whoever makes it: informers,
leader election, the Event recorder, the webhook's ConfigMap read.  What is
transient is decided here, once:

* 5xx, 429 (with its ``Retry-After``), disconnects, timeouts and answers that
  do not decode are :class:`~dnssync.errors.KubeUnavailable` (retry);
* 401 and 403 are :class:`~dnssync.errors.KubeRefused`: an API server answers
  403 for seconds after a restart, while its RBAC cache fills, so callers
  retry them for a grace period before believing them;
* 404, 409, 410 and the rest get their own classes.

Messages are one line: the operation, the code, and the server's own
``Status.message`` -- never HTTP headers, bodies or credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from dnssync.errors import (
    KubeConflict,
    KubeError,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeRefused,
    KubeUnavailable,
)

_MESSAGE_MAX = 300

_HINTS = {
    401: "the API server does not accept dnssync's credentials (expired or wrong token?)",
    403: "check the ServiceAccount's RBAC",
}


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from the API server; our backoff applies


def _status_message(body: object) -> str:
    """The ``message`` of a Status body, if the body is one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return ""
    try:
        status = json.loads(body)
    except ValueError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return " ".join(str(message).split())[:_MESSAGE_MAX] if message else ""


def from_status(
    what: str,
    status: int,
    reason: str = "",
    *,
    message: str = "",
    headers: Mapping[str, str] | None = None,
) -> KubeError:
    """The error for an HTTP answer ``status`` to ``what``."""
    text = f"{what}: {status} {reason}".rstrip()
    if message:
        text += f": {message}"
    if status in _HINTS:
        text += f" ({_HINTS[status]})"
    kw: dict[str, Any] = {"status": status, "reason": reason}
    if status in (401, 403):
        return KubeRefused(text, **kw)
    if status == 404:
        return KubeNotFound(text, **kw)
    if status == 409:
        return KubeConflict(text, **kw)
    if status == 410:
        return KubeGone(text, **kw)
    if status == 429 or status >= 500:
        return KubeUnavailable(text, retry_after=_retry_after(headers), **kw)
    return KubeInvalid(text, **kw)


def translate(error: BaseException, what: str) -> KubeError:
    """Any failure of a call to the API, as a dnssync error."""
    if isinstance(error, KubeError):
        return error
    if isinstance(error, ApiException):
        return from_status(
            what,
            int(error.status or 0),
            str(error.reason or ""),
            message=_status_message(error.body),
            headers=error.headers,
        )
    if isinstance(error, TimeoutError):
        return KubeUnavailable(f"{what}: no answer in time")
    if isinstance(error, aiohttp.ClientPayloadError):
        return KubeUnavailable(f"{what}: the connection broke in the middle of the answer")
    if isinstance(error, aiohttp.ClientError | OSError):
        detail = " ".join(str(error).split())[:_MESSAGE_MAX] or type(error).__name__
        return KubeUnavailable(f"{what}: connection failed: {detail}")
    if isinstance(error, ValueError):
        # json.JSONDecodeError, a UnicodeDecodeError, aiohttp's "Line is too long".
        return KubeUnavailable(f"{what}: undecodable answer: {str(error)[:_MESSAGE_MAX]}")
    raise error


@contextmanager
def translating(what: str) -> Iterator[None]:
    """Run an API call; whatever it raises leaves as a dnssync KubeError."""
    try:
        yield
    except (KubeError, ApiException, aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
        raise translate(e, what) from None


async def check(resp: Any, what: str) -> None:
    """Raise for a raw response that is not 2xx (raw responses skip the client's check)."""
    if 200 <= resp.status < 300:
        return
    try:
        body = await resp.read()
    except (aiohttp.ClientError, OSError, TimeoutError):
        body = b""
    finally:
        resp.release()
    raise from_status(
        what,
        resp.status,
        str(resp.reason or ""),
        message=_status_message(body),
        headers=resp.headers,
    )


async def read_json(resp: Any, what: str) -> Any:
    """The decoded body of a raw response (status checked)."""
    await check(resp, what)
    with translating(what):
        try:
            return json.loads(await resp.read())
        finally:
            resp.release()
