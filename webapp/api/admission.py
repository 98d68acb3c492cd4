"""How many sync requests one server process works on at once, and "busy, come back" for the rest.

A phone gives up on a request after 15 seconds (static/js/api.js) and sends it again later, so a
batch left queueing behind others until it times out is work done for nothing, and its resend
makes the queue longer. Each process therefore applies at most `slots` pushes (and `slots`
pulls) at a time; a request that cannot start within `wait` seconds is answered 503 with
Retry-After (and a little jitter, so phones turned away together do not come back together),
having done nothing, and the phone sends the same batch again then. With the database doing the
work, a few at a time per process keeps every batch well inside the phone's timeout; more
threads would only queue inside the database.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app


class Busy(Exception):
    """No slot came free in time: answer 503 with Retry-After `seconds`."""

    def __init__(self, seconds: int):
        super().__init__(f"busy, retry after {seconds} s")
        self.seconds = seconds


class Gate:
    def __init__(self, slots: int, wait: float, retry_after: int):
        self._slots = threading.BoundedSemaphore(slots)
        self.wait = wait
        self.retry_after = retry_after

    @contextmanager
    def admit(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait):
            raise Busy(self.retry_after + random.randint(0, self.retry_after))  # noqa: S311
        try:
            yield
        finally:
            self._slots.release()


_EXTENSION = "homeward_sync_gates"


def init_app(app: Flask) -> None:
    slots = int(app.config.get("HOMEWARD_SYNC_SLOTS", 4))
    wait = float(app.config.get("HOMEWARD_SYNC_WAIT_SECONDS", 5))
    retry_after = int(app.config.get("HOMEWARD_SYNC_RETRY_AFTER", 3))
    app.extensions[_EXTENSION] = {name: Gate(slots, wait, retry_after) for name in ("push", "pull")}


def gate(name: str) -> Gate:
    return current_app.extensions[_EXTENSION][name]
