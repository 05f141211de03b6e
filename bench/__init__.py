"""Benchmarks: dnssync against the raw-dnspython floor, in the same run."""
