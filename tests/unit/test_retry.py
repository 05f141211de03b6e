"""The one retry/backoff helper: bounded tries, only retryable errors, capped jittered waits."""

from __future__ import annotations

import pytest

from dnssync.errors import ConnectionFailed, InvalidInput
from dnssync.retry import Backoff, attempts


def test_backoff_doubles_with_equal_jitter_and_stays_under_the_cap() -> None:
    """Wait n lies in [base/2, base] for base = initial * 2**(n-1), capped; never zero."""
    b = Backoff(initial=0.5, cap=8.0)
    for n in range(1, 12):
        base = min(8.0, 0.5 * 2 ** (n - 1))
        for _ in range(50):
            d = b.delay(n)
            assert base / 2 <= d <= base + 1e-9


async def test_attempts_retries_retryable_errors_only() -> None:
    """A retryable error is tried again up to the count; a permanent one is raised at once."""
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionFailed("refused")
        return "ok"

    assert await attempts(flaky, attempts=3) == "ok" and len(calls) == 3

    async def permanent() -> None:
        calls.append(1)
        raise InvalidInput("bad")

    calls.clear()
    with pytest.raises(InvalidInput):
        await attempts(permanent, attempts=5)
    assert len(calls) == 1
