"""Applying a plan's changes: batches by size, bisection on conflicts.

Each batch is one atomic UPDATE.  When a batch fails a prerequisite (someone
else wrote at one of its names since we read the zone) or is refused for a
single record (per-record update policies), it is split in halves until the
offending changes are isolated: they are reported by name, and every other
change still applies.  Errors that concern the whole exchange (TSIG, a
timeout, a server failure) stop the apply and propagate; a timeout leaves
the outcome unknown, so the caller re-reads the zone before planning again.

After an unknown outcome the message that timed out may still land -- after
the caller's re-read, even (a server stopped mid-exchange works through its
queue when it resumes).  The caller then passes ``settle``: when a batch
fails a prerequisite, the zone is read afresh and every change whose desired
state already holds there is counted as applied, not re-sent and not
reported as a conflict; only the rest goes on to bisection.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from dnssync.dns import updates
from dnssync.dns.client import Client
from dnssync.errors import DNSTimeout, PrerequisiteFailed, ServerRefused, TSIGFailure
from dnssync.model import Change, ZoneSnapshot
from dnssync.plan import holds

log = logging.getLogger(__name__)

#: How many single changes may be found refused before a refusal is taken
#: as concerning the whole key (out of scope) rather than single records.
REFUSAL_BUDGET = 16


@dataclass(frozen=True, slots=True)
class Rejected:
    """A change the server would not apply, and why."""

    change: Change
    error: ServerRefused

    def __str__(self) -> str:
        return f"{updates.describe(self.change)}: {self.error.detail}"


@dataclass(slots=True)
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    messages: int = 0
    #: Messages the server answered NOERROR: each one moved its serial once.
    landed: int = 0
    #: Of ``applied``: changes found already in place on a fresh read after
    #: an unknown outcome (the message that timed out landed after all).
    settled: int = 0
    #: The changes of the message whose answer never came (outcome unknown).
    unknown: list[Change] = field(default_factory=list)


def _bisectable(error: ServerRefused) -> bool:
    if isinstance(error, TSIGFailure):
        return False
    return isinstance(error, PrerequisiteFailed) or error.rcode in {"REFUSED", "NOTAUTH", "NOTZONE"}


async def apply(
    client: Client,
    zone: str,
    changes: Sequence[Change],
    *,
    max_bytes: int = updates.MAX_MESSAGE,
    progress: Callable[[int], None] | None = None,
    settle: Callable[[], Awaitable[ZoneSnapshot]] | None = None,
    into: ApplyResult | None = None,
) -> ApplyResult:
    """Send ``changes`` to ``zone``; return what applied and what was rejected.

    ``settle`` re-reads the zone (see the module docstring); ``into``
    accumulates over several calls, so the counts of an apply cut short by a
    timeout survive the :class:`DNSTimeout` it raises.
    """
    result = into if into is not None else ApplyResult()
    refusals = 0
    fresh: ZoneSnapshot | None = None

    def done(batch: list[Change], *, settled: bool = False) -> None:
        result.applied.extend(batch)
        result.settled += len(batch) if settled else 0
        if progress and batch:
            progress(len(batch))

    async def send(batch: list[Change], *, top: bool = False) -> None:
        nonlocal refusals, fresh
        msg = updates.encode(batch, zone, msg_id=secrets.randbits(16))
        result.messages += 1
        try:
            await client.update(msg, zone, what=f"UPDATE of {len(batch)} change(s)")
        except DNSTimeout:
            result.unknown = list(batch)
            raise
        except ServerRefused as e:
            if not _bisectable(e):
                raise
            if isinstance(e, PrerequisiteFailed) and settle is not None:
                if top or fresh is None:
                    fresh = await settle()
                held = [c for c in batch if holds(c, fresh)]
                if held:
                    done(held, settled=True)
                    batch = [c for c in batch if not holds(c, fresh)]
                    if batch:
                        await send(batch)
                    return
            if len(batch) == 1:
                if not isinstance(e, PrerequisiteFailed):
                    refusals += 1
                    if refusals > REFUSAL_BUDGET:
                        raise
                log.warning("rejected: %s: %s", updates.describe(batch[0]), e.detail)
                result.rejected.append(Rejected(batch[0], e))
                if progress:
                    progress(1)
                return
            half = len(batch) // 2
            await send(batch[:half])
            await send(batch[half:])
            return
        result.landed += 1
        done(batch)

    for batch in updates.batches(changes, zone, max_bytes=max_bytes):
        await send(batch, top=True)
    refused = [r for r in result.rejected if not isinstance(r.error, PrerequisiteFailed)]
    if refused and not result.applied and len(refused) == len(result.rejected):
        # Nothing at all was allowed: the key, not single records, is the
        # problem (out of scope, wrong zone).  Say so once, as an error.
        raise refused[0].error
    return result
