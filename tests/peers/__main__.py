"""``python -m tests.peers [NAME ...]``: build every peer (or the named ones) into the cache."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

from tests.peers._common import Peer, PeerUnavailable


def all_peers() -> dict[str, Peer]:
    """Every peer that a module of this package declares, by name."""
    found: dict[str, Peer] = {}
    for info in pkgutil.iter_modules(importlib.import_module("tests.peers").__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"tests.peers.{info.name}")
        for peer in (*getattr(module, "PEERS", ()), *filter(None, [getattr(module, "PEER", None)])):
            found[peer.name] = peer
    return found


def main(names: list[str]) -> int:
    peers = all_peers()
    unknown = sorted(set(names) - set(peers))
    if unknown:
        print(f"unknown peer(s): {', '.join(unknown)}; known: {', '.join(sorted(peers))}")
        return 2
    failed = 0
    for name in names or sorted(peers):
        peer = peers[name]
        cached = (peer.root / ".complete").exists()
        started = time.monotonic()
        try:
            peer.ensure()
        except PeerUnavailable as exc:
            print(f"peer {name} {peer.version}: FAILED\n{exc}", file=sys.stderr)
            failed += 1
            continue
        state = "cached" if cached else f"built in {time.monotonic() - started:.0f} s"
        print(f"peer {name} {peer.version}: {state} ({peer.root})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
