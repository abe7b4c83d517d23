"""Demo and benchmark data: a deterministic generator and a one-transaction loader of CSV files."""
