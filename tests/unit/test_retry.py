"""The one retry/backoff helper: bounded tries, only retryable errors, capped jittered waits."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import tenacity

from dnssync.errors import ConnectionFailed, DNSTimeout, InvalidInput, KubeUnavailable
from dnssync.retry import Backoff, Pulse, attempts, call


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


async def test_call_runs_a_first_success_without_building_a_retry_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call that succeeds at once never builds a tenacity loop (~40 us an UPDATE)."""

    def no_loop(*args: object, **kwargs: object) -> None:
        raise AssertionError("a retry loop was built for a first success")

    monkeypatch.setattr(tenacity, "AsyncRetrying", no_loop)

    async def ok() -> str:
        return "ok"

    assert await call(ok, attempts=3) == "ok"


async def test_call_keeps_its_count_and_the_retried_classes() -> None:
    """``attempts`` tries in all, the first one included; ``only`` narrows what is retried."""
    calls: list[float] = []

    async def down() -> None:
        calls.append(time.monotonic())
        raise ConnectionFailed("refused")

    with pytest.raises(ConnectionFailed):
        await call(down, attempts=3, initial=0.01, cap=0.02)
    assert len(calls) == 3
    assert all(b - a >= 0.005 for a, b in itertools.pairwise(calls))  # waited, both times

    calls.clear()
    with pytest.raises(ConnectionFailed):
        await call(down, attempts=3, initial=0.01, only=(DNSTimeout,))
    assert len(calls) == 1


async def test_call_counts_its_deadline_from_the_first_try() -> None:
    """With a deadline, tries stop once it has passed since the first one, not the second."""
    calls: list[float] = []

    async def down() -> None:
        calls.append(time.monotonic())
        raise KubeUnavailable("down")

    with pytest.raises(KubeUnavailable):
        await call(down, deadline=0.15, initial=0.02, cap=0.04)
    # the try before the last failed within the deadline, the last one after it
    assert calls[-2] - calls[0] < 0.15 <= calls[-1] - calls[0] + 0.005


async def test_call_honours_retry_after_of_the_first_failure() -> None:
    """A server's Retry-After on the first failure sets the wait before the second try."""
    calls: list[float] = []

    async def busy() -> str:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise KubeUnavailable("busy", status=429, retry_after=0.1)
        return "ok"

    assert await call(busy, attempts=2, initial=0.001, cap=0.002) == "ok"
    assert calls[1] - calls[0] >= 0.1


async def test_a_pulse_ends_every_wait_begun_before_it() -> None:
    """A beat wakes each sleeper at once (True); a sleep with no beat runs out (False)."""
    pulse = Pulse()
    sleepers = [asyncio.ensure_future(pulse.sleep(30)) for _ in range(3)]
    await asyncio.sleep(0)
    started = time.monotonic()
    pulse.beat()
    assert await asyncio.gather(*sleepers) == [True, True, True]
    assert time.monotonic() - started < 1.0
    assert await pulse.sleep(0.01) is False  # the beat is spent: a later wait is not ended by it
