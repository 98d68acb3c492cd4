// @ts-check
// The 72-hour clock, word for word as the server says it (webapp/deadlines.py: RhiClock.label).
// tests/vectors/clock.json is run against both, so a phone and a desk never disagree.

/** @typedef {"overdue" | "due_soon" | "on_track"} ClockState */

/**
 * @typedef {object} Clock
 * @property {ClockState} state the server's name for it
 * @property {string} css the class suffix the stylesheet uses (hw-clock--due-soon)
 * @property {string} label "2 days left", "Overdue by 3 h 5 min"
 * @property {string} tag "Due soon"
 */

const MINUTE = 60e3;
const TAGS = { overdue: "Overdue", due_soon: "Due soon", on_track: "On track" };

/**
 * Whole minutes, rounded down, so the time left is never overstated; minutes are dropped from a
 * day on, and a zero part is left out ("2 days", "3 h").
 *
 * @param {number} ms a span of time, not negative
 * @returns {string} "" under a minute
 */
export function duration(ms) {
  const minutes = Math.floor(ms / MINUTE);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days) {
    const text = days === 1 ? "1 day" : `${days} days`;
    return hours ? `${text} ${hours} h` : text;
  }
  if (hours) return mins ? `${hours} h ${mins} min` : `${hours} h`;
  return mins ? `${mins} min` : "";
}

/**
 * @param {number} remainingMs due time minus now
 * @param {{dueSoonHours: number}} thresholds from the server (HOMEWARD_THRESHOLD_DUE_SOON_HOURS)
 * @returns {Clock}
 */
export function clockFor(remainingMs, { dueSoonHours }) {
  /** @type {ClockState} */
  let state;
  if (remainingMs <= 0) state = "overdue";
  else if (remainingMs < dueSoonHours * 3600e3) state = "due_soon";
  else state = "on_track";
  let label;
  if (state === "overdue") {
    const text = duration(-remainingMs);
    label = text ? `Overdue by ${text}` : "Overdue by less than 1 min";
  } else {
    const text = duration(remainingMs);
    label = text ? `${text} left` : "Less than 1 min left";
  }
  return { state, css: state.replace("_", "-"), label, tag: TAGS[state] };
}

/**
 * @param {string} dueIso
 * @param {number} now ms since the epoch
 * @param {{dueSoonHours: number}} thresholds
 * @returns {Clock}
 */
export function clock(dueIso, now, thresholds) {
  return clockFor(new Date(dueIso).getTime() - now, thresholds);
}
