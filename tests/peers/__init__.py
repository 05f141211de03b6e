"""Real peers for the interop tier, built from the package registries into a cache outside the repo.

Each module in this package describes one peer (external-dns, Pebble, lego, helm, kube-apiserver,
...) as a `Peer` named ``PEER`` (or a tuple ``PEERS``). `python -m tests.peers` builds every peer
that is not cached yet; tests call ``PEER.path("binary")``, which builds on first use and fails
loudly (never skips) when the peer cannot be had. See `_common.py` for the cache layout.
"""
