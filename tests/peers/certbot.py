"""certbot and its certbot-dns-rfc2136 plugin from PyPI, in a venv of their own under the cache.

Their own venv keeps certbot's pins (josepy, acme, dnspython) out of the project's .venv;
tests run certbot's ``main`` with its ``bin/python`` (the venv is built in a staging directory
and moved into place, so its console scripts' shebangs would point at the staging path).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.peers._common import Peer, run

VERSION = "5.8.0"


def _build(dest: Path) -> None:
    run([sys.executable, "-m", "venv", dest])
    run(
        [
            dest / "bin" / "python",
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"certbot=={VERSION}",
            f"certbot-dns-rfc2136=={VERSION}",
        ]
    )


PEER = Peer("certbot", VERSION, _build)
