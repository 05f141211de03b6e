"""A one-shot run (``plan``, ``sync --once``) that changes nothing costs one SOA query per zone.

A plan is a pure function of the endpoints (the manifests' content, the
source options, the converting code), the zones as read (each one fixed by
its serial, as the zone reader already trusts) and the target's options.
When a run of a target found nothing at all to report -- no change,
conflict, skipped name, orphan, refusal or input error -- it leaves an
*idle mark* in the state directory: a fingerprint of those inputs and the
zones' serials.  The next run with the same fingerprint asks each zone for
its serial only; all unchanged means the same empty result, without
reading, parsing or planning anything.  Any difference (a manifest edited,
a record written by someone else, new code, another option) is a full run.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from dnssync import statefile
from dnssync.config import TargetConfig
from dnssync.controller import Target, TargetResult, ZoneResult
from dnssync.errors import DnssyncError
from dnssync.model import Plan
from dnssync.sources.manifests import manifests_digest

log = logging.getLogger(__name__)
_PACKAGE = Path(__file__).resolve().parent


def _code_stamp() -> str:
    """Size and time of every module: new code may plan differently."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        try:
            st = path.stat()
        except OSError:
            continue
        h.update(f"{path.relative_to(_PACKAGE)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint(cfg: TargetConfig, manifests: Path) -> str:
    """Everything a target's plan depends on but the zones' contents."""
    parts = (repr(cfg), _code_stamp(), manifests_digest(manifests))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def quiet(result: TargetResult) -> bool:
    """True when a run has nothing at all to show beyond 'in step'."""
    if result.outside:
        return False
    for zr in result.zones:
        p = zr.plan
        if zr.error is not None or zr.applied is not None or p is None:
            return False
        if p.changes or p.conflicts or p.skipped or p.orphans or p.refused:
            return False
    return True


class IdleMarks:
    """The idle marks of a state directory, one file per target."""

    FORMAT = 1

    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "idle"

    def _path(self, target: str) -> Path:
        return self.directory / f"{statefile.file_key(target)}.json"

    async def replay(self, target: Target, mark: str) -> TargetResult | None:
        """The empty result again, if ``mark`` and every zone's serial are unchanged."""
        data = statefile.read(self._path(target.name), "idle mark")
        if not isinstance(data, dict) or data.get("format") != self.FORMAT:
            return None
        serials = data.get("serials")
        if data.get("fingerprint") != mark or not isinstance(serials, dict):
            return None
        if list(serials) != list(target.readers):
            return None
        for zone, reader in target.readers.items():
            try:
                serial = await reader.client.soa_serial(zone)
            except DnssyncError as e:
                log.debug("zone %s: SOA query failed (%s); a full run tells", zone, e)
                return None
            if serial != serials[zone]:
                return None
        zones = [ZoneResult(z, plan=Plan(z), transfer="none") for z in target.readers]
        return TargetResult(target.name, zones=zones)

    def remember(self, target: Target, mark: str, result: TargetResult, *, complete: bool) -> None:
        """Leave a mark after a quiet run, or drop the old one after any other.

        ``complete`` is False when some input failed to convert: that run was not quiet.
        """
        path = self._path(target.name)
        serials = {z: r.cached.serial for z, r in target.readers.items() if r.cached}
        if not complete or not quiet(result) or len(serials) != len(target.readers):
            statefile.remove(path, "idle mark")
            return
        value = {"format": self.FORMAT, "fingerprint": mark, "serials": serials}
        statefile.write(path, value, "idle mark")
