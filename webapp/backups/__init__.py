"""Encrypted backups of the database and their restore (issue 15)."""
