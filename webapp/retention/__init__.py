"""Retention of closed cases (issue 15)."""
