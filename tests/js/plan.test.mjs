// The phone's plan deadline and next step run the same vectors as the server's
// (tests/unit/test_plan_rules.py), so both count down to the same instant in the same words.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { STEP_TEXT, nextStep, policeReportDue } from "../../static/js/plan.js";

const vectors = JSON.parse(readFileSync(new URL("../vectors/plan.json", import.meta.url), "utf8"));

/** @param {string | null} iso */
const ms = (iso) => (iso === null ? null : Date.parse(iso));

for (const c of vectors.cases) {
  test(`police deadline: ${c.name}`, () => {
    const got = policeReportDue(c);
    assert.equal(ms(got), ms(c.policeDue));
  });
  for (const s of c.steps ?? []) {
    test(`next step at ${s.now}: ${c.name}`, () => {
      const got = nextStep(
        { ...c, reportedToPoliceAt: s.reportedToPoliceAt ?? null, returnedAt: s.returnedAt ?? null },
        Date.parse(s.now),
      );
      assert.equal(got.code, s.code);
      assert.equal(ms(got.dueAt), ms(s.dueAt));
      assert.equal(got.text, STEP_TEXT[s.code]);
    });
  }
}

test("the step words are the vectors' (the pytest holds plan_rules.STEP_TEXT to the same)", () => {
  assert.deepEqual(STEP_TEXT, vectors.stepText);
});
