"""Test helpers shared by several test modules (fakes of outside services)."""
