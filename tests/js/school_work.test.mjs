// The DSL's tablet work without a browser (static/js/school-work.js): a pupil's record with this
// tablet's unsent entries applied as the server will apply them (webapp/schools/absences.py via
// webapp/schools/sync.py), the timeline counted in the school's calendar, and the checks an entry
// must pass before it is queued, in the web form's words. A fixed clock throughout.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  addedPupil,
  calendarOf,
  checkEntry,
  entriesOf,
  normaliseUpn,
  pupilNow,
  referralDue,
  timelineOf,
  ukDate,
  upnProblem,
} from "../../static/js/school-work.js";

// Tuesday 1 December 2026, midday (GMT): the tablet's "now" and UK "today".
const NOW = Date.parse("2026-12-01T12:00:00Z");
const TODAY = "2026-12-01";
const iso = (ms) => new Date(ms).toISOString();
const minutes = (n) => n * 60e3;
const names = (problems) => problems.map((p) => p.name);

const CHILD = "0b7c7b1e-5d3f-4c8e-9a51-2f6f3c1d0a01";
const F1 = "5e1d9a44-2b6c-4a3e-8f10-7c9b2e4d6a11"; // a follow-up the server opened

// The always-refer questions, as absences.ALWAYS_REFER (school_payload sends them in order).
const ALWAYS_REFER = [
  { key: "victim_of_crime", question: "May they be the victim of a crime?" },
  { key: "cp_plan", question: "Are they on a child protection plan?" },
  { key: "s47", question: "Are they the subject of section 47 enquiries?" },
  { key: "looked_after", question: "Are they looked after?" },
  {
    key: "risk_in_household",
    question: "Is a person posing a risk to children in, or in contact with, the household?",
  },
  { key: "moves_frequently", question: "Does the family move frequently?" },
  { key: "serious_attendance", question: "Are there serious attendance issues?" },
];

// The "school" record's value, shaped as sync.school_payload makes it.
const SCHOOL = {
  name: "Oakfield Primary School",
  urn: "118000",
  calendar: {
    terms: [["2026-11-02", "2026-12-18", "Autumn 2"]],
    closures: [],
    bank_holidays: [["2026-12-25", "Christmas Day"]],
  },
  codes: [
    { code: "", label: "No reason yet" },
    { code: "/", label: "Present (morning)" },
    { code: "\\", label: "Present (afternoon)" },
    { code: "L", label: "Late arrival before the register closed" },
    { code: "M", label: "Leave of absence: medical or dental appointment" },
    { code: "I", label: "Illness (not a medical or dental appointment)" },
    { code: "G", label: "Holiday not granted by the school" },
    { code: "N", label: "Reason for absence not yet established" },
    { code: "O", label: "Absent in other or unknown circumstances" },
    { code: "U", label: "Arrived after the register closed" },
  ],
  opens_followup: ["G", "N", "O", "U"],
  attending: ["/", "\\", "L", "K", "V", "P", "W", "B"],
  contacts: [
    { value: "parent_call", label: "Call to parent or carer" },
    { value: "home_visit", label: "Home visit" },
    { value: "letter", label: "Letter" },
  ],
  closed_reasons: [
    { value: "seen_safe", label: "Seen safe" },
    { value: "returned", label: "Back in school" },
    { value: "removed_from_roll", label: "Removed from roll" },
    { value: "other", label: "Other" },
  ],
  referred_to: [
    { value: "social_care", label: "Children's social care" },
    { value: "police", label: "Police" },
  ],
  always_refer: ALWAYS_REFER,
  further_questions: [{ key: "bullying", question: "Have they been bullied?" }],
  notifications: {
    ews_day3: "Education Welfare Service contacted",
    notify_day10: "10-day notification sent to the authority",
    illness_day15: "Sickness return sent to the authority",
    joint_enquiries_day20: "20 days: authority notified for joint enquiries",
    referral: "Referral recorded",
    missing_in_school_day: "Missing during the school day",
  },
  timeline_kinds: ["ews_day3", "notify_day10", "illness_day15", "joint_enquiries_day20"],
};

// The same school once the spring term is entered.
const SCHOOL_WITH_SPRING = {
  ...SCHOOL,
  calendar: {
    ...SCHOOL.calendar,
    terms: [...SCHOOL.calendar.terms, ["2027-01-05", "2027-02-12", "Spring 1"]],
  },
};

// The "pupil" record's value, shaped as sync.pupil_payload makes it: no follow-up yet.
const PUPIL = {
  child: {
    id: CHILD,
    first_name: "Sam",
    last_name: "Carter",
    date_of_birth: "2016-04-12",
    upn: "A123456789012",
    year_group: "Year 5",
    looked_after: false,
    legal_status: "None",
    social_worker_told: false,
  },
  checklist_defaults: {},
  absences: [],
  followup: null,
  missing: null,
};

// A pupil whose follow-up the server opened on Monday 23 November (absent 23 and 24 am).
const PUPIL_OPEN = {
  ...PUPIL,
  absences: [
    { on: "2026-11-24", session: "am", code: "N", followup_id: F1 },
    { on: "2026-11-23", session: "am", code: "N", followup_id: F1 },
  ],
  followup: {
    id: F1,
    opened_on: "2026-11-23",
    status: "open",
    closed_reason: null,
    closed_on: null,
    illness: false,
    whereabouts_unknown: true,
    enquiries: [],
    referrals: [],
    sent: {},
  },
};

// An entry as the tablet stores it: {id, value: {action, child_id, made_at, ...payload}}. Each
// is made a minute after the one before, so entriesOf keeps the order they are written in.
let made = NOW - minutes(600);
let seq = 0;
function entry(action, payload = {}, { madeAt } = {}) {
  made += minutes(1);
  seq += 1;
  return {
    id: `entry-${String(seq).padStart(3, "0")}`,
    value: { action, child_id: CHILD, made_at: madeAt ?? made, ...payload },
  };
}
const absence = (on, sessions, code) => entry("absence", { on, sessions, code });
const allAnswered = (answer = "no") =>
  Object.fromEntries(ALWAYS_REFER.map((q) => [q.key, answer]));
const now = (pupil, entries, school = SCHOOL) => pupilNow(pupil, entriesOf(entries, CHILD), school);

// ---------------------------------------------------------------- helpers

test("ukDate is the UK date: BST moves a late evening into the next day, GMT does not", () => {
  assert.equal(ukDate(Date.parse("2026-06-30T23:30:00Z")), "2026-07-01");
  assert.equal(ukDate("2026-06-30T22:59:00Z"), "2026-06-30");
  assert.equal(ukDate(Date.parse("2026-12-01T23:30:00Z")), "2026-12-01");
  assert.equal(ukDate(NOW), TODAY);
});

test("calendarOf reads the school record's calendar (and copes before the first sync)", () => {
  const cal = calendarOf(SCHOOL_WITH_SPRING);
  assert.equal(cal.isSchoolDay("2026-12-18"), true);
  assert.equal(cal.isSchoolDay("2026-12-21"), false); // the Christmas break, between terms
  assert.equal(cal.isSchoolDay("2026-12-25"), false);
  assert.equal(cal.isSchoolDay("2027-01-05"), true);
  // No terms entered yet: every weekday that is not a listed holiday counts.
  assert.equal(calendarOf(SCHOOL).isSchoolDay("2026-12-21"), true);
  assert.equal(calendarOf(SCHOOL).isSchoolDay("2026-12-25"), false);
  assert.equal(calendarOf(undefined).isSchoolDay("2026-12-25"), true);
  assert.equal(calendarOf(undefined).isSchoolDay("2026-12-26"), false); // a Saturday
});

test("entriesOf keeps this pupil's entries, oldest first", () => {
  const late = entry("absence", { on: "2026-11-30" }, { madeAt: NOW - minutes(5) });
  const early = entry("absence", { on: "2026-11-27" }, { madeAt: NOW - minutes(50) });
  const other = { id: "x", value: { action: "absence", child_id: "someone-else", made_at: NOW } };
  assert.deepEqual(entriesOf([late, other, early], CHILD).map((e) => e.id), [early.id, late.id]);
  assert.deepEqual(entriesOf(undefined, CHILD), []);
});

// ---------------------------------------------------------------- 1. absences

test("pupilNow: no reason yet opens a follow-up on that date, the absence waiting to send", () => {
  const view = now(PUPIL, [absence("2026-11-24", ["am"], "")]);
  assert.deepEqual(view.followup, {
    id: null,
    opened_on: "2026-11-24",
    status: "open",
    closed_reason: null,
    closed_on: null,
    illness: false,
    whereabouts_unknown: true,
    enquiries: [],
    referrals: [],
    sent: {},
    pending: true,
  });
  assert.deepEqual(view.absences, [{ on: "2026-11-24", session: "am", code: "", followup_id: "tablet", pending: true }]);
});

test("pupilNow: an N recorded late for an earlier day moves the follow-up's first day back", () => {
  const view = now(PUPIL, [
    absence("2026-11-24", ["am"], ""),
    absence("2026-11-23", ["am", "pm"], "N"),
  ]);
  assert.equal(view.followup.opened_on, "2026-11-23");
  assert.equal(view.followup.status, "open");
  // Newest first, as pupil_payload lists them.
  assert.deepEqual(
    view.absences.map((a) => [a.on, a.session, a.code]),
    [["2026-11-24", "am", ""], ["2026-11-23", "pm", "N"], ["2026-11-23", "am", "N"]],
  );
  // The server's own follow-up moves back the same way.
  assert.equal(now(PUPIL_OPEN, [absence("2026-11-20", ["pm"], "G")]).followup.opened_on, "2026-11-20");
  // A later unauthorised absence joins it without moving it.
  assert.equal(now(PUPIL_OPEN, [absence("2026-11-25", ["am"], "O")]).followup.opened_on, "2026-11-23");
});

test("pupilNow: an authorised code opens nothing, and leaves an open follow-up open", () => {
  const view = now(PUPIL, [absence("2026-11-24", ["am", "pm"], "M")]);
  assert.equal(view.followup, null);
  assert.equal(view.absences.length, 2);
  const open = now(PUPIL_OPEN, [absence("2026-11-25", ["am"], "I")]);
  assert.equal(open.followup.status, "open");
  assert.equal(open.followup.opened_on, "2026-11-23");
});

test("pupilNow: present after the last absent session is back in school (closed, returned)", () => {
  const view = now(PUPIL, [
    absence("2026-11-23", ["am"], "N"),
    absence("2026-11-24", ["am"], ""),
    absence("2026-11-25", ["am"], "/"),
  ]);
  assert.equal(view.followup.status, "closed");
  assert.equal(view.followup.closed_reason, "returned");
  assert.equal(view.followup.closed_on, "2026-11-25");
  // The server's follow-up closes the same way; an approved activity away (K) counts as back.
  const served = now(PUPIL_OPEN, [absence("2026-11-24", ["pm"], "K")]);
  assert.deepEqual(
    [served.followup.id, served.followup.status, served.followup.closed_reason, served.followup.closed_on],
    [F1, "closed", "returned", "2026-11-24"],
  );
});

test("pupilNow: present at an earlier session says nothing about now (absences._back_after)", () => {
  const entries = [absence("2026-11-23", ["am"], "N"), absence("2026-11-24", ["am"], "")];
  // Present the afternoon of the 23rd: after an absent session, but before the last one.
  const between = now(PUPIL, [...entries, absence("2026-11-23", ["pm"], "\\")]);
  assert.equal(between.followup.status, "open");
  assert.equal(between.followup.closed_reason, null);
  // Present before the follow-up began (a late entry for the week before).
  const before = now(PUPIL, [...entries, absence("2026-11-20", ["am", "pm"], "/")]);
  assert.equal(before.followup.status, "open");
  assert.equal(now(PUPIL_OPEN, [absence("2026-11-23", ["pm"], "/")]).followup.status, "open");
  // A follow-up whose absent sessions are not on the record (the server sends the latest 20):
  // only the date it opened says "before", as in _back_after when it finds no absent session.
  const bare = { ...PUPIL_OPEN, absences: [] };
  assert.equal(now(bare, [absence("2026-11-20", ["pm"], "/")]).followup.status, "open");
  assert.equal(now(bare, [absence("2026-11-25", ["am"], "/")]).followup.closed_reason, "returned");
});

test("pupilNow: the same session recorded twice keeps one row, with the later code", () => {
  const view = now(PUPIL, [
    absence("2026-11-24", ["am"], ""),
    absence("2026-11-24", ["am"], "N"),
  ]);
  assert.deepEqual(view.absences, [{ on: "2026-11-24", session: "am", code: "N", followup_id: "tablet", pending: true }]);
  // Over the server's own row too.
  const served = now(PUPIL_OPEN, [absence("2026-11-24", ["am"], "U")]);
  assert.deepEqual(
    served.absences.map((a) => [a.on, a.session, a.code, Boolean(a.pending)]),
    [["2026-11-24", "am", "U", true], ["2026-11-23", "am", "N", false]],
  );
});

test(
  "pupilNow: absent all day, the afternoon corrected to present, is back in school as on the server",
  () => {
    const view = now(PUPIL, [
      absence("2026-11-24", ["am", "pm"], "N"),
      absence("2026-11-24", ["pm"], "\\"),
    ]);
    assert.equal(view.followup.status, "closed");
    assert.equal(view.followup.closed_reason, "returned");
    assert.equal(view.followup.closed_on, "2026-11-24");
  },
);

test(
  "pupilNow: an earlier follow-up's absences do not keep a new one open",
  () => {
    const pupil = {
      ...PUPIL,
      absences: [
        { on: "2026-11-17", session: "am", code: "N", followup_id: F1 },
        { on: "2026-11-16", session: "am", code: "N", followup_id: F1 },
      ],
      followup: {
        ...PUPIL_OPEN.followup,
        opened_on: "2026-11-16",
        status: "closed",
        closed_reason: "seen_safe",
        closed_on: "2026-11-17",
      },
    };
    const view = now(pupil, [
      absence("2026-11-09", ["am"], "N"),
      absence("2026-11-10", ["am"], "/"),
    ]);
    assert.equal(view.followup.opened_on, "2026-11-09");
    assert.equal(view.followup.status, "closed");
    assert.equal(view.followup.closed_reason, "returned");
  },
);

// ---------------------------------------------------------------- 2. enquiries

test("pupilNow: an enquiry with no follow-up named joins the open follow-up", () => {
  const at = iso(NOW - minutes(120));
  const opened = absence("2026-11-30", ["am"], "");
  const enquiry = entry("enquiry", {
    followup_id: null, kind: "parent_call", at, outcome: "No answer; voicemail left", seen_safe: false,
  });
  const view = now(PUPIL, [opened, enquiry]);
  assert.deepEqual(view.followup.enquiries, [
    { id: enquiry.id, at, kind: "parent_call", outcome: "No answer; voicemail left", seen_safe: false, pending: true },
  ]);
  assert.equal(view.followup.status, "open");
  // The server's follow-up, named or not.
  assert.equal(now(PUPIL_OPEN, [{ ...enquiry, value: { ...enquiry.value, followup_id: F1 } }]).followup.enquiries.length, 1);
  assert.equal(now(PUPIL_OPEN, [enquiry]).followup.enquiries.length, 1);
  // No open follow-up to join: nothing changes.
  assert.deepEqual(now(PUPIL, [enquiry]), now(PUPIL, []));
});

test("pupilNow: seen safe closes the follow-up, on the UK date it was recorded", () => {
  const madeAt = Date.parse("2026-11-30T16:45:00Z");
  const enquiry = entry(
    "enquiry",
    { followup_id: F1, kind: "home_visit", at: iso(madeAt - minutes(30)), outcome: "Seen at home, well", seen_safe: true },
    { madeAt },
  );
  const view = now(PUPIL_OPEN, [enquiry]);
  assert.equal(view.followup.status, "closed");
  assert.equal(view.followup.closed_reason, "seen_safe");
  assert.equal(view.followup.closed_on, "2026-11-30");
  assert.equal(view.followup.enquiries[0].seen_safe, true);
});

test("pupilNow: an enquiry naming a follow-up that is not the pupil's current one changes nothing", () => {
  const enquiry = entry("enquiry", {
    followup_id: "9f9f9f9f-0000-4000-8000-000000000000",
    kind: "parent_call",
    at: iso(NOW - minutes(60)),
    outcome: "Spoke to dad",
    seen_safe: true,
  });
  assert.deepEqual(now(PUPIL_OPEN, [enquiry]), now(PUPIL_OPEN, []));
  // Nor does a tablet-opened follow-up (id null) take it.
  const opened = [absence("2026-11-30", ["am"], "")];
  assert.deepEqual(now(PUPIL, [...opened, enquiry]), now(PUPIL, opened));
});

// ---------------------------------------------------------------- 3. checklist and referral

test("pupilNow: a yes on the checklist makes a referral due; recording it clears it", () => {
  const checklist = entry("checklist", {
    followup_id: F1, answers: { ...allAnswered("no"), risk_in_household: "yes", notes: "Uncle staying" },
  });
  const asked = now(PUPIL_OPEN, [checklist]);
  assert.equal(referralDue(PUPIL_OPEN.followup), null);
  const due = referralDue(asked.followup);
  assert.ok(due, "a referral is due");
  assert.equal(due.id, checklist.id);
  assert.equal(due.any_yes, true);
  assert.equal(due.referred_at, null);
  assert.equal(due.answers.risk_in_household, "yes");

  const referredAt = iso(NOW - minutes(20));
  const referral = entry("referral", {
    referral_id: checklist.id, referred_to: "social_care", referred_at: referredAt, reference: "CS-2026-0411",
  });
  const view = now(PUPIL_OPEN, [checklist, referral]);
  const [recorded] = view.followup.referrals;
  assert.deepEqual(
    [recorded.id, recorded.referred_to, recorded.referred_at, recorded.reference],
    [checklist.id, "social_care", referredAt, "CS-2026-0411"],
  );
  assert.equal(view.followup.sent.referral, referredAt);
  assert.equal(referralDue(view.followup), null);
  assert.equal(referralDue(null), null);
});

test("pupilNow: a checklist answered all no calls for no referral", () => {
  const opened = absence("2026-11-30", ["am"], "N");
  const checklist = entry("checklist", { followup_id: null, answers: allAnswered("no") });
  const view = now(PUPIL, [opened, checklist]);
  assert.equal(view.followup.referrals.length, 1);
  assert.equal(view.followup.referrals[0].any_yes, false);
  assert.equal(referralDue(view.followup), null);
});

// ---------------------------------------------------------------- 4. notify, facts, close, missing

test("pupilNow: a milestone notified is sent, and the timeline shows it done", () => {
  assert.equal(timelineOf(PUPIL_OPEN.followup, SCHOOL, TODAY).milestones.find((m) => m.code === "ews_day3").state, "due");
  const madeAt = NOW - minutes(15);
  const view = now(PUPIL_OPEN, [entry("notify", { followup_id: F1, milestone: "ews_day3" }, { madeAt })]);
  assert.equal(view.followup.sent.ews_day3, iso(madeAt));
  const { milestones } = timelineOf(view.followup, SCHOOL, TODAY);
  assert.equal(milestones.find((m) => m.code === "ews_day3").state, "done");
  assert.equal(milestones.find((m) => m.code === "contact_day1").state, "due");
});

test("pupilNow: the sickness return says the illness is expected to last", () => {
  const view = now(PUPIL_OPEN, [entry("notify", { followup_id: null, milestone: "illness_day15" })]);
  assert.equal(view.followup.illness, true);
  assert.ok(view.followup.sent.illness_day15);
  const codes = timelineOf(view.followup, SCHOOL, TODAY).milestones.map((m) => m.code);
  assert.ok(codes.includes("illness_day15"));
  assert.ok(!codes.includes("notify_day10"));
});

test("pupilNow: the follow-up's facts set both flags", () => {
  const view = now(PUPIL_OPEN, [entry("facts", { followup_id: F1, illness: true, whereabouts_unknown: false })]);
  assert.equal(view.followup.illness, true);
  assert.equal(view.followup.whereabouts_unknown, false);
  assert.deepEqual(
    timelineOf(view.followup, SCHOOL, TODAY).milestones.map((m) => m.code),
    ["contact_day1", "ews_day3", "illness_day15"],
  );
  const back = now(PUPIL_OPEN, [
    entry("facts", { followup_id: F1, illness: true, whereabouts_unknown: false }),
    entry("facts", { followup_id: F1, illness: false, whereabouts_unknown: true }),
  ]);
  assert.deepEqual([back.followup.illness, back.followup.whereabouts_unknown], [false, true]);
});

test("pupilNow: closing ends the follow-up with the reason, on the UK date", () => {
  const madeAt = Date.parse("2026-11-30T10:00:00Z");
  const view = now(PUPIL_OPEN, [entry("close", { followup_id: F1, reason: "removed_from_roll" }, { madeAt })]);
  assert.deepEqual(
    [view.followup.status, view.followup.closed_reason, view.followup.closed_on],
    ["closed", "removed_from_roll", "2026-11-30"],
  );
  // A closed follow-up takes no unnamed work after it.
  const after = now(PUPIL_OPEN, [
    entry("close", { followup_id: F1, reason: "other" }),
    entry("notify", { followup_id: null, milestone: "ews_day3" }),
  ]);
  assert.deepEqual(after.followup.sent, {});
});

test("pupilNow: missing in the school day is shown at once, and the stored record is not touched", () => {
  const pupil = structuredClone(PUPIL_OPEN);
  const before = structuredClone(pupil);
  const lastSeen = iso(NOW - minutes(90));
  const entries = [
    absence("2026-11-25", ["am"], "N"),
    entry("enquiry", { followup_id: F1, kind: "parent_call", at: iso(NOW - minutes(300)), outcome: "No answer", seen_safe: false }),
    entry("checklist", { followup_id: F1, answers: { ...allAnswered("no"), cp_plan: "yes" } }),
    entry("notify", { followup_id: F1, milestone: "ews_day3" }),
    entry("facts", { followup_id: F1, illness: false, whereabouts_unknown: true }),
  ];
  const missing = entry("missing", { last_seen_at: lastSeen, reported_to_police_at: iso(NOW - minutes(60)) });
  const stored = structuredClone(entries);
  const view = pupilNow(pupil, [...entries, missing], SCHOOL);
  assert.deepEqual(view.missing, { id: missing.id, last_seen_at: lastSeen, pending: true });
  assert.ok(view.followup.sent.missing_in_school_day);
  assert.equal(view.followup.enquiries.length, 1);
  assert.equal(view.absences.length, 3);
  // The stored record and the entries are as they were.
  assert.deepEqual(pupil, before);
  assert.deepEqual(entries, stored);
  assert.equal(pupil.missing, null);
  assert.deepEqual(pupil.followup.enquiries, []);
  assert.deepEqual(pupil.followup.sent, {});
  assert.equal(pupil.absences.length, 2);
});

// ---------------------------------------------------------------- 5. timelineOf

test("timelineOf counts school days across the Christmas break in the school's calendar", () => {
  const followup = { ...PUPIL_OPEN.followup, opened_on: "2026-12-18" };
  const spring = timelineOf(followup, SCHOOL_WITH_SPRING, "2027-01-05");
  // Friday 18 December is day 1; the break is not counted; Tuesday 5 January is day 2.
  assert.equal(spring.day, 2);
  const due = Object.fromEntries(spring.milestones.map((m) => [m.code, [m.dueOn, m.state]]));
  assert.deepEqual(due.contact_day1, ["2026-12-18", "due"]);
  assert.deepEqual(due.ews_day3, ["2027-01-06", "upcoming"]);
  // Without the spring term the weekdays after the last term count (Christmas Day does not).
  assert.equal(timelineOf(followup, SCHOOL, "2027-01-05").day, 12);
});

test("timelineOf: day 1's contact is done once an enquiry is logged", () => {
  const state = (f) => timelineOf(f, SCHOOL, TODAY).milestones.find((m) => m.code === "contact_day1").state;
  assert.equal(state(PUPIL_OPEN.followup), "due");
  const view = now(PUPIL_OPEN, [
    entry("enquiry", { followup_id: null, kind: "parent_call", at: iso(NOW - minutes(30)), outcome: "Mum: ill", seen_safe: false }),
  ]);
  assert.equal(state(view.followup), "done");
});

test("timelineOf: a closed follow-up counts to the day it closed", () => {
  const closed = { ...PUPIL_OPEN.followup, opened_on: "2026-11-02", status: "closed", closed_reason: "returned", closed_on: "2026-11-06" };
  const t = timelineOf(closed, SCHOOL, TODAY);
  assert.equal(t.day, 5);
  assert.equal(t.milestones.find((m) => m.code === "notify_day10").state, "upcoming");
  assert.equal(timelineOf({ ...closed, status: "open", closed_on: null }, SCHOOL, TODAY).day, 22);
});

// ---------------------------------------------------------------- 6. checkEntry

const check = (e, view = PUPIL_OPEN) => checkEntry({ child_id: CHILD, ...e }, { view, school: SCHOOL, now: NOW });

test("checkEntry: an absence's date, sessions and code, named by field", () => {
  const ok = { action: "absence", on: TODAY, sessions: ["am"], code: "" };
  assert.deepEqual(check(ok, PUPIL), []);
  assert.deepEqual(names(check({ ...ok, on: "2026-12-02" }, PUPIL)), ["on"]);
  assert.equal(check({ ...ok, on: "2026-12-02" }, PUPIL)[0].message, "The date of the absence must be today or in the past");
  // Within the last year: 366 days back is the oldest the server takes.
  assert.deepEqual(check({ ...ok, on: "2025-11-30" }, PUPIL), []);
  assert.deepEqual(names(check({ ...ok, on: "2025-11-29" }, PUPIL)), ["on"]);
  assert.equal(check({ ...ok, on: "2025-11-29" }, PUPIL)[0].message, "The date of the absence must be within the last year");
  assert.deepEqual(names(check({ ...ok, on: "" }, PUPIL)), ["on"]);
  assert.deepEqual(names(check({ ...ok, sessions: [] }, PUPIL)), ["sessions"]);
  assert.deepEqual(names(check({ ...ok, sessions: undefined }, PUPIL)), ["sessions"]);
  assert.deepEqual(names(check({ ...ok, code: "Q9" }, PUPIL)), ["code"]);
  assert.equal(check({ ...ok, code: "Q9" }, PUPIL)[0].message, "Choose an attendance code");
  assert.deepEqual(check({ ...ok, code: "N", sessions: ["am", "pm"] }, PUPIL), []);
});

test("checkEntry: an enquiry needs an open follow-up (one the tablet opened will do)", () => {
  const ok = { action: "enquiry", followup_id: null, kind: "parent_call", at: iso(NOW - minutes(60)), outcome: "Mum: ill", seen_safe: false };
  assert.deepEqual(names(check(ok, PUPIL)), ["action"]);
  const closed = { ...PUPIL_OPEN, followup: { ...PUPIL_OPEN.followup, status: "closed", closed_reason: "returned", closed_on: "2026-11-25" } };
  assert.deepEqual(names(check(ok, closed)), ["action"]);
  assert.deepEqual(check(ok), []);
  const opened = pupilNow(PUPIL, [absence("2026-11-30", ["am"], "")], SCHOOL);
  assert.deepEqual(check(ok, opened), []);
});

test("checkEntry: an enquiry's time: not in the future (5 minutes' grace), not before the absence", () => {
  const ok = { action: "enquiry", followup_id: F1, kind: "parent_call", outcome: "Mum: ill", seen_safe: false };
  assert.deepEqual(check({ ...ok, at: iso(NOW + minutes(4)) }), []);
  assert.deepEqual(names(check({ ...ok, at: iso(NOW + minutes(6)) })), ["at"]);
  assert.equal(check({ ...ok, at: iso(NOW + minutes(6)) })[0].message, "When it was made must be in the past");
  // The follow-up opened on 23 November.
  assert.deepEqual(names(check({ ...ok, at: "2026-11-22T18:00:00Z" })), ["at"]);
  assert.equal(check({ ...ok, at: "2026-11-22T18:00:00Z" })[0].message, "When it was made must be after the absence began");
  assert.deepEqual(check({ ...ok, at: "2026-11-23T08:00:00Z" }), []);
  assert.deepEqual(names(check({ ...ok, at: "" })), ["at"]);
  assert.deepEqual(names(check({ ...ok, at: iso(NOW), kind: "" })), ["kind"]);
});

test("checkEntry: an enquiry's outcome is needed, up to 2,000 characters", () => {
  const ok = { action: "enquiry", followup_id: F1, kind: "letter", at: iso(NOW - minutes(60)), seen_safe: false };
  assert.deepEqual(check({ ...ok, outcome: "x".repeat(2000) }), []);
  const long = check({ ...ok, outcome: "x".repeat(2001) });
  assert.deepEqual(long, [{ name: "outcome", message: "Enter 2,000 characters or fewer" }]);
  // Measured as the server measures it, once trimmed.
  assert.deepEqual(check({ ...ok, outcome: ` ${"x".repeat(2000)} ` }), []);
  assert.deepEqual(names(check({ ...ok, outcome: "   " })), ["outcome"]);
});

test("checkEntry: the checklist needs every always-refer question answered yes or no", () => {
  const ok = { action: "checklist", followup_id: F1, answers: allAnswered("no") };
  assert.deepEqual(check(ok), []);
  const rest = allAnswered("no");
  delete rest.s47;
  const problems = check({ ...ok, answers: rest });
  assert.deepEqual(names(problems), ["answers-s47"]);
  assert.equal(problems[0].message, "Answer yes or no: Are they the subject of section 47 enquiries?");
  assert.deepEqual(names(check({ ...ok, answers: { ...allAnswered("no"), looked_after: "maybe" } })), ["answers-looked_after"]);
  assert.deepEqual(names(check({ ...ok, answers: { ...allAnswered("no"), notes: "x".repeat(2001) } })), ["answers-notes"]);
  assert.deepEqual(names(check(ok, PUPIL)), ["action"]);
});

test("checkEntry: a referral is for this pupil's checklist, recorded once", () => {
  const referralRow = {
    id: "r-1", checked_at: iso(NOW - minutes(100)), any_yes: true, answers: { ...allAnswered("no"), s47: "yes" },
    referred_to: null, referred_at: null, reference: null,
  };
  const withDue = { ...PUPIL_OPEN, followup: { ...PUPIL_OPEN.followup, referrals: [referralRow] } };
  const ok = { action: "referral", referral_id: "r-1", referred_to: "police", referred_at: iso(NOW - minutes(10)), reference: "PC-77" };
  assert.deepEqual(check(ok, withDue), []);
  const recorded = {
    ...withDue,
    followup: { ...withDue.followup, referrals: [{ ...referralRow, referred_to: "police", referred_at: iso(NOW - minutes(50)) }] },
  };
  assert.deepEqual(check(ok, recorded), [{ name: "action", message: "This referral is already recorded" }]);
  assert.deepEqual(check({ ...ok, referral_id: "r-2" }, withDue), [{ name: "action", message: "This checklist is not this pupil's" }]);
  assert.deepEqual(names(check({ ...ok, referred_at: iso(NOW + minutes(10)) }, withDue)), ["referred_at"]);
  assert.deepEqual(names(check({ ...ok, reference: "x".repeat(61) }, withDue)), ["reference"]);
  assert.deepEqual(names(check({ ...ok, referred_to: "" }, withDue)), ["referred_to"]);
});

test(
  "checkEntry: a referral for a checklist with no yes is refused, as the server refuses it",
  () => {
    const noYes = {
      id: "r-1", checked_at: iso(NOW - minutes(100)), any_yes: false, answers: allAnswered("no"),
      referred_to: null, referred_at: null, reference: null,
    };
    const view = { ...PUPIL_OPEN, followup: { ...PUPIL_OPEN.followup, referrals: [noYes] } };
    const e = { action: "referral", referral_id: "r-1", referred_to: "police", referred_at: iso(NOW - minutes(10)), reference: "" };
    assert.notDeepEqual(check(e, view), []);
  },
);

test("checkEntry: a milestone is recorded once", () => {
  const ok = { action: "notify", followup_id: F1, milestone: "notify_day10" };
  assert.deepEqual(check(ok), []);
  const sent = { ...PUPIL_OPEN, followup: { ...PUPIL_OPEN.followup, sent: { notify_day10: iso(NOW - minutes(600)) } } };
  assert.deepEqual(check(ok, sent), [{ name: "milestone", message: "This is already recorded" }]);
  assert.deepEqual(check({ ...ok, milestone: "ews_day3" }, sent), []);
  assert.deepEqual(names(check(ok, PUPIL)), ["action"]);
});

test("checkEntry: missing in the school day: the police called after the child was last seen", () => {
  const ok = {
    action: "missing",
    last_seen_at: iso(NOW - minutes(90)),
    reported_to_police_at: iso(NOW - minutes(60)),
    police_log_number: "KENT-0412",
    circumstances: "Left at lunch break",
    report: { clothing: "Green school jumper" },
  };
  assert.deepEqual(check(ok), []);
  const early = check({ ...ok, reported_to_police_at: iso(NOW - minutes(120)) });
  assert.deepEqual(early, [{ name: "reported_to_police_at", message: "The time reported to police must be after the time last seen" }]);
  assert.deepEqual(names(check({ ...ok, last_seen_at: iso(NOW + minutes(10)), reported_to_police_at: null })), ["last_seen_at"]);
  assert.deepEqual(names(check({ ...ok, last_seen_at: "" })), ["last_seen_at"]);
  assert.deepEqual(names(check({ ...ok, reported_to_police_at: iso(NOW + minutes(10)) })), ["reported_to_police_at"]);
  assert.deepEqual(names(check({ ...ok, police_log_number: "x".repeat(41) })), ["police_log_number"]);
  assert.deepEqual(names(check({ ...ok, report: { clothing: "x".repeat(2001) } })), ["report-clothing"]);
  // One open episode at a time.
  assert.deepEqual(names(check(ok, { ...PUPIL_OPEN, missing: { id: "ep-1", last_seen_at: iso(NOW - minutes(300)) } })), ["last_seen_at"]);
  // No follow-up is needed.
  assert.deepEqual(check({ ...ok, reported_to_police_at: null }, PUPIL), []);
});

test("checkEntry: a valid entry of each action has no problems", () => {
  const withDue = {
    ...PUPIL_OPEN,
    followup: {
      ...PUPIL_OPEN.followup,
      referrals: [{ id: "r-1", checked_at: iso(NOW - minutes(100)), any_yes: true, answers: { ...allAnswered("no"), cp_plan: "yes" }, referred_to: null, referred_at: null, reference: null }],
    },
  };
  const valid = {
    absence: { on: "2026-11-30", sessions: ["am", "pm"], code: "N" },
    enquiry: { followup_id: F1, kind: "home_visit", at: iso(NOW - minutes(45)), outcome: "Nobody home; card left", seen_safe: false },
    checklist: { followup_id: F1, answers: { ...allAnswered("no"), bullying: "yes", notes: "Worried about a group at the park" } },
    referral: { referral_id: "r-1", referred_to: "social_care", referred_at: iso(NOW - minutes(5)), reference: "CS-9" },
    notify: { followup_id: F1, milestone: "ews_day3" },
    facts: { followup_id: F1, illness: false, whereabouts_unknown: true },
    close: { followup_id: F1, reason: "returned" },
    missing: { last_seen_at: iso(NOW - minutes(30)), reported_to_police_at: null, police_log_number: "", circumstances: "", report: {} },
  };
  for (const [action, payload] of Object.entries(valid)) {
    assert.deepEqual(check({ action, ...payload }, withDue), [], action);
  }
  assert.deepEqual(check({ action: "teleport" }), [{ name: "action", message: "Unknown entry" }]);
});

test("checkEntry: only the school's own choices pass (sessions, contacts, reasons, milestones)", () => {
  const at = iso(NOW - minutes(60));
  const sessions = check({ action: "absence", on: "2026-11-30", sessions: ["am", "evening"], code: "N" });
  assert.deepEqual(names(sessions), ["sessions"]);
  const kind = check({ action: "enquiry", followup_id: F1, kind: "carrier_pigeon", at, outcome: "x", seen_safe: false });
  assert.deepEqual(names(kind), ["kind"]);
  assert.deepEqual(names(check({ action: "close", followup_id: F1, reason: "bored" })), ["reason"]);
  assert.deepEqual(names(check({ action: "notify", followup_id: F1, milestone: "day_99" })), ["milestone"]);
});

// ---------------------------------------------------------------- a pupil added on the tablet

const UPN_VECTORS = JSON.parse(readFileSync(new URL("../vectors/upn.json", import.meta.url), "utf8")).cases;

test("upnProblem matches the server's UPN rule on the shared vectors", () => {
  for (const c of UPN_VECTORS) {
    const upn = normaliseUpn(c.typed);
    assert.equal(upn, c.upn, c.note);
    assert.equal(upnProblem(upn), c.problem, c.note);
  }
});

test("checkEntry: a pupil added on the tablet is checked as the web form checks them", () => {
  const good = UPN_VECTORS.find((c) => c.problem === null).upn;
  const ok = { action: "pupil", first_name: "Ada", last_name: "Lovelace", date_of_birth: "2014-03-27", sex: "female", upn: good, year_group: "7" };
  const pupil = (e, upns = new Set()) => checkEntry({ child_id: CHILD, ...e }, { view: null, school: SCHOOL, now: NOW, upns });
  assert.deepEqual(pupil(ok), []);
  assert.deepEqual(names(pupil({ ...ok, first_name: " ", last_name: "x".repeat(101) })), ["first_name", "last_name"]);
  assert.deepEqual(pupil({ ...ok, date_of_birth: "2026-12-02" }), [{ name: "date_of_birth", message: "Date of birth must be in the past" }]);
  assert.deepEqual(names(pupil({ ...ok, date_of_birth: "1990-01-01" })), ["date_of_birth"]);
  assert.deepEqual(names(pupil({ ...ok, sex: null, year_group: "14" })), ["sex", "year_group"]);
  assert.deepEqual(names(pupil({ ...ok, upn: "A12345" })), ["upn"]);
  // The tablet holds the whole roll: a UPN already on it is refused, as the server refuses it.
  assert.deepEqual(pupil({ ...ok, upn: good.toLowerCase() }, new Set([good])), [
    { name: "upn", message: "A pupil with this UPN is already on your school's list" },
  ]);
});

test("addedPupil: a pupil added here is shown as the server will show them, with nothing open", () => {
  const value = addedPupil({ action: "pupil", child_id: CHILD, first_name: "Ada", last_name: "Lovelace",
    date_of_birth: "2014-03-27", sex: "female", upn: "a 1234", year_group: "7" });
  assert.equal(value.child.id, CHILD);
  assert.equal(value.child.upn, "A1234");
  assert.deepEqual([value.absences, value.followup, value.missing, value.pending], [[], null, null, true]);
  // An absence recorded for them at once opens their follow-up, with no signal.
  const view = pupilNow(value, [absence("2026-11-30", ["am"], "")], SCHOOL);
  assert.equal(view.followup.status, "open");
});
