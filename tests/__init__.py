"""dnssync tests."""
