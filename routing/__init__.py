"""Routing: the pure field-service route solver (integers in, routes out; no DB, no HTTP)."""
