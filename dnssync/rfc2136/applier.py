"""Applying a plan's changes: batches by size, bisection on conflicts.

Each batch is one atomic UPDATE.  When a batch fails a prerequisite (someone
else wrote at one of its names since we read the zone) or is refused for a
single record (per-record update policies), it is split in halves until the
offending changes are isolated: they are reported by name, and every other
change still applies.  Errors that concern the whole exchange (TSIG, a
timeout, a server failure) stop the apply and propagate; a timeout leaves
the outcome unknown, so the caller re-reads the zone before planning again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dnssync.errors import PrerequisiteFailed, ServerRefused, TSIGFailure
from dnssync.model import Change
from dnssync.rfc2136 import updates
from dnssync.rfc2136.client import Client

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
) -> ApplyResult:
    """Send ``changes`` to ``zone``; return what applied and what was rejected."""
    result = ApplyResult()
    refusals = 0

    async def send(batch: list[Change]) -> None:
        nonlocal refusals
        msg = updates.encode(batch, zone, msg_id=secrets.randbits(16))
        result.messages += 1
        try:
            await client.update(msg, zone, what=f"UPDATE of {len(batch)} change(s)")
        except ServerRefused as e:
            if not _bisectable(e):
                raise
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
        result.applied.extend(batch)
        if progress:
            progress(len(batch))

    for batch in updates.batches(changes, zone, max_bytes=max_bytes):
        await send(batch)
    refused = [r for r in result.rejected if not isinstance(r.error, PrerequisiteFailed)]
    if refused and not result.applied and len(refused) == len(result.rejected):
        # Nothing at all was allowed: the key, not single records, is the
        # problem (out of scope, wrong zone).  Say so once, as an error.
        raise refused[0].error
    return result
