"""Unit tests of dnssync.acme (pure parts)."""
