// The field-mode routes: what a hash means, and back again.
import assert from "node:assert/strict";
import { test } from "node:test";

import { format, parse } from "../../static/js/router.js";

const ID = "3f2c1a9e-2b7d-4c1e-9a55-0d6e2f1b7c44";

test("routes round-trip through the hash", () => {
  for (const route of [
    { screen: "list" },
    { screen: "record", type: "interview", id: ID },
    { screen: "record", type: "interview", id: ID, section: "why" },
    { screen: "conflict", id: ID },
  ]) {
    assert.deepEqual(parse(format(route)), route);
  }
});

test("anything else is the list", () => {
  for (const hash of ["", "#", "#/", "#interview/x", "#/r/interview", "#/r/a/b/c/d", "#/r/<script>/x",
    "#/r/interview/a%2Fb", "#/nothing/here"]) {
    assert.deepEqual(parse(hash), { screen: "list" }, hash);
  }
});
