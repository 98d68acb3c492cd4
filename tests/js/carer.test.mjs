// A carer's field-mode rules, without a browser: what a report must hold before it is queued
// (the server's rules, webapp/episodes/service.py), the time left as the screen says it, which
// photos are taken, how a push is split when photos make it large, and how two copies of a
// record are compared for the person choosing between them.
import assert from "node:assert/strict";
import { test } from "node:test";

import { draftReport, openEpisode, timeLeft, upcoming } from "../../static/js/records/child.js";
import { check, isOpen, typeChoices } from "../../static/js/records/episode.js";
import { sniff } from "../../static/js/photo.js";
import { batchesOf } from "../../static/js/sync/client.js";
import { flatten } from "../../static/js/field/views.js";

const NOW = Date.parse("2026-11-30T12:00:00Z");
const ago = (hours) => new Date(NOW - hours * 3600e3).toISOString();
const base = { reported_type: "missing", last_seen_at: ago(3), report: {} };
const names = (problems) => problems.map((p) => p.name);

test("a report needs what happened and when last seen, in the past", () => {
  assert.deepEqual(check(base, { now: NOW }), []);
  assert.deepEqual(names(check({ ...base, reported_type: null }, { now: NOW })), ["reported_type"]);
  assert.deepEqual(names(check({ ...base, last_seen_at: null }, { now: NOW })), ["last_seen_at"]);
  // A phone clock a few minutes fast is allowed, as the server allows it.
  assert.deepEqual(check({ ...base, last_seen_at: ago(-0.05) }, { now: NOW }), []);
  assert.deepEqual(names(check({ ...base, last_seen_at: ago(-1) }, { now: NOW })), ["last_seen_at"]);
});

test("not back needs the due-back time; away only for a looked-after child", () => {
  assert.deepEqual(names(check({ ...base, reported_type: "not_back" }, { now: NOW })), ["due_back_at"]);
  assert.deepEqual(check({ ...base, reported_type: "not_back", due_back_at: ago(1) }, { now: NOW }), []);
  assert.deepEqual(names(check({ ...base, reported_type: "away" }, { now: NOW })), ["reported_type"]);
  assert.deepEqual(check({ ...base, reported_type: "away" }, { lookedAfter: true, now: NOW }), []);
  assert.deepEqual(typeChoices(false).map((c) => c.value), ["not_back", "missing"]);
  assert.deepEqual(typeChoices(true).map((c) => c.value), ["not_back", "missing", "away"]);
});

test("police called after last seen; back after last seen, with how", () => {
  assert.deepEqual(names(check({ ...base, reported_to_police_at: ago(4) }, { now: NOW })), ["reported_to_police_at"]);
  const back = { ...base, returned: { returned_at: ago(4), how_returned: "own_accord" } };
  assert.deepEqual(names(check(back, { now: NOW })), ["returned_at"]);
  const noHow = { ...base, returned: { returned_at: ago(1) } };
  assert.deepEqual(names(check(noHow, { now: NOW })), ["how_returned"]);
  assert.equal(isOpen({ status: "missing", returned: null }), true);
  assert.equal(isOpen({ status: "missing", returned: { returned_at: ago(1) } }), false);
});

test("a long text is refused by the field it was typed in, at the server's own limit", () => {
  const x = (n) => "x".repeat(n);
  assert.deepEqual(names(check({ ...base, report: { clothing: x(2001) } }, { now: NOW })), ["report-clothing"]);
  assert.deepEqual(check({ ...base, report: { clothing: x(2000) } }, { now: NOW }), []);
  // Circumstances and what the carer noticed may be long (the web form takes 10,000).
  assert.deepEqual(check({ ...base, circumstances: x(7200), carer_notes: x(10_000) }, { now: NOW }), []);
  assert.deepEqual(names(check({ ...base, circumstances: x(10_001) }, { now: NOW })), ["circumstances"]);
  assert.deepEqual(names(check({ ...base, police_log_number: x(41) }, { now: NOW })), ["police_log_number"]);
  assert.match(check({ ...base, police_log_number: x(41) }, { now: NOW })[0].message, /40 characters or fewer/);
});

test("the time left is rounded down, and overdue says so", () => {
  assert.equal(timeLeft(new Date(NOW + (2 * 60 + 10.9) * 60e3).toISOString(), NOW), "2 hours 10 minutes left");
  assert.equal(timeLeft(new Date(NOW + 59.9 * 60e3).toISOString(), NOW), "59 minutes left");
  assert.equal(timeLeft(new Date(NOW - 61 * 60e3).toISOString(), NOW), "1 hour 1 minute overdue");
});

test("the child's open report is the one not yet back", () => {
  const episodes = [
    { id: "a", value: { child_id: "c1", status: "returned", returned: { returned_at: ago(30) } } },
    { id: "b", value: { child_id: "c1", status: "missing", returned: null } },
    { id: "c", value: { child_id: "c2", status: "missing", returned: null } },
  ];
  assert.equal(openEpisode(episodes, "c1").id, "b");
  assert.equal(openEpisode(episodes, "c3"), null);
  // A report still being typed on the phone is not an open report, but is found as a draft.
  const typing = [{ id: "d", value: { child_id: "c3", status: "missing", returned: null, draft: true } }];
  assert.equal(openEpisode(typing, "c3"), null);
  assert.equal(draftReport(typing, "c3").id, "d");
  assert.equal(draftReport(episodes, "c1"), null);
});

test("photos are judged by their first bytes, not their names", () => {
  assert.equal(sniff(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0])), "jpeg");
  assert.equal(sniff(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])), "png");
  const heic = new Uint8Array([0, 0, 0, 24, ...new TextEncoder().encode("ftypheic"), 0, 0, 0, 0]);
  assert.equal(sniff(heic), "heic");
  assert.equal(sniff(new TextEncoder().encode("%PDF-1.4 not a photo")), null);
  assert.equal(sniff(new TextEncoder().encode("GIF89a........")), null);
});

test("a push stops at 50 changes or about 3 MB, and always holds at least one", () => {
  const small = Array.from({ length: 120 }, (_, i) => ({ mutationId: String(i), recordType: "interview", recordId: `r${i}`, payload: { answers: { a: "x" } } }));
  assert.deepEqual(batchesOf(small).map((b) => b.length), [50, 50, 20]);
  const photo = (i) => ({ mutationId: `p${i}`, recordType: "child", recordId: `c${i}`, payload: { photo: { jpeg: "x".repeat(1_200_000) } } });
  assert.deepEqual(batchesOf([photo(1), photo(2), photo(3), photo(4)]).map((b) => b.length), [2, 2]);
  const huge = { mutationId: "h", recordType: "child", recordId: "ch", payload: { photo: { jpeg: "x".repeat(5_000_000) } } };
  assert.deepEqual(batchesOf([huge, photo(5)]).map((b) => b.length), [1, 1]);
  // In order: nothing overtakes an earlier change to the same record.
  assert.deepEqual(batchesOf([photo(1), ...small.slice(0, 3), photo(2)]).flat().map((m) => m.mutationId),
    ["p1", "0", "1", "2", "p2"]);
});

test("two changes to one record never share a batch: the second waits for the first's version", () => {
  // A draft tried once with no signal is frozen; "Send for authorisation" then queues behind it on
  // the same version. Sent together, the server would keep the send as a clash with the draft.
  const change = (id, record, base) => ({ mutationId: id, recordType: "interview", recordId: record, baseVersion: base, payload: {} });
  const due = [change("draft", "a", 3), change("other", "b", 1), change("send", "a", 3), change("later", "c", 1)];
  assert.deepEqual(batchesOf(due).map((b) => b.map((m) => m.mutationId)), [["draft", "other"], ["send", "later"]]);
  // The same id in another record type is another record.
  const twoTypes = [change("i", "x", 1), { ...change("c", "x", 1), recordType: "child" }];
  assert.deepEqual(batchesOf(twoTypes).map((b) => b.length), [2]);
});

test("two copies of a record are compared field by field, a photo summed up", () => {
  assert.deepEqual(flatten({ profile: { description: "Tall" }, photo: { jpeg: "AAAA" }, review_due: null }),
    { "profile.description": "Tall", photo: "A photo", review_due: null });
  assert.deepEqual(flatten({ photo: "keep" }), { photo: null });
  assert.deepEqual(flatten({ photo: "remove" }), { photo: "Removed" });
});

test("an arranged interview shows until two hours after its time", () => {
  const at = (hours) => ({ at: new Date(NOW + hours * 3600e3).toISOString(), place: null });
  assert.deepEqual(upcoming([at(-3), at(-1.5), at(5)], NOW).map((a) => a.at), [at(-1.5).at, at(5).at]);
  assert.deepEqual(upcoming(undefined, NOW), []);
});
