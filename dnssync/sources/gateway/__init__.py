"""Gateway API routes -> endpoints, as external-dns's gateway sources do it.  Pure.

:mod:`.routes` holds what every route kind shares (parents, listeners,
hostname intersection, targets); each route kind is one small module here
naming its protocol and whether it has hostnames of its own, plus one entry
in :mod:`dnssync.kinds`.
"""
