// @ts-check
// School days and a pupil's absence timeline, as the server counts them
// (webapp/schools/days.py: SchoolCalendar, timeline). tests/vectors/school_days.json is run
// against both, so the DSL's tablet shows the same due dates with no signal.
// Pure: no DOM, no storage, no clock of its own (the caller passes today), no bank holiday
// table of its own (the server's calendar sends England's, from the maintained library, so a
// one-off holiday never needs a change here).
//
// Dates are calendar dates, "YYYY-MM-DD" strings, never instants: a school day has no time
// zone, and counting in UTC day numbers keeps the clock changes out of the arithmetic.

const DAY_MS = 86400e3;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * A calendar date as a whole number of days since 1970-01-01 (UTC, so every day is 24 hours).
 * Refuses anything that is not a real "YYYY-MM-DD" date: a loose string compared as text would
 * count silently wrong.
 * @param {string} iso
 * @returns {number}
 */
function dayNumber(iso) {
  const m = typeof iso === "string" ? ISO_DATE.exec(iso) : null;
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const ms = Date.UTC(y, mo - 1, d);
    const back = new Date(ms);
    // Date.UTC rolls 30 February over into March (and years 0-99 into 1900-1999): refuse both.
    if (back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d) {
      return ms / DAY_MS;
    }
  }
  throw new RangeError(`not a date (YYYY-MM-DD): ${iso}`);
}

/**
 * @param {number} n a day number
 * @returns {string} "YYYY-MM-DD"
 */
function isoDate(n) {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}

/**
 * @param {number} n a day number
 * @returns {boolean} Saturday or Sunday
 */
function isWeekend(n) {
  const weekday = new Date(n * DAY_MS).getUTCDay(); // 0 Sunday ... 6 Saturday
  return weekday === 0 || weekday === 6;
}

/**
 * @typedef {object} CalendarFacts
 * @property {Array<[string, string]>} [terms] inclusive [first day, last day]; half-terms are gaps
 * @property {string[]} [closures] INSET days, snow days...
 * @property {string[]} [bankHolidays] England's, substitute days included
 */

/**
 * @typedef {object} SchoolCalendar
 * @property {string | null} firstKnown the first day of the first term entered (null: no terms)
 * @property {string | null} lastKnown the last day of the last term entered (null: no terms)
 * @property {(iso: string) => boolean} covers within the span of the terms entered
 * @property {(iso: string) => boolean} inTerm
 * @property {(iso: string) => boolean} isSchoolDay
 * @property {(iso: string) => string} nextSchoolDay
 * @property {(start: string, end: string) => string[]} schoolDays both ends included
 * @property {(start: string, end: string) => number} count
 * @property {(start: string, n: number) => string} addSchoolDays the nth, counting start as day 1
 */

/**
 * A school's calendar. A school day is a weekday inside a term that is neither a closure nor a
 * bank holiday; outside the span of the terms entered (before the first, after the last, or no
 * terms at all) every weekday that is not a bank holiday or closure counts, so a calendar not
 * entered yet makes a deadline fall earlier, never later and never nowhere (days.py's rule).
 * @param {CalendarFacts} facts
 * @returns {SchoolCalendar}
 */
export function schoolCalendar({ terms = [], closures = [], bankHolidays = [] } = {}) {
  const spans = terms.map(([start, end]) => [dayNumber(start), dayNumber(end)]);
  const off = new Set([...closures, ...bankHolidays].map(dayNumber));
  const first = spans.length ? Math.min(...spans.map(([s]) => s)) : null;
  const last = spans.length ? Math.max(...spans.map(([, e]) => e)) : null;

  /** @param {number} n */
  const covers = (n) => first !== null && first <= n && n <= last;
  /** @param {number} n */
  const inTerm = (n) => spans.some(([s, e]) => s <= n && n <= e);
  /** @param {number} n */
  const isSchoolDay = (n) => {
    if (isWeekend(n) || off.has(n)) return false;
    return inTerm(n) || !covers(n);
  };
  /**
   * @param {string} start
   * @param {string} end
   */
  const schoolDays = (start, end) => {
    const days = [];
    for (let n = dayNumber(start), stop = dayNumber(end); n <= stop; n += 1) {
      if (isSchoolDay(n)) days.push(isoDate(n));
    }
    return days;
  };
  // Always ends: past the last term every weekday that is not a listed day off counts.
  /** @param {number} n */
  const nextSchoolDay = (n) => {
    while (!isSchoolDay(n)) n += 1;
    return n;
  };

  return Object.freeze({
    firstKnown: first === null ? null : isoDate(first),
    lastKnown: last === null ? null : isoDate(last),
    covers: (iso) => covers(dayNumber(iso)),
    inTerm: (iso) => inTerm(dayNumber(iso)),
    isSchoolDay: (iso) => isSchoolDay(dayNumber(iso)),
    nextSchoolDay: (iso) => isoDate(nextSchoolDay(dayNumber(iso))),
    schoolDays,
    count: (start, end) => schoolDays(start, end).length,
    addSchoolDays(start, n) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError("n counts school days from 1");
      let d = nextSchoolDay(dayNumber(start));
      for (let i = 1; i < n; i += 1) d = nextSchoolDay(d + 1);
      return isoDate(d);
    },
  });
}

export const MILESTONES = Object.freeze([
  "contact_day1",
  "ews_day3",
  "notify_day10",
  "illness_day15",
  "joint_enquiries_day20",
]);

const DSL = "Designated safeguarding lead";
const SCHOOL = "School";
const SCHOOL_AND_CME = "School, with the authority's children missing education officer";

/**
 * code: the school day it falls on, its title and who does it: days.RULES, word for word (the
 * vectors hold both to the same words).
 * @type {Readonly<Record<string, {day: number, title: string, who: string}>>}
 */
export const RULES = Object.freeze({
  contact_day1: { day: 1, title: "Contact the parents or carers", who: DSL },
  ews_day3: { day: 3, title: "Contact the Education Welfare Service", who: SCHOOL },
  notify_day10: {
    day: 10,
    title:
      "10 continuous school days of unauthorised absence: attendance notification to the local authority",
    who: SCHOOL,
  },
  illness_day15: {
    day: 15,
    title: "Illness expected to reach 15 school days: sickness return to the local authority",
    who: SCHOOL,
  },
  joint_enquiries_day20: {
    day: 20,
    title:
      "20 consecutive school days, whereabouts unknown: joint reasonable enquiries with the children missing education officer before removal from roll; notify the local authority",
    who: SCHOOL_AND_CME,
  },
});

/**
 * Which milestones a follow-up has. Illness is authorised absence (code I): the sickness return,
 * not the notification of unauthorised absence. Joint enquiries are for a pupil whose
 * whereabouts are unknown, whatever else is recorded.
 * @param {string} code
 * @param {{illness: boolean, whereaboutsUnknown: boolean}} facts
 */
export function applies(code, { illness, whereaboutsUnknown }) {
  if (code === "notify_day10") return !illness;
  if (code === "illness_day15") return illness;
  if (code === "joint_enquiries_day20") return whereaboutsUnknown;
  return true;
}

/**
 * @typedef {object} Milestone
 * @property {string} code
 * @property {string} title
 * @property {string} who
 * @property {string} dueOn "YYYY-MM-DD"
 * @property {"due" | "upcoming" | "done"} state
 */

/**
 * The milestones of an absence that began on firstDay (day 1, or the next school day if it is
 * not one), in the order they fall due. Due on or before today: "due"; later: "upcoming"; a
 * code in done (what the school has recorded doing): "done". An absence recorded late is simply
 * one whose milestones are already due.
 * @param {string} firstDay "YYYY-MM-DD"
 * @param {SchoolCalendar} cal
 * @param {string} today "YYYY-MM-DD", the caller's (the device's UK date)
 * @param {{illness?: boolean, whereaboutsUnknown?: boolean, done?: Iterable<string>}} [options]
 * @returns {Milestone[]}
 */
export function timeline(firstDay, cal, today, options = {}) {
  const { illness = false, whereaboutsUnknown = true, done = [] } = options;
  const finished = new Set(done);
  const todayN = dayNumber(today);
  /** @type {Milestone[]} */
  const milestones = [];
  for (const code of MILESTONES) {
    if (!applies(code, { illness, whereaboutsUnknown })) continue;
    const { day, title, who } = RULES[code];
    const dueOn = cal.addSchoolDays(firstDay, day);
    /** @type {Milestone["state"]} */
    let state;
    if (finished.has(code)) state = "done";
    else if (dayNumber(dueOn) <= todayN) state = "due";
    else state = "upcoming";
    milestones.push({ code, title, who, dueOn, state });
  }
  return milestones;
}

/**
 * Which school day of the absence today is (0 before its first school day; a non-school day
 * counts the school days so far).
 * @param {string} firstDay
 * @param {SchoolCalendar} cal
 * @param {string} today
 */
export function schoolDayNumber(firstDay, cal, today) {
  return cal.count(firstDay, today);
}
