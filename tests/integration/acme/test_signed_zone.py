"""A zone signed offline without its private keys: BIND answers an UPDATE with SERVFAIL.

dnssync must name the likely cause (the zone is DNSSEC-signed; BIND's "found no active
private keys") in the solver's error, in the hook's one line and in ``dnssync check``.
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from dnssync.acme.solver import Solver
from dnssync.errors import ServerFailure
from tests.dnsservers import BindServer

from .conftest import acme_config, txt_at
from .test_hooks import ROOT, dnssync, write_config

pytestmark = pytest.mark.timeout(60)
_numbers = itertools.count(1)
CAUSE = "found no active private keys"


@pytest.fixture
def signed_zone(bind_server: BindServer) -> str:
    """A zone signed offline whose private keys were deleted before BIND served it."""
    name = f"offline{next(_numbers)}.test"
    bind_server.add_signed_zone_without_keys(name)
    return name


async def test_present_names_the_signed_zone_cause(
    bind_server: BindServer, signed_zone: str
) -> None:
    """Present fails with SERVFAIL and says the zone is signed and what to do."""
    solver = Solver(acme_config(bind_server, [signed_zone]))
    with pytest.raises(ServerFailure) as caught:
        await solver.present(f"_acme-challenge.{signed_zone}", secrets.token_urlsafe(32))
    text = str(caught.value)
    assert caught.value.rcode == "SERVFAIL"
    assert "DNSSEC-signed" in text and CAUSE in text and "dnssec-policy" in text


async def test_hook_prints_the_cause_in_one_line(
    bind_server: BindServer, signed_zone: str, tmp_path: Path
) -> None:
    """`dnssync acme present` exits 1 with one line naming SERVFAIL and the signed-zone cause."""
    config = write_config(tmp_path, bind_server, signed_zone)
    done = await dnssync("present", f"_acme-challenge.{signed_zone}.", "v" * 43, config=config)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "SERVFAIL" in done.stderr and CAUSE in done.stderr


def check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dnssync", "check", "-c", str(config)],
        env={"COLUMNS": "500", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


async def test_check_reports_signed_zone_and_round_trip(
    bind_server: BindServer, signed_zone: str, acme_zone: str, tmp_path: Path
) -> None:
    """`dnssync check` fails a signed zone without keys, naming the cause; a normal one passes."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    done = check(write_config(tmp_path / "a", bind_server, signed_zone))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "signed (2 DNSKEY)" in done.stdout and CAUSE in done.stdout, done.stdout
    done = check(write_config(tmp_path / "b", bind_server, acme_zone))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "present + clean-up" in done.stdout and "unsigned" in done.stdout
    assert await txt_at(bind_server, f"_acme-challenge.{acme_zone}") == set()
