"""The one translator of Kubernetes failures, and the watch-line decoder, on any input."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes_asyncio.client.exceptions import ApiException
from multidict import CIMultiDict, CIMultiDictProxy

from dnssync.errors import (
    KubeConflict,
    KubeError,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeRefused,
    KubeUnavailable,
)
from dnssync.kube.informer import Informer
from dnssync.kube.resources import RESOURCES
from dnssync.kube.translate import from_status, translate


class _Sink:
    def upsert(self, kind: str, obj: Any) -> object:
        return None

    def delete(self, kind: str, obj: Any) -> object:
        return None

    def replace(self, kind: str, objs: Any, *, namespace: str | None = None) -> None:
        return None


def _informer() -> Informer:
    return Informer(None, RESOURCES["service"], _Sink())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (401, KubeRefused, True),
        (403, KubeRefused, True),
        (404, KubeNotFound, False),
        (409, KubeConflict, False),
        (410, KubeGone, False),
        (422, KubeInvalid, False),
        (429, KubeUnavailable, True),
        (500, KubeUnavailable, True),
        (503, KubeUnavailable, True),
    ],
)
def test_codes_map_to_the_error_tree(status: int, cls: type[KubeError], retryable: bool) -> None:
    """Each HTTP answer becomes one class of dnssync's tree, retryable as documented."""
    e = from_status("list services", status, "Reason")
    assert type(e) is cls and e.retryable is retryable and e.status == status


def test_api_exception_text_is_one_line_with_the_status_message() -> None:
    """An ApiException's headers and body dump never reach the text; its Status message does."""
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps(
        {"kind": "Status", "message": 'services is forbidden:\n user "x"'}
    ).encode()
    exc.headers = CIMultiDictProxy(CIMultiDict({"Audit-Id": "abc", "Retry-After": "3"}))
    text = str(translate(exc, "list services"))
    assert text.startswith("list services: 403 Forbidden: services is forbidden: user")
    assert "\n" not in text and "Audit-Id" not in text and "RBAC" in text


def test_retry_after_is_kept_for_429() -> None:
    """Too Many Requests carries the server's Retry-After to the backoff."""
    exc = ApiException(status=429, reason="TooManyRequests")
    exc.headers = CIMultiDictProxy(CIMultiDict({"Retry-After": "7"}))
    e = translate(exc, "watch services")
    assert isinstance(e, KubeUnavailable) and e.retry_after == 7.0


def test_disconnects_and_decode_errors_are_transient() -> None:
    """aiohttp's disconnects and ValueErrors (bad JSON, overlong lines) mean: try again."""
    for error in (
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("cut"),
        ValueError("Line is too long"),
        TimeoutError(),
        ConnectionResetError(104, "reset"),
    ):
        assert isinstance(translate(error, "watch services"), KubeUnavailable)


@given(st.binary(max_size=300))
def test_any_watch_line_raises_only_dnssync_errors(line: bytes) -> None:
    """A watch line of random bytes is an event, a bookmark, or a KubeError -- nothing else."""
    with contextlib.suppress(KubeError):
        _informer()._event(line, "1", "watch services")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=10,
    ),
    st.sampled_from(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR", "X"]),
)
def test_any_json_event_raises_only_dnssync_errors(obj: object, kind: str) -> None:
    """Well-formed JSON of any shape in a watch event never escapes as a foreign error."""
    for line in (
        json.dumps({"type": kind, "object": obj}).encode(),
        json.dumps({"type": kind, "object": {"metadata": obj, "code": obj}}).encode(),
    ):
        with contextlib.suppress(KubeError):
            _informer()._event(line, "1", "watch services")
