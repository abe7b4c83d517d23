"""Benchmarks: scripts that print a table and append their figures to benchmarks/RESULTS.md."""
