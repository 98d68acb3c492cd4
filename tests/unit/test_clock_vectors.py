"""The server's 72-hour clock against the vectors the phone's clock also runs
(tests/js/clock.test.mjs), so both say exactly the same words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from webapp import deadlines

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "clock.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["label"])
def test_server_clock_matches_shared_vectors(case):
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    thresholds = deadlines.Thresholds(
        due_soon_hours=case.get("due_soon_hours", VECTORS["due_soon_hours"])
    )
    clock = deadlines.rhi_clock(now + timedelta(minutes=case["minutes_left"]), now, thresholds)
    assert clock.label() == case["label"]
    assert clock.state == case["state"]
