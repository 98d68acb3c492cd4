// @ts-check
// The risk plan's police deadline and next step, as the server says them
// (webapp/carers/plan_rules.py: police_report_due, next_step). tests/vectors/plan.json is run
// against both, so the carer's phone counts down to the same instant with no signal.
// Pure: no DOM, no storage, no clock of its own (the caller passes now).

export const MAX_REPORT_AFTER_HOURS = 6;
const NO_PLAN_REPORT_AFTER_HOURS = 0; // no agreed wait: at once
const AT_ONCE_AGE = 12;
const HOUR = 3600e3;

export const STEP_TEXT = {
  returned: "The child is back. Check they are safe and well, and record how they returned.",
  away: "Whereabouts known. Keep in touch and follow the plan's return arrangements.",
  police_told: "Police have been told. Keep trying the plan's contacts and tell police anything new.",
  search:
    "Try the contacts and addresses in the plan. If the child is not back by the time shown, report to police.",
  report_now: "Report to police now: the plan says not to wait any longer.",
};

/**
 * @typedef {object} PlanFacts
 * @property {string} reportedType "not_back", "missing" or "away"
 * @property {string} lastSeenAt an instant (ISO 8601 with its offset)
 * @property {string | null} [dueBackAt]
 * @property {string} dateOfBirth "YYYY-MM-DD"
 * @property {number | null} [reportAfterHours] the plan's hours; null or absent: no plan
 */

/**
 * @typedef {object} Step
 * @property {"returned" | "away" | "police_told" | "search" | "report_now"} code
 * @property {string} text
 * @property {string | null} dueAt ISO instant (UTC)
 */

const londonDate = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London",
  year: "numeric",
  month: "numeric",
  day: "numeric",
});

/**
 * The UK calendar date of an instant.
 * @param {number} ms
 * @returns {{year: number, month: number, day: number}}
 */
function ukDate(ms) {
  /** @type {Record<string, number>} */
  const parts = {};
  for (const p of londonDate.formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day };
}

/**
 * Age in whole years on a day; a 29 February birthday is reached on 1 March.
 * @param {string} dateOfBirth "YYYY-MM-DD"
 * @param {{year: number, month: number, day: number}} on
 */
export function ageOn(dateOfBirth, on) {
  const [y, m, d] = dateOfBirth.split("-").map(Number);
  const before = on.month < m || (on.month === m && on.day < d);
  return on.year - y - (before ? 1 : 0);
}

/**
 * @param {string} iso
 * @returns {number}
 */
function instant(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new RangeError(`not a time: ${iso}`);
  return ms;
}

/**
 * When the carer must have reported to police, or null for "away" (whereabouts known).
 * @param {PlanFacts} facts
 * @returns {string | null} ISO instant (UTC)
 */
export function policeReportDue({ reportedType, lastSeenAt, dueBackAt, dateOfBirth, reportAfterHours }) {
  if (reportedType === "away") return null;
  const start = instant(dueBackAt ?? lastSeenAt);
  const asked = reportAfterHours ?? NO_PLAN_REPORT_AFTER_HOURS;
  let hours = Math.max(0, Math.min(Math.trunc(asked), MAX_REPORT_AFTER_HOURS));
  if (ageOn(dateOfBirth, ukDate(start)) <= AT_ONCE_AGE) hours = 0;
  // Elapsed hours: a clock change in between does not stretch or shrink the wait.
  return new Date(start + hours * HOUR).toISOString();
}

/**
 * What the carer's screen says to do next.
 * @param {PlanFacts & {reportedToPoliceAt?: string | null, returnedAt?: string | null}} facts
 * @param {number} now ms since the epoch
 * @returns {Step}
 */
export function nextStep(facts, now) {
  if (facts.returnedAt) return { code: "returned", text: STEP_TEXT.returned, dueAt: null };
  const due = policeReportDue(facts);
  if (due === null) return { code: "away", text: STEP_TEXT.away, dueAt: null };
  if (facts.reportedToPoliceAt) return { code: "police_told", text: STEP_TEXT.police_told, dueAt: null };
  if (now >= instant(due)) return { code: "report_now", text: STEP_TEXT.report_now, dueAt: due };
  return { code: "search", text: STEP_TEXT.search, dueAt: due };
}
