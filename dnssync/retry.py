"""The one retry and backoff helper (tenacity), for every edge that tries again.

tenacity is imported on the first retry or backoff delay, not with this
module: a hook process whose exchanges all succeed at once (the usual case)
never loads it.

Two shapes, both jittered and capped:

- :func:`attempts` retries one operation whose repetition is harmless (a DNS
  query, a transfer, a connection that sent nothing) on retryable dnssync
  errors; the caller bounds the whole of it, retries included, by one
  deadline (``asyncio.timeout``), so a configured timeout is never multiplied;
- :class:`Backoff` gives the delay before the next try of a long-running loop
  (a watch reconnecting, a reconcile after failures), from the count of
  consecutive failures; :class:`Streak` keeps that count for a loop (reset
  after a success) and honours a server's ``Retry-After``;
- :func:`call` retries one operation for a number of attempts or a deadline,
  honouring ``Retry-After`` (Kubernetes writes and reads).

:class:`Grace` decides when a refusal that is normally transient (an API
server's empty RBAC cache after a restart) has lasted long enough to count
as permanent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from dnssync.errors import DnssyncError

if TYPE_CHECKING:
    import tenacity

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
    import tenacity

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

    __slots__ = ("_half", "_half_cap", "_wait")

    def __init__(self, *, initial: float = 0.5, cap: float = 60.0) -> None:
        self._half, self._half_cap = initial / 2, cap / 2
        self._wait: tenacity.wait.wait_base | None = None  # built on the first delay

    def delay(self, failures: int) -> float:
        import tenacity

        if self._wait is None:
            half, half_cap = self._half, self._half_cap
            self._wait = tenacity.wait_exponential(
                multiplier=half, max=half_cap
            ) + tenacity.wait_random_exponential(multiplier=half, max=half_cap)
        # tenacity's waits read only the attempt number of the state.
        state = tenacity.RetryCallState(cast("tenacity.BaseRetrying", None), None, (), {})
        state.attempt_number = max(1, failures)
        return float(self._wait(state))


def _floor(error: BaseException | None) -> float:
    """The server's ``Retry-After`` carried by ``error`` (0 when none)."""
    after = getattr(error, "retry_after", None)
    return float(after) if isinstance(after, int | float) and after > 0 else 0.0


class Streak:
    """The consecutive failures of a long-running loop, with :class:`Backoff`'s delays.

    ``next(error)`` counts one failure and gives the wait (never shorter than
    the error's ``retry_after``); ``reset()`` after a success, so the next
    blip waits the initial delay again.
    """

    __slots__ = ("backoff", "failures")

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff(initial=0.2, cap=30.0)
        self.failures = 0

    def next(self, error: BaseException | None = None) -> float:
        self.failures += 1
        return max(_floor(error), self.backoff.delay(self.failures))

    def reset(self) -> None:
        self.failures = 0


@dataclass(slots=True)
class Grace:
    """How long a run of refusals may last before it is taken as final."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    since: float | None = None

    def refused(self) -> float:
        """Count one refusal; returns how long refusals have lasted."""
        now = self.clock()
        if self.since is None:
            self.since = now
        return now - self.since

    def ok(self) -> None:
        self.since = None


class Pulse:
    """The API answered again: waits begun when it could not serve end at once.

    Loops that share one server share one pulse: the first to get an answer
    after an outage beats it, and every loop waiting out a lost connection (or
    a refusal of a server just restarted) tries again at once, instead of at
    the end of a backoff that grew while the server was down (and may miss its
    next short time up).
    """

    __slots__ = ("_beat",)

    def __init__(self) -> None:
        self._beat = asyncio.Event()

    def beat(self) -> None:
        beat, self._beat = self._beat, asyncio.Event()
        beat.set()

    async def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until the next beat; True when a beat ended it."""
        try:
            await asyncio.wait_for(self._beat.wait(), seconds)
        except TimeoutError:
            return False
        return True


async def call(
    what: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    deadline: float | None = None,
    initial: float = 0.2,
    cap: float = 5.0,
    only: tuple[type[DnssyncError], ...] = (),
) -> T:
    """Run ``what``, retrying retryable dnssync errors; the last error is raised.

    For operations whose server may ask to wait (``Retry-After``, honoured) or
    that should keep trying for a while (``deadline`` seconds, instead of a
    count of ``attempts``): an Event post, a ConfigMap read, a one-shot list.
    ``only`` narrows the retried errors to those classes.

    The first try runs bare, as in :func:`attempts`: nearly every call succeeds
    at once, and building a tenacity loop costs ~40 us, on every ACME UPDATE.
    The loop that follows a retryable failure keeps the count, the deadline
    (measured from the first try) and the waits of one loop over all tries.
    """

    def retried(e: BaseException) -> bool:
        return _retryable(e) and (not only or isinstance(e, only))

    started = time.monotonic()
    try:
        return await what()
    except DnssyncError as e:
        if not retried(e) or (deadline is None and attempts <= 1):
            raise
        if deadline is not None and time.monotonic() - started >= deadline:
            raise
        first = e
    backoff = Backoff(initial=initial, cap=cap)
    await asyncio.sleep(max(_floor(first), backoff.delay(1)))
    import tenacity

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return max(_floor(error), backoff.delay(state.attempt_number + 1))

    stop: tenacity.stop.stop_base
    if deadline is not None:
        # Tries run until ``deadline`` seconds after the first, as in one loop.
        stop = tenacity.stop_after_delay(max(0.0, deadline - (time.monotonic() - started)))
    else:
        stop = tenacity.stop_after_attempt(attempts - 1)
    retrying = tenacity.AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=tenacity.retry_if_exception(retried),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await what()
    raise AssertionError("unreachable")  # pragma: no cover
