"""Interop tier: real ACME server and clients (Pebble, certbot, lego, cert-manager) via dnssync."""
