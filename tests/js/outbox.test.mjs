// The outbox's rules, without IndexedDB: when an edit may rewrite a queued mutation, what may be
// sent now, and what of a server refusal is kept in clear.
import assert from "node:assert/strict";
import { test } from "node:test";

import { coalescable, dueNow, latestOf, safeError, STATUS } from "../../static/js/store/outbox.js";

test("only a pending mutation never handed to the server is rewritten", () => {
  assert.equal(coalescable({ status: STATUS.PENDING, attempts: 0 }), true);
  assert.equal(coalescable({ status: STATUS.PENDING }), true);
  // Sent once and waiting to retry: the server may hold it, so its id must keep its content.
  assert.equal(coalescable({ status: STATUS.PENDING, attempts: 1 }), false);
  assert.equal(coalescable({ status: STATUS.SENDING, attempts: 1 }), false);
  assert.equal(coalescable({ status: STATUS.ATTENTION, attempts: 0 }), false);
  assert.equal(coalescable(null), false);
});

test("the newest queued mutation of a record is the one with the highest seq", () => {
  assert.equal(latestOf([]), null);
  const rows = [{ seq: 3, id: "a" }, { seq: 9, id: "b" }, { seq: 5, id: "c" }];
  assert.equal(latestOf(rows).id, "b");
});

test("sending skips what needs the person and what waits out a back-off", () => {
  const now = 1_000_000;
  const rows = [
    { id: 1, status: STATUS.PENDING, nextAttemptAt: 0 },
    { id: 2, status: STATUS.PENDING, nextAttemptAt: now + 1 },
    { id: 3, status: STATUS.PENDING, nextAttemptAt: now },
    { id: 4, status: STATUS.ATTENTION, nextAttemptAt: 0 },
    { id: 5, status: STATUS.SENDING },
  ];
  assert.deepEqual(dueNow(rows, now).map((r) => r.id), [1, 3, 5]);
});

test("a refusal keeps only generic words and a question's name in clear", () => {
  assert.deepEqual(safeError({}), { code: "rejected", message: "The server could not accept this change." });
  const long = safeError({ code: "x".repeat(100), message: "m".repeat(400), field: "held_at" });
  assert.equal(long.code.length, 64);
  assert.equal(long.message.length, 300);
  assert.equal(long.field, "held_at");
  // Anything that is not a plain name (it could be typed words) is dropped.
  assert.equal(safeError({ field: "Mia told me <b>" }).field, undefined);
});
