// Where a child was found, on a carer's phone: the choices are the server's (the field schema
// carries them), an optional answer, and a code the server would refuse is caught before it is
// queued.
import assert from "node:assert/strict";
import { test } from "node:test";

import { check, foundPlaces } from "../../static/js/records/episode.js";

const NOW = Date.parse("2026-11-30T12:00:00Z");
const ago = (hours) => new Date(NOW - hours * 3600e3).toISOString();
const back = (returned) => ({
  reported_type: "missing",
  last_seen_at: ago(3),
  report: {},
  returned: { returned_at: ago(1), how_returned: "own_accord", ...returned },
});
const SCHEMA = {
  episode: {
    found_place: [
      { value: "friend", label: "A friend's home" },
      { value: "public_place", label: "A public place", hint: "For example, a street." },
    ],
  },
};
const names = (problems) => problems.map((p) => p.name);

test("the choices come from the schema; an older schema without them asks nothing", () => {
  assert.deepEqual(foundPlaces(SCHEMA).map((c) => c.value), ["friend", "public_place"]);
  assert.deepEqual(foundPlaces({}), []);
  assert.deepEqual(foundPlaces(null), []);
  assert.deepEqual(foundPlaces({ episode: { found_place: "friend" } }), []);
});

test("where found is optional, and only a code from the list", () => {
  const places = foundPlaces(SCHEMA);
  assert.deepEqual(check(back({}), { now: NOW, places }), []);
  assert.deepEqual(check(back({ found_place: "friend" }), { now: NOW, places }), []);
  assert.deepEqual(names(check(back({ found_place: "the moon" }), { now: NOW, places })), ["found_place"]);
  // Without the list (an older schema) the server is the judge.
  assert.deepEqual(check(back({ found_place: "the moon" }), { now: NOW }), []);
});
