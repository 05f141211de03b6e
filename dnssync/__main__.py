"""Entry point for `python -m dnssync`."""

from dnssync.cli import main

raise SystemExit(main())
