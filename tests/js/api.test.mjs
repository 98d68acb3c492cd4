// How every answer from the server is read, once, for field mode, sync and push alike.
import assert from "node:assert/strict";
import { test } from "node:test";

import { interpret } from "../../static/js/api.js";

test("success, and the server's own error words", () => {
  assert.deepEqual(interpret(200, { ok: true }), {
    status: 200, ok: true, data: { ok: true }, error: null, signedOut: false, revoked: false,
  });
  const refused = interpret(422, { error: "invalid", message: "Choose an option" });
  assert.equal(refused.ok, false);
  assert.deepEqual(refused.error, { code: "invalid", message: "Choose an option" });
});

test("signed out: 401, or a CSRF token the server no longer takes", () => {
  assert.equal(interpret(401, null).signedOut, true);
  assert.equal(interpret(400, { error: "csrf_failed", message: "" }).signedOut, true);
  assert.equal(interpret(400, { error: "bad_cursor" }).signedOut, false);
});

test("410 means this device was revoked; a proxy's HTML page is no JSON error", () => {
  assert.equal(interpret(410, { error: "revoked" }).revoked, true);
  assert.deepEqual(interpret(502, null).error, null);
});
