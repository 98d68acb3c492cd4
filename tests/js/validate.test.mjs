// Answers are checked on the phone, before they are queued, by the rules the server applies.
import assert from "node:assert/strict";
import { test } from "node:test";

import { validateAnswers } from "../../static/js/records/validate.js";

const sections = [{
  slug: "s", title: "S", questions: [
    { name: "offered", label: "Offered?", kind: "radios", choices: [["Y", "Yes"], ["N", "No"]], max_length: 200 },
    { name: "reasons", label: "Reasons", kind: "checkboxes", choices: [["bored", "Bored"], ["home", "Home"]], max_length: 200 },
    { name: "location", label: "Where", kind: "short", choices: [], max_length: 200 },
    { name: "overview", label: "Overview", kind: "text", choices: [], max_length: 10000 },
    { name: "held_at", label: "When", kind: "datetime", choices: [], max_length: 200 },
  ],
}];

test("good answers, and blank ones, pass", () => {
  assert.deepEqual(validateAnswers({}, sections), []);
  assert.deepEqual(validateAnswers({
    offered: "Y", reasons: ["bored", "home"], location: "Library", overview: "x".repeat(10000),
    held_at: "2026-03-14T16:30:00+00:00",
  }, sections), []);
});

test("each kind of bad answer is named, in question order", () => {
  const problems = validateAnswers({
    held_at: "14/03/2026", offered: "maybe", reasons: ["bored", "aliens"], location: "x".repeat(201),
    overview: 7,
  }, sections);
  assert.deepEqual(problems.map((p) => p.name), ["offered", "reasons", "location", "overview", "held_at"]);
  assert.equal(problems[2].message, "Where must be 200 characters or fewer");
});

test("the server's own words, from the schema, are used when it sends them", () => {
  const withWords = [{ ...sections[0], questions: sections[0].questions.map((q) =>
    q.name === "offered" ? { ...q, messages: { choose_one: "Choose whether it was offered" } } : q) }];
  assert.deepEqual(validateAnswers({ offered: "maybe" }, withWords),
    [{ name: "offered", message: "Choose whether it was offered" }]);
});

test("a time without its offset is refused, as the server refuses it", () => {
  assert.deepEqual(validateAnswers({ held_at: "2026-03-14T16:30" }, sections).map((p) => p.message),
    ["When: give the time with its UK offset"]);
});

test("an answer to a question that is not on the form is refused", () => {
  assert.deepEqual(validateAnswers({ nickname: "x" }, sections).map((p) => p.name), ["nickname"]);
});

test("sending for authorisation needs what the server's completeness rules ask for", async () => {
  const { missingAnswers } = await import("../../static/js/records/validate.js");
  const rules = [
    { section: "a", field: "offered", message: "Say whether it was offered", when: [] },
    { section: "a", field: "outcome", message: "Say the outcome", when: [{ offered: ["Y"] }] },
  ];
  assert.deepEqual(missingAnswers({}, rules), [{ name: "offered", message: "Say whether it was offered" }]);
  assert.deepEqual(missingAnswers({ offered: "N" }, rules), []);
  assert.deepEqual(missingAnswers({ offered: "Y" }, rules), [{ name: "outcome", message: "Say the outcome" }]);
  assert.deepEqual(missingAnswers({ offered: "Y", outcome: "accepted" }, rules), []);
});

test("a rule on a checkboxes answer holds when any box ticked is one of its values (as the server)", async () => {
  const { missingAnswers } = await import("../../static/js/records/validate.js");
  const rules = [{ section: "c", field: "cp_referral_reason", message: "Say why",
    when: [{ cp_referral: ["no"], harm: ["hurt", "injured", "drugged", "abused"] }] }];
  assert.deepEqual(missingAnswers({ cp_referral: "no", harm: ["none", "drugged"] }, rules).map((p) => p.name), ["cp_referral_reason"]);
  assert.deepEqual(missingAnswers({ cp_referral: "no", harm: ["none"] }, rules), []);
  assert.deepEqual(missingAnswers({ cp_referral: "yes", harm: ["hurt"] }, rules), []);
});
