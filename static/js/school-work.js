// @ts-check
// The DSL's work on a tablet, as pure functions: what a pupil's record says once the entries
// made on this tablet (and not yet on the server) are applied, the pupil's timeline counted in
// the school's days, and the checks an entry must pass before it is queued. The server's rules
// are webapp/schools/absences.py; the entries are applied there by webapp/schools/sync.py. No
// DOM, no storage, no clock of its own: callers pass today and now.

import { schoolCalendar, schoolDayNumber, timeline } from "./school-days.js";

// The server's limits (webapp/schools/absences.py MAX_OUTCOME, MAX_REFERENCE, MAX_NOTES;
// the episode service's police log number and texts), in its words.
export const LIMITS = { outcome: 2000, reference: 60, notes: 2000, logNumber: 40, text: 10_000, detail: 2000 };
// A tablet whose clock runs a little fast is not "in the future" (the server allows 5 minutes).
const SKEW_MS = 5 * 60 * 1000;
const OLDEST_ABSENCE_DAYS = 366;
const DAY_MS = 86400e3;

const UK_DATE = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit" });

/** The UK date of an instant, "YYYY-MM-DD": school days are UK days. @param {number | string} at */
export function ukDate(at) {
  return UK_DATE.format(new Date(at));
}

/**
 * The school's calendar as school-days.js counts it, from the school record's payload.
 *
 * @param {any} school the "school" record's value (or undefined before the first sync)
 */
export function calendarOf(school) {
  const c = (school && school.calendar) || {};
  return schoolCalendar({
    terms: (c.terms || []).map((/** @type {string[]} */ t) => [t[0], t[1]]),
    closures: (c.closures || []).map((/** @type {string[]} */ x) => x[0]),
    bankHolidays: (c.bank_holidays || []).map((/** @type {string[]} */ x) => x[0]),
  });
}

/**
 * The entries for this pupil made on this tablet and not yet taken by the server, oldest first
 * (the order they are sent and applied in).
 *
 * @param {Array<{id: string, value: any}>} entries stored school_entry records
 * @param {string} childId
 */
export function entriesOf(entries, childId) {
  return (entries || []).filter((e) => e.value && e.value.child_id === childId)
    .sort((a, b) => (a.value.made_at || 0) - (b.value.made_at || 0));
}

/** @param {any} code @param {any} school */
const opensFollowup = (code, school) => code === "" || ((school && school.opens_followup) || ["G", "N", "O", "U"]).includes(code);

/** @param {any} code @param {any} school */
const attending = (code, school) => ((school && school.attending) || ["/", "\\", "L", "K", "V", "P", "W", "B"]).includes(code);

// The follow-up id of one opened on this tablet, until the server's copy names it.
const TABLET = "tablet";

/** A session in register order: "am" sorts before "pm". @param {{on: string, session: string}} a */
const sessionKey = (a) => `${a.on} ${a.session}`;

/**
 * The pupil as the server will show them once it has this tablet's entries: the same rules as
 * webapp/schools/absences.py, so the tablet shows a follow-up opened, an enquiry logged or a
 * referral due the moment the DSL saves it, signal or not. Each item the tablet added is marked
 * `pending: true` ("waiting to send").
 *
 * @param {any} pupil the "pupil" record's value
 * @param {Array<{id: string, value: any}>} entries this pupil's entries (entriesOf)
 * @param {any} school the "school" record's value
 * @returns {any}
 */
export function pupilNow(pupil, entries, school) {
  const view = structuredClone(pupil);
  view.absences = [...(view.absences || [])];
  const open = () => (view.followup && view.followup.status === "open" ? view.followup : null);
  for (const { id, value: e } of entries) {
    const madeAt = new Date(e.made_at || Date.now()).toISOString();
    const f = open();
    const named = e.followup_id ? (view.followup && view.followup.id === e.followup_id ? view.followup : null) : f;
    if (e.action === "absence") {
      let followup = f;
      if (opensFollowup(e.code, school)) {
        if (!followup) {
          followup = { id: null, opened_on: e.on, status: "open", closed_reason: null, closed_on: null,
            illness: false, whereabouts_unknown: true, enquiries: [], referrals: [], sent: {}, pending: true };
          view.followup = followup;
        } else if (e.on < followup.opened_on) {
          followup.opened_on = e.on;
        }
      }
      // The follow-up's own absent sessions (the server sends which follow-up each belongs to;
      // one opened here is "tablet"), less those this entry records again: a session corrected
      // to present no longer counts, and an earlier follow-up's absences never did.
      const fid = followup ? followup.id || TABLET : null;
      const again = (/** @type {any} */ a) => a.on === e.on && (e.sessions || []).includes(a.session);
      const lastAbsent = fid ? view.absences.filter((a) => a.followup_id === fid && !again(a)).map(sessionKey).sort().pop() : null;
      const joins = opensFollowup(e.code, school) ? fid : null;
      for (const session of e.sessions || []) {
        view.absences = view.absences.filter((a) => !(a.on === e.on && a.session === session));
        view.absences.push({ on: e.on, session, code: e.code, followup_id: joins, pending: true });
      }
      view.absences.sort((a, b) => sessionKey(b).localeCompare(sessionKey(a)));
      const latest = sessionKey({ on: e.on, session: [...(e.sessions || [])].sort().pop() || "am" });
      if (followup && attending(e.code, school) && e.on >= followup.opened_on && (!lastAbsent || latest > lastAbsent)) {
        Object.assign(followup, { status: "closed", closed_reason: "returned", closed_on: e.on });
      }
    } else if (e.action === "enquiry" && named) {
      named.enquiries = [...named.enquiries, { id, at: e.at, kind: e.kind, outcome: e.outcome, seen_safe: e.seen_safe, pending: true }];
      if (e.seen_safe) Object.assign(named, { status: "closed", closed_reason: "seen_safe", closed_on: ukDate(madeAt) });
    } else if (e.action === "checklist" && named) {
      const answers = { ...e.answers };
      const anyYes = ((school && school.always_refer) || []).some((/** @type {any} */ q) => answers[q.key] === "yes");
      named.referrals = [...named.referrals, { id, checked_at: madeAt, any_yes: anyYes, answers, referred_to: null, referred_at: null, reference: null, pending: true }];
    } else if (e.action === "referral" && view.followup) {
      view.followup.referrals = view.followup.referrals.map((/** @type {any} */ r) => (r.id === e.referral_id
        ? { ...r, referred_to: e.referred_to, referred_at: e.referred_at, reference: e.reference, pending: true } : r));
      view.followup.sent = { ...view.followup.sent, referral: e.referred_at };
    } else if (e.action === "notify" && named) {
      named.sent = { ...named.sent, [e.milestone]: madeAt };
      if (e.milestone === "illness_day15") named.illness = true;
    } else if (e.action === "facts" && named) {
      Object.assign(named, { illness: e.illness, whereabouts_unknown: e.whereabouts_unknown });
    } else if (e.action === "close" && named) {
      Object.assign(named, { status: "closed", closed_reason: e.reason, closed_on: ukDate(madeAt) });
    } else if (e.action === "missing") {
      view.missing = { id, last_seen_at: e.last_seen_at, pending: true };
      if (f) f.sent = { ...f.sent, missing_in_school_day: madeAt };
    }
  }
  return view;
}

/**
 * A pupil added on this tablet, as a pupil record's value until the server's copy arrives.
 *
 * @param {any} e the "pupil" entry's value
 */
export function addedPupil(e) {
  return {
    child: { id: e.child_id, first_name: e.first_name, last_name: e.last_name, date_of_birth: e.date_of_birth,
      upn: normaliseUpn(e.upn), year_group: e.year_group, looked_after: false, legal_status: "None", social_worker_told: false },
    checklist_defaults: {}, absences: [], followup: null, missing: null, pending: true,
  };
}

/**
 * The follow-up's milestones and which school day it is, counted in the school's calendar to
 * today (or to the day it closed), as the pupil's timeline page counts them.
 *
 * @param {any} followup the view's follow-up
 * @param {any} school
 * @param {string} today "YYYY-MM-DD", the tablet's UK date
 */
export function timelineOf(followup, school, today) {
  const cal = calendarOf(school);
  const end = followup.closed_on || today;
  const done = Object.keys(followup.sent || {});
  if ((followup.enquiries || []).length) done.push("contact_day1");
  return {
    day: schoolDayNumber(followup.opened_on, cal, end),
    milestones: timeline(followup.opened_on, cal, end, {
      illness: Boolean(followup.illness), whereaboutsUnknown: followup.whereabouts_unknown !== false, done,
    }),
  };
}

/** A referral the checklist called for and not yet recorded. @param {any} followup */
export function referralDue(followup) {
  return followup ? (followup.referrals || []).find((/** @type {any} */ r) => r.any_yes && !r.referred_at) || null : null;
}

// ------------------------------------------------------------------ a pupil added here

// The DfE's check-letter alphabet (A to Z without I, O and S), as webapp/schools/pupil_rules.py
// has it; tests/vectors/upn.json is run against both.
const UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ";
const UPN_SHAPE = new RegExp(`^[${UPN_LETTERS}][0-9]{11}[0-9${UPN_LETTERS}]$`);

/** As typed or exported: spaces and case do not matter. @param {string | null | undefined} value */
export const normaliseUpn = (value) => String(value || "").replace(/\s+/g, "").toUpperCase();

/**
 * Why a (normalised) UPN is not one, in the server's words, or null.
 *
 * @param {string} upn
 */
export function upnProblem(upn) {
  if (!upn) return "Enter the UPN";
  if (upn.length !== 13 || !UPN_SHAPE.test(upn)) return "A UPN is a letter followed by 12 numbers, like A123456789012";
  let total = 0;
  for (let i = 1; i < 13; i += 1) {
    const c = upn[i];
    total += (i + 1) * (/[0-9]/.test(c) ? Number(c) : UPN_LETTERS.indexOf(c));
  }
  return UPN_LETTERS[total % 23] === upn[0] ? null : "The UPN's first letter does not match the rest: check it was typed correctly";
}

export const YEAR_GROUPS = ["R", ...Array.from({ length: 13 }, (_, i) => String(i + 1))];
export const SEXES = { female: "Female", male: "Male", other: "Other", unknown: "Not known" };
const NAME_MAX = 100;

/**
 * The problems of a pupil added on the tablet (pupil_rules.check_pupil, pupils.add_pupil), with
 * the UPNs already on this tablet's roll (the tablet keeps the whole school's).
 *
 * @param {any} e
 * @param {{upns: Set<string>, today: string}} facts
 */
function pupilProblems(e, { upns, today }) {
  /** @type {Array<{name: string, message: string}>} */
  const out = [];
  for (const [key, what] of [["first_name", "first name"], ["last_name", "last name"]]) {
    const value = String(e[key] || "").trim();
    if (!value) out.push({ name: key, message: `Enter the ${what}` });
    else if (value.length > NAME_MAX) out.push({ name: key, message: `The ${what} must be ${NAME_MAX} characters or fewer` });
  }
  const dob = e.date_of_birth;
  if (!dob) out.push({ name: "date_of_birth", message: "Enter the date of birth" });
  else if (!/^\d{4}-\d{2}-\d{2}$/.test(dob) || Number.isNaN(Date.parse(dob))) out.push({ name: "date_of_birth", message: "Not a date: use DD/MM/YYYY or YYYY-MM-DD" });
  else if (dob > today) out.push({ name: "date_of_birth", message: "Date of birth must be in the past" });
  else if ((Date.parse(today) - Date.parse(dob)) / DAY_MS > 25 * 366) out.push({ name: "date_of_birth", message: "Date of birth is more than 25 years ago" });
  if (!(e.sex in SEXES)) out.push({ name: "sex", message: "Choose the pupil's sex" });
  const upn = normaliseUpn(e.upn);
  const problem = upnProblem(upn);
  if (problem) out.push({ name: "upn", message: problem });
  else if (upns.has(upn)) out.push({ name: "upn", message: "A pupil with this UPN is already on your school's list" });
  if (!YEAR_GROUPS.includes(e.year_group)) out.push({ name: "year_group", message: "Choose the year group" });
  return out;
}

/**
 * Whether a value is one of the school's choices (its contacts, closing reasons...).
 *
 * @param {any} school
 * @param {string} list
 * @param {string} value
 */
const known = (school, list, value) => ((school && school[list]) || []).some((/** @type {any} */ c) => c.value === value);

/**
 * @param {Array<{name: string, message: string}>} out
 * @param {string} name
 * @param {unknown} value
 * @param {number} limit
 */
function tooLong(out, name, value, limit) {
  if (typeof value === "string" && value.trim().length > limit) {
    out.push({ name, message: `Enter ${limit.toLocaleString("en-GB")} characters or fewer` });
  }
}

/**
 * Problems the server would refuse an entry for (webapp/schools/absences.py), [] if none, in
 * the web form's words. `view` is the pupil as the tablet shows them (pupilNow), so an enquiry
 * after an absence recorded with no signal finds the follow-up that absence opened.
 *
 * @param {any} e the entry's payload
 * @param {{view: any, school: any, now?: number, upns?: Set<string>}} facts the pupil as shown,
 *   the school, the time, and (for a pupil added here) the UPNs already on the tablet
 * @returns {Array<{name: string, message: string}>}
 */
export function checkEntry(e, { view, school, now = Date.now(), upns = new Set() }) {
  /** @type {Array<{name: string, message: string}>} */
  const out = [];
  const today = ukDate(now);
  const future = (/** @type {string | null | undefined} */ iso) => Boolean(iso) && Date.parse(String(iso)) > now + SKEW_MS;
  const followup = view && view.followup;
  const open = followup && followup.status === "open" ? followup : null;
  const needsOpen = () => {
    if (!open) out.push({ name: "action", message: "This pupil has no open follow-up: record the absence first" });
  };
  switch (e.action) {
    case "absence": {
      if (!e.on) out.push({ name: "on", message: "Enter the date of the absence" });
      else if (e.on > today) out.push({ name: "on", message: "The date of the absence must be today or in the past" });
      else if (Date.parse(e.on) < Date.parse(today) - OLDEST_ABSENCE_DAYS * DAY_MS) out.push({ name: "on", message: "The date of the absence must be within the last year" });
      if (!Array.isArray(e.sessions) || !e.sessions.length || e.sessions.some((/** @type {any} */ x) => x !== "am" && x !== "pm")) {
        out.push({ name: "sessions", message: "Choose the morning, the afternoon or both" });
      }
      const codes = ((school && school.codes) || []).map((/** @type {any} */ c) => c.code);
      if (e.code !== "" && !codes.includes(e.code)) out.push({ name: "code", message: "Choose an attendance code" });
      break;
    }
    case "enquiry":
      needsOpen();
      if (!e.kind || !known(school, "contacts", e.kind)) out.push({ name: "kind", message: "Choose the kind of contact" });
      if (!e.at) out.push({ name: "at", message: "Enter when it was made" });
      else if (future(e.at)) out.push({ name: "at", message: "When it was made must be in the past" });
      else if (open && ukDate(e.at) < open.opened_on) out.push({ name: "at", message: "When it was made must be after the absence began" });
      if (!e.outcome || !String(e.outcome).trim()) out.push({ name: "outcome", message: "Enter what came of it" });
      tooLong(out, "outcome", e.outcome, LIMITS.outcome);
      break;
    case "checklist":
      needsOpen();
      for (const q of (school && school.always_refer) || []) {
        if (!["yes", "no"].includes((e.answers || {})[q.key])) out.push({ name: `answers-${q.key}`, message: `Answer yes or no: ${q.question}` });
      }
      tooLong(out, "answers-notes", (e.answers || {}).notes, LIMITS.notes);
      break;
    case "referral": {
      const referral = followup && (followup.referrals || []).find((/** @type {any} */ r) => r.id === e.referral_id);
      if (!referral) out.push({ name: "action", message: "This checklist is not this pupil's" });
      else if (!referral.any_yes) out.push({ name: "action", message: "No answer on the checklist calls for a referral" });
      else if (referral.referred_at) out.push({ name: "action", message: "This referral is already recorded" });
      if (!e.referred_to) out.push({ name: "referred_to", message: "Choose children's social care or the police" });
      if (!e.referred_at) out.push({ name: "referred_at", message: "Enter when you referred" });
      else if (future(e.referred_at)) out.push({ name: "referred_at", message: "When you referred must be in the past" });
      tooLong(out, "reference", e.reference, LIMITS.reference);
      break;
    }
    case "notify":
      // As the server: a milestone may be recorded on a follow-up that has since closed.
      if (!followup) out.push({ name: "action", message: "This pupil has no follow-up" });
      if (!((school && school.timeline_kinds) || []).includes(e.milestone)) out.push({ name: "milestone", message: "Choose what was sent" });
      else if (followup && (followup.sent || {})[e.milestone]) out.push({ name: "milestone", message: "This is already recorded" });
      break;
    case "facts":
      needsOpen();
      break;
    case "close":
      needsOpen();
      if (!e.reason || !known(school, "closed_reasons", e.reason)) out.push({ name: "reason", message: "Choose why the follow-up ends" });
      break;
    case "pupil":
      out.push(...pupilProblems(e, { upns, today }));
      break;
    case "missing":
      if (view && view.missing) out.push({ name: "last_seen_at", message: "This child already has an open episode: record their return on it first" });
      if (!e.last_seen_at) out.push({ name: "last_seen_at", message: "Enter when the child was last seen" });
      else if (future(e.last_seen_at)) out.push({ name: "last_seen_at", message: "The time last seen must be in the past" });
      if (e.reported_to_police_at) {
        if (future(e.reported_to_police_at)) out.push({ name: "reported_to_police_at", message: "The time you called the police must be in the past" });
        else if (e.last_seen_at && Date.parse(e.reported_to_police_at) < Date.parse(e.last_seen_at)) {
          out.push({ name: "reported_to_police_at", message: "The time reported to police must be after the time last seen" });
        }
      }
      tooLong(out, "police_log_number", e.police_log_number, LIMITS.logNumber);
      tooLong(out, "circumstances", e.circumstances, LIMITS.text);
      for (const [k, v] of Object.entries(e.report || {})) tooLong(out, `report-${k}`, v, LIMITS.detail);
      break;
    default:
      out.push({ name: "action", message: "Unknown entry" });
  }
  return out;
}
