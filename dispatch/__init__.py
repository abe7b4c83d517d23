"""Dispatch: the application core where rows meet the solver (settings, DB, intake, planning)."""
