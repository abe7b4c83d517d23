"""Schedules: time, contracts and money rules (calendars, SLA clocks, quotas, billing)."""
