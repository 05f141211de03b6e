"""The one retry and backoff helper (tenacity), for every edge that tries again.

Two shapes, both jittered and capped:

- :func:`attempts` retries one operation whose repetition is harmless (a DNS
  query, a transfer, a connection that sent nothing) on retryable dnssync
  errors; the caller bounds the whole of it, retries included, by one
  deadline (``asyncio.timeout``), so a configured timeout is never multiplied;
- :class:`Backoff` gives the delay before the next try of a long-running loop
  (a watch reconnecting, a reconcile after failures), from the count of
  consecutive failures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import tenacity

from dnssync.errors import DnssyncError

T = TypeVar("T")


def _retryable(e: BaseException) -> bool:
    return isinstance(e, DnssyncError) and e.retryable


async def attempts(what: Callable[[], Awaitable[T]], *, attempts: int) -> T:
    """Run ``what``; retry retryable dnssync errors, ``attempts`` tries in all.

    The first try runs bare: on loopback a tenacity loop per exchange costs
    more than the exchange itself.  Waits are short (50 ms doubling, 2 s cap):
    the caller's deadline, not a count, ends a slow operation.
    """
    try:
        return await what()
    except DnssyncError as e:
        if not e.retryable or attempts <= 1:
            raise
    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(attempts - 1),
        wait=tenacity.wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
        retry=tenacity.retry_if_exception(_retryable),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await what()
    raise AssertionError("unreachable")  # pragma: no cover


class Backoff:
    """Capped exponential backoff with equal jitter: half of ``initial * 2**(n-1)``
    (capped) plus a random part of the other half; never zero, never in lock-step.

    ``delay(failures)`` is the wait after ``failures`` consecutive failures (1 = the first).
    """

    __slots__ = ("_wait",)

    def __init__(self, *, initial: float = 0.5, cap: float = 60.0) -> None:
        half, half_cap = initial / 2, cap / 2
        self._wait = tenacity.wait_exponential(
            multiplier=half, max=half_cap
        ) + tenacity.wait_random_exponential(multiplier=half, max=half_cap)

    def delay(self, failures: int) -> float:
        # tenacity's waits read only the attempt number of the state.
        state = tenacity.RetryCallState(cast("tenacity.BaseRetrying", None), None, (), {})
        state.attempt_number = max(1, failures)
        return float(self._wait(state))
