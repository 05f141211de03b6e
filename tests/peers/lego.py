"""lego, the Go ACME client: ``exec`` runs dnssync's hook; its own ``rfc2136`` is a bench peer.

Built with lego's own light build (tags ``lego_dnslight,lego_dns_<provider>``): only the
two providers we run are compiled in, so the ~180 cloud SDKs the full build pulls are not
needed (several are not on the module proxy this machine reaches). Its default log
handler comes from a module hosted outside GitHub that the proxy lacks too: that one file
is switched to the standard library's text handler before building.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.peers._common import Peer, PeerUnavailable, go_build, go_module_copy

MODULE = "github.com/go-acme/lego/v5"
VERSION = "v5.6.0"
TAGS = "lego_dnslight,lego_dns_exec,lego_dns_dnsupdate"
# The ``default:`` branch of setUpLogger (the slogor handler) up to the end of the switch.
_SLOGOR_BRANCH = re.compile(r"\tdefault:\n.*?slogor\.NewHandler.*?\n\t}\n", re.S)
_PLAIN_BRANCH = (
    "\tdefault:\n"
    "\t\tlogger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: level}))\n"
    "\t}\n"
)


def _plain_logger(source: Path) -> None:
    path = source / "cmd" / "logger.go"
    text, found = _SLOGOR_BRANCH.subn(_PLAIN_BRANCH, path.read_text())
    if found != 1:
        raise PeerUnavailable(f"lego {VERSION}: cmd/logger.go changed; update tests/peers/lego.py")
    text = text.replace('\t"gitlab.com/greyxor/slogor"\n', "")
    text = text.replace('\t"github.com/mattn/go-isatty"\n', "")
    path.write_text(text)


def _build(dest: Path) -> None:
    source = go_module_copy(MODULE, VERSION, dest)
    _plain_logger(source)
    go_build(source, {"lego": "."}, dest, GOFLAGS="-mod=mod -tags=" + TAGS)  # v5: main at the root
    shutil.rmtree(source)


PEER = Peer("lego", VERSION, _build)
