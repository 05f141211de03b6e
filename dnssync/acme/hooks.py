"""Manual hooks: the solver behind certbot's and lego's exec-style integrations.

``dnssync acme present|cleanup`` (see :mod:`dnssync.cli`) is usable directly as

* certbot ``--manual-auth-hook`` / ``--manual-cleanup-hook``: no arguments;
  the domain and value come from ``CERTBOT_DOMAIN`` / ``CERTBOT_VALIDATION``
  (read by :func:`dnssync.config.acme_hook_env`);
* lego's ``exec`` provider: ``present|cleanup <fqdn> <value>``, or with
  ``EXEC_MODE=RAW`` ``present|cleanup -- <domain> <token> <keyAuth>``.

A hook is one short process: it presents (waiting, with ``acme.verify:
authoritative``, until every authoritative server serves the value, since
the CA looks right after the hook returns) or cleans up, and exits 0 only
on success.
"""

from __future__ import annotations

from dnssync.acme.payload import Action, HookRequest
from dnssync.acme.solver import Placement, Solver
from dnssync.config import AcmeConfig


async def run_hook(cfg: AcmeConfig, request: HookRequest, *, wait: bool | None = None) -> Placement:
    """Carry out one hook request; raises a :class:`~dnssync.errors.DnssyncError` on failure."""
    solver = Solver(cfg)
    if request.action is Action.PRESENT:
        return await solver.present(request.record, request.value, wait=wait)
    return await solver.cleanup(request.record, request.value)


def describe(request: HookRequest, placement: Placement) -> str:
    """One line for the hook's output (the value is public: it is in DNS)."""
    verb = "presented" if request.action is Action.PRESENT else "cleaned up"
    via = f" (via {request.record})" if placement.record != request.record else ""
    return (
        f"{verb} {request.value} at {placement.record}{via} "
        f"in zone {placement.zone} on {placement.server}"
    )
