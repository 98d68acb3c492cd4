// The phone's 72-hour clock runs the same vectors as the server's (tests/unit/test_clock_vectors.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { clock, clockFor } from "../../static/js/clock.js";

const vectors = JSON.parse(readFileSync(new URL("../vectors/clock.json", import.meta.url), "utf8"));

for (const c of vectors.cases) {
  const dueSoonHours = c.due_soon_hours ?? vectors.due_soon_hours;
  test(`${c.minutes_left} min left, due soon under ${dueSoonHours} h: ${c.label}`, () => {
    const got = clockFor(c.minutes_left * 60e3, { dueSoonHours });
    assert.equal(got.label, c.label);
    assert.equal(got.state, c.state);
  });
}

test("clock() reads the due time as an instant and gives the stylesheet's class", () => {
  const now = Date.parse("2026-03-29T00:30:00Z"); // the night the clocks go forward
  const got = clock("2026-03-31T00:30:00+00:00", now, { dueSoonHours: 24 });
  assert.deepEqual(got, { state: "on_track", css: "on-track", label: "2 days left", tag: "On track" });
});
