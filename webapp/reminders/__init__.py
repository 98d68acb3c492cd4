"""Push reminders: the one schedule table (schedule.py), pure and framework-free.

The Flask app recomputes reminders when facts change; a standalone dispatcher sends the due ones.
Neither flask nor sqlalchemy is imported here so both can use it and it can be unit-tested.
"""
