// The tablet's school days and absence timeline run the same vectors as the server's
// (tests/unit/test_school_days_vectors.py against webapp/schools/days.py), so a DSL with no
// signal sees the same due dates, states and words.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  MILESTONES,
  RULES,
  schoolCalendar,
  schoolDayNumber,
  timeline,
} from "../../static/js/school-days.js";

const vectors = JSON.parse(
  readFileSync(new URL("../vectors/school_days.json", import.meta.url), "utf8"),
);

/** @param {string} name */
function calendar(name) {
  const facts = vectors.calendars[name];
  const bankHolidays =
    facts.bankHolidays === "england" ? vectors.englandBankHolidays : facts.bankHolidays;
  return schoolCalendar({ terms: facts.terms, closures: facts.closures, bankHolidays });
}

/** @param {any} c */
function run(c) {
  const cal = calendar(c.calendar);
  switch (c.op) {
    case "isSchoolDay":
      return cal.isSchoolDay(c.date);
    case "addSchoolDays":
      return cal.addSchoolDays(c.start, c.n);
    case "count":
      return cal.count(c.start, c.end);
    case "schoolDays":
      return cal.schoolDays(c.start, c.end);
    case "schoolDayNumber":
      return schoolDayNumber(c.firstDay, cal, c.today);
    case "timeline": {
      const options = { illness: c.illness, whereaboutsUnknown: c.whereaboutsUnknown, done: c.done };
      const milestones = timeline(c.firstDay, cal, c.today, options);
      for (const m of milestones) {
        assert.equal(m.title, vectors.rules[m.code].title);
        assert.equal(m.who, vectors.rules[m.code].who);
      }
      return milestones.map(({ code, dueOn, state }) => ({ code, dueOn, state }));
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

for (const c of vectors.cases) {
  test(`${c.op}: ${c.name}`, () => {
    if (c.error) assert.throws(() => run(c), RangeError);
    else assert.deepEqual(run(c), c.expected);
  });
}

test("the milestones and their words are the vectors' (the pytest holds days.py to the same)", () => {
  assert.deepEqual([...MILESTONES], vectors.milestones);
  assert.deepEqual({ ...RULES }, vectors.rules);
});

test("the options default as days.timeline's: unauthorised, whereabouts unknown, nothing done", () => {
  const cal = calendar("england_2026_27");
  const bare = timeline("2026-11-02", cal, "2026-11-02");
  const spelled = timeline("2026-11-02", cal, "2026-11-02", {
    illness: false,
    whereaboutsUnknown: true,
    done: [],
  });
  assert.deepEqual(bare, spelled);
  assert.deepEqual(
    bare.map((m) => m.code),
    ["contact_day1", "ews_day3", "notify_day10", "joint_enquiries_day20"],
  );
});

test("done may be any iterable (a Set from the outbox as well as an array)", () => {
  const cal = calendar("england_2026_27");
  const got = timeline("2026-11-02", cal, "2026-11-20", { done: new Set(["ews_day3"]) });
  assert.equal(got.find((m) => m.code === "ews_day3").state, "done");
});

test("loose dates are refused rather than compared as text", () => {
  for (const bad of ["2026-11-2", "02/11/2026", "2026-11-02T00:00:00Z", "", "0026-02-29"]) {
    assert.throws(() => calendar("england_2026_27").isSchoolDay(bad), RangeError, bad);
  }
  assert.throws(() => schoolCalendar({ terms: [["2026-09-02", "2026-13-01"]] }), RangeError);
  assert.throws(() => calendar("england_2026_27").addSchoolDays("2026-11-02", 2.5), RangeError);
});

test("the first and last days known are the span of the terms", () => {
  const cal = calendar("england_2026_27");
  assert.equal(cal.firstKnown, "2026-09-02");
  assert.equal(cal.lastKnown, "2027-07-21");
  assert.equal(calendar("no_terms").lastKnown, null);
  assert.equal(cal.nextSchoolDay("2026-10-24"), "2026-11-02");
});
