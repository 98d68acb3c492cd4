"""Data key operations: which columns hold sealed values, how many use each key, rotation."""
