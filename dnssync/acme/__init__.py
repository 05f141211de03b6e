"""ACME DNS-01: solver, cert-manager webhook, Challenge watcher."""
