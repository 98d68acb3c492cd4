// @ts-check
// A carer's report of a child missing, away or not back, as a field-mode record type. Made on
// the phone with the phone's own id (so a report typed with no signal is the same record when
// it arrives, sent once), then updated as the carer learns more, reported back, and given what
// the carer noticed for the return interview. The server's rules are in
// webapp/episodes/service.py; validate() below checks the same ones before anything is queued.

import { dateTimeField, fieldId, radios, textArea, textField, values } from "../field/fields.js";
import { formatTime, fromLocalInput, h } from "../field/views.js";

export const REPORT_FIELDS = /** @type {const} */ ([
  ["where_last_seen", "Where the child was last seen", "input"],
  ["with_whom", "Who they were with", "input"],
  ["clothing", "What they were wearing", "area"],
  ["belongings", "What they had with them (bag, other belongings)", "area"],
  ["money", "Money and bank cards", "input"],
  ["phone", "Their phone: number, credit, whether it is on", "input"],
]);
export const RETURN_FIELDS = /** @type {const} */ ([
  ["where_found", "More about where they were", "input"],
  ["who_with", "Who they were with", "input"],
  ["welfare", "First welfare observations (injuries, intoxication, how they seem)", "area"],
]);
export const HOW_RETURNED = [
  { value: "own_accord", label: "Came back of their own accord" },
  { value: "found_by_police", label: "Found by police" },
  { value: "returned_by_police", label: "Brought back by police" },
  { value: "collected_by_carer", label: "Collected by parent or carer" },
  { value: "found_by_other", label: "Found by someone else" },
  { value: "other", label: "Other" },
];
/**
 * Where a child may be found, in the server's words: the field schema carries them
 * (webapp/episodes/models.py FOUND_PLACE_LABELS), so the phone never keeps a copy by hand. An
 * older schema without them: the question is not asked (it is optional).
 *
 * @param {any} schema
 * @returns {Array<{value: string, label: string, hint?: string}>}
 */
export function foundPlaces(schema) {
  const places = schema && schema.episode && schema.episode.found_place;
  return Array.isArray(places) ? places : [];
}
export const TYPE_LABELS = {
  not_back: "Not back when expected",
  missing: "Missing",
  away: "Away from placement, whereabouts known",
  absent: "Absent",
};
// The server's limits (webapp/episodes/service.py: MAX_DETAIL, MAX_TEXT, the log number's 40),
// in its words, so nothing is queued that it would refuse.
const LIMITS = { detail: 2000, text: 10_000, logNumber: 40 };
// A phone whose clock runs a little fast is not "in the future" (as the server allows).
const SKEW_MS = 5 * 60 * 1000;

/**
 * The choices a carer has; "away" only for a looked-after child (whereabouts known).
 *
 * @param {boolean} lookedAfter
 */
export function typeChoices(lookedAfter) {
  return [
    { value: "not_back", label: TYPE_LABELS.not_back, hint: "They have not come back when they were due. The plan says how long to wait before telling the police." },
    { value: "missing", label: TYPE_LABELS.missing, hint: "You do not know where they are and you are worried for them." },
    ...(lookedAfter ? [{ value: "away", label: TYPE_LABELS.away, hint: "You know where they are, but they are not where they should be." }] : []),
  ];
}

/**
 * The details police ask for, as form fields (shared by the new report and its updates).
 *
 * @param {any} p the episode payload
 * @param {boolean} lookedAfter
 */
export function reportFields(p, lookedAfter) {
  const report = p.report || {};
  return [
    radios({ name: "reported_type", label: "What has happened?", value: p.reported_type, choices: typeChoices(lookedAfter) }),
    dateTimeField({ name: "last_seen_at", label: "When were they last seen?", value: p.last_seen_at, hint: "UK time" }),
    dateTimeField({ name: "due_back_at", label: "When were they due back?", value: p.due_back_at, hint: "Needed for \"not back when expected\"" }),
    REPORT_FIELDS.map(([name, label, kind]) => kind === "area"
      ? textArea({ name: `report.${name}`, label, value: report[name] })
      : textField({ name: `report.${name}`, label, value: report[name] })),
    textArea({ name: "circumstances", label: "What happened before they went", value: p.circumstances, rows: 4 }),
    textArea({ name: "report.checks_made", label: "Checks you have already made", value: report.checks_made, hint: "Their room, friends' and family's homes, places they go, calls and messages" }),
    dateTimeField({ name: "reported_to_police_at", label: "When did you call the police?", value: p.reported_to_police_at, hint: "Leave blank if you have not called yet" }),
    textField({ name: "police_log_number", label: "Police log number", value: p.police_log_number, width: "govuk-input--width-20" }),
  ];
}

const REPORT_NAMES = ["reported_type", "last_seen_at", "due_back_at", "circumstances", "reported_to_police_at",
  "police_log_number", "report.checks_made", ...REPORT_FIELDS.map(([n]) => `report.${n}`)];
const RETURN_NAMES = ["returned_at", "how_returned", "found_place", ...RETURN_FIELDS.map(([n]) => n)];

/**
 * The report's fields as the payload has them.
 *
 * @param {HTMLFormElement} form
 */
export function readReport(form) {
  const v = values(form, REPORT_NAMES);
  /** @type {Record<string, string>} */
  const report = {};
  for (const name of [...REPORT_FIELDS.map(([n]) => n), "checks_made"]) {
    const text = v[`report.${name}`];
    if (text) report[name] = text;
  }
  return {
    reported_type: v.reported_type,
    last_seen_at: fromLocalInput(v.last_seen_at),
    due_back_at: fromLocalInput(v.due_back_at),
    circumstances: v.circumstances,
    reported_to_police_at: fromLocalInput(v.reported_to_police_at),
    police_log_number: v.police_log_number,
    report,
  };
}

/**
 * Problems the server would refuse the payload for (webapp/episodes/service.py), [] if none.
 *
 * @param {any} p
 * @param {{lookedAfter?: boolean, now?: number, places?: Array<{value: string}>}} facts
 *   places: where a child may be found (foundPlaces(schema)); none known, none checked
 * @returns {Array<{name: string, message: string}>}
 */
export function check(p, { lookedAfter = false, now = Date.now(), places = [] } = {}) {
  const out = [];
  const future = (/** @type {string | null} */ iso) => Boolean(iso) && Date.parse(String(iso)) > now + SKEW_MS;
  if (!p.reported_type || !(p.reported_type in TYPE_LABELS)) out.push({ name: "reported_type", message: "Choose what has happened" });
  else if (p.reported_type === "away" && !lookedAfter) out.push({ name: "reported_type", message: "Away from placement is only for a looked-after child: choose missing or not back" });
  if (!p.last_seen_at) out.push({ name: "last_seen_at", message: "Enter when the child was last seen" });
  else if (future(p.last_seen_at)) out.push({ name: "last_seen_at", message: "The time last seen must be in the past" });
  if (p.reported_type === "not_back" && !p.due_back_at) out.push({ name: "due_back_at", message: "Enter when the child was due back" });
  if (p.reported_to_police_at) {
    if (future(p.reported_to_police_at)) out.push({ name: "reported_to_police_at", message: "The time you called the police must be in the past" });
    else if (p.last_seen_at && Date.parse(p.reported_to_police_at) < Date.parse(p.last_seen_at)) {
      out.push({ name: "reported_to_police_at", message: "The time reported to police must be after the time last seen" });
    }
  }
  const r = p.returned;
  if (r) {
    if (!r.returned_at) out.push({ name: "returned_at", message: "Enter when the child came back" });
    else if (future(r.returned_at)) out.push({ name: "returned_at", message: "The return time must be in the past" });
    else if (p.last_seen_at && Date.parse(r.returned_at) < Date.parse(p.last_seen_at)) out.push({ name: "returned_at", message: "The return must be after the time last seen" });
    if (!r.how_returned) out.push({ name: "how_returned", message: "Choose how the child came back or was found" });
    if (r.found_place && places.length && !places.some((c) => c.value === r.found_place)) {
      out.push({ name: "found_place", message: "Choose where the child was found from the list" });
    }
  }
  /** @type {Array<[string, unknown, number]>} */
  const texts = [
    ...Object.entries(p.report || {}).map(([k, v]) => /** @type {[string, unknown, number]} */ ([`report.${k}`, v, LIMITS.detail])),
    ["circumstances", p.circumstances, LIMITS.text],
    ["carer_notes", p.carer_notes, LIMITS.text],
    ["police_log_number", p.police_log_number, LIMITS.logNumber],
  ];
  for (const [name, value, limit] of texts) {
    if (typeof value === "string" && value.trim().length > limit) {
      out.push({ name: fieldId(name), message: `Enter ${limit.toLocaleString("en-GB")} characters or fewer` });
    }
  }
  return out;
}

/** @param {any} value */
export const isOpen = (value) => value.status === "missing" && !value.returned && !value.draft;

/**
 * What a screen says about where the child is.
 *
 * @param {any} value
 */
export function stateLabel(value) {
  if (!isOpen(value)) return `Back since ${formatTime(value.returned ? value.returned.returned_at : null)}`;
  if (value.reported_type === "away") return "Away from placement, whereabouts known";
  if (value.reported_type === "not_back") return `Not back when expected (due ${formatTime(value.due_back_at)})`;
  return `Missing since ${formatTime(value.last_seen_at)}`;
}

/**
 * @param {any} lookup (type, id) => the stored record's value, or undefined
 * @param {any} value
 */
const childOf = (lookup, value) => (lookup("child", value.child_id) || { child: {} }).child;

/** @type {import("./registry.js").RecordType} */
export const episode = {
  name: "episode",
  title: "Reports",
  listLabel: "Reports on this device",
  empty: "No reports.",
  listed: false, // shown on the child's own screen, not as a list of their own

  listItem(record) {
    return h("li", { class: "hw-card" }, stateLabel(record.value));
  },

  form(record, { current, section, lookup, schema, problem, savedAt, onChange, onSubmit, onBack, formatClock, go }) {
    const child = childOf(lookup, record.value);
    const open = isOpen(record.value);
    const back = section === "back";
    const name = `${child.first_name || ""} ${child.last_name || ""}`.trim();
    const returned = current.returned || {};
    let body;
    if (back) {
      body = [
        h("h1", { class: "govuk-heading-l" }, "Report back"),
        dateTimeField({ name: "returned_at", label: "When did they come back, or when were they found?", value: returned.returned_at, hint: "UK time. This starts the 72-hour clock for the return interview." }),
        radios({ name: "how_returned", label: "How did they come back?", value: returned.how_returned, choices: HOW_RETURNED }),
        foundPlaces(schema).length ? radios({ name: "found_place", label: "Where were they found, or where did they come back from?",
          hint: "Choose the closest. You can leave this out if you do not know.", value: returned.found_place,
          choices: foundPlaces(schema), small: true }) : null,
        RETURN_FIELDS.map(([n, label, kind]) => kind === "area"
          ? textArea({ name: n, label, value: returned[n], rows: 4 })
          : textField({ name: n, label, value: returned[n] })),
      ];
    } else if (open) {
      body = [
        h("h1", { class: "govuk-heading-l" }, "The report"),
        h("p", { class: "govuk-body" }, "Keep these details up to date: they are what the police ask for. Changes are saved on this phone as you type and sent when there is signal."),
        reportFields(current, Boolean(child.looked_after)),
      ];
    } else {
      body = [
        h("h1", { class: "govuk-heading-l" }, "What you noticed"),
        h("p", { class: "govuk-body" }, "The return interview worker reads this before they meet the child: how they have been since coming back, anything they said, anything that worried you."),
        textArea({ name: "carer_notes", label: "What you noticed", value: current.carer_notes, rows: 8 }),
      ];
    }
    // The return is sent with its button, not saved as it is typed: half a return (a time with
    // no "how") would only show errors while the carer is still typing it.
    const form = h("form", { id: "hw-field-form", novalidate: true, oninput: back ? null : onChange, onchange: back ? null : onChange,
      onsubmit: (/** @type {Event} */ ev) => { ev.preventDefault(); onSubmit(); } },
      h("div", { id: "hw-field-problems" }),
      body,
      h("p", { class: "hw-save-status", role: "status", "aria-live": "polite", id: "hw-field-saved" },
        savedAt ? `Saved on this device at ${formatClock(savedAt)}` : ""),
      h("div", { class: "govuk-button-group" },
        h("button", { type: "submit", class: "govuk-button" }, back ? "Report back" : "Save"),
        open && !back ? h("button", { type: "button", class: "govuk-button govuk-button--secondary",
          onclick: () => go({ screen: "record", type: "episode", id: record.id, section: "back" }) }, "Report back") : null));
    return h("div", {},
      h("a", { href: "#/", class: "govuk-back-link", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onBack(); } }, "Back"),
      h("span", { class: "govuk-caption-l" }, name),
      problem ? h("div", { class: "govuk-error-summary", tabindex: "-1" },
        h("div", { role: "alert" },
          h("h2", { class: "govuk-error-summary__title" }, "The server could not accept this"),
          h("div", { class: "govuk-error-summary__body" }, h("p", { class: "govuk-body" }, problem.message)))) : null,
      form);
  },

  current(record, draft) {
    return { ...record.value, ...(draft || {}) };
  },

  read(form, { current, section }) {
    const payload = {
      child_id: current.child_id,
      reported_type: current.reported_type,
      last_seen_at: current.last_seen_at,
      due_back_at: current.due_back_at || null,
      reported_to_police_at: current.reported_to_police_at || null,
      police_log_number: current.police_log_number || null,
      circumstances: current.circumstances || null,
      report: current.report || {},
      returned: current.returned || null,
      carer_notes: current.carer_notes || null,
    };
    if (section === "back") {
      const v = values(form, RETURN_NAMES);
      /** @type {Record<string, any>} */
      const returned = { returned_at: fromLocalInput(v.returned_at), how_returned: v.how_returned };
      if (v.found_place) returned.found_place = v.found_place;
      for (const [n] of RETURN_FIELDS) if (v[n]) returned[n] = v[n];
      payload.returned = returned;
    } else if (isOpen(current)) {
      Object.assign(payload, readReport(form));
    } else {
      payload.carer_notes = values(form, ["carer_notes"]).carer_notes;
    }
    return payload;
  },

  validate(payload, { lookup, schema }) {
    return check(payload, { lookedAfter: Boolean(childOf(lookup, payload).looked_after), places: foundPlaces(schema) });
  },

  /** A report made on this phone, shown as the server will show it until the server's copy arrives. */
  local(payload) {
    return { ...payload, status: payload.returned ? "returned" : "missing", reported_type_label: TYPE_LABELS[payload.reported_type] };
  },

  accepted(value, payload) {
    return { ...value, ...payload, status: payload.returned ? "returned" : value.status };
  },

  // Saved or reported back: the child's screen, which shows the report and the next step.
  after: (record) => ({ screen: "record", type: "child", id: record.value.child_id }),
};
