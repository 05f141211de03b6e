"""Unit tests of the RFC 2136 engine's pure parts."""
