// @ts-check
// A pupil on the school's roll, as a field-mode record type for the school's designated
// safeguarding lead: the follow-up of an unexplained absence and its timeline counted in school
// days (../school-days.js, in the school's own calendar), and every action the web pages have:
// record an absence, log an enquiry, the always-refer checklist and its referral, a milestone
// done, the follow-up's facts and its end, and a pupil missing during the school day. The
// record itself is read only; each action is a school_entry (./school_entry.js) made on the
// tablet and sent once, shown here applied straight away.

import { checkboxes, dateField, dateTimeField, radios, select, textArea, textField, values } from "../field/fields.js";
import { formatTime, fromLocalInput, h } from "../field/views.js";
import { RULES } from "../school-days.js";
import { referralDue, timelineOf, ukDate } from "../school-work.js";
import { REPORT_FIELDS } from "./episode.js";
import { pupilView, pupilsOf } from "./school_entry.js";

/** @param {any} child */
const fullName = (child) => `${child.first_name} ${child.last_name}`;
/** @param {any} records */
const schoolOf = (records) => ((records.school || [])[0] || { value: {} }).value;

const SESSIONS = [{ value: "am", label: "Morning" }, { value: "pm", label: "Afternoon" }];
const STATE_TAGS = { due: ["Due", "govuk-tag--red"], upcoming: ["Upcoming", "govuk-tag--grey"], done: ["Done", "govuk-tag--green"] };
const DAY_LABEL = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** @param {string} iso "YYYY-MM-DD" */
export const formatDay = (iso) => (iso ? DAY_LABEL.format(new Date(`${iso}T00:00:00Z`)) : "");

const waiting = () => h("strong", { class: "govuk-tag govuk-tag--blue hw-waiting" }, "Waiting to send");

/**
 * @param {string} text
 * @param {() => void} onclick
 * @param {boolean} [secondary]
 */
const button = (text, onclick, secondary = false) =>
  h("button", { type: "button", class: `govuk-button${secondary ? " govuk-button--secondary" : ""}`, onclick }, text);

/**
 * @param {any} school
 * @param {string} key the list in the school's payload
 * @param {string | null} value
 */
const labelIn = (school, key, value) => ((school[key] || []).find((/** @type {any} */ c) => c.value === value) || { label: value || "" }).label;

/** @param {any} school @param {string} code */
const codeLabel = (school, code) => {
  const found = (school.codes || []).find((/** @type {any} */ c) => c.code === code);
  return found ? `${code ? `${code}: ` : ""}${found.label}` : code;
};

/**
 * A form that makes one entry: checked on the tablet first (what was typed stays on a problem),
 * then kept, queued and shown on the pupil's screen.
 *
 * @param {any} ctx
 * @param {string} heading
 * @param {any[]} fields
 * @param {(form: HTMLFormElement) => Record<string, any>} read the entry's payload
 * @param {string} [submitLabel]
 */
function entryForm(ctx, heading, fields, read, submitLabel = "Save") {
  const form = h("form", { id: "hw-field-form", novalidate: true,
    onsubmit: (/** @type {Event} */ ev) => {
      ev.preventDefault();
      ctx.create("school_entry", read(/** @type {HTMLFormElement} */ (ev.target)));
    } },
  h("div", { id: "hw-field-problems" }),
  fields,
  h("div", { class: "govuk-button-group" },
    h("button", { type: "submit", class: "govuk-button" }, submitLabel),
    button("Cancel", () => ctx.onBack(), true)));
  return [h("h1", { class: "govuk-heading-l" }, heading), form];
}

/** @param {HTMLFormElement} form @param {string} name */
const ticked = (form, name) => new FormData(form).getAll(name).map(String);

/** The entries of this pupil the server refused, with its words and a way to let them go. @param {any} record @param {any} ctx */
function refused(record, ctx) {
  const problems = [...(ctx.pending || new Map()).values()].filter((m) => m.recordType === "school_entry" && m.attention
    && m.payload && m.payload.child_id === record.id);
  return problems.map((m) => h("div", { class: "govuk-error-summary", tabindex: "-1" },
    h("div", { role: "alert" },
      h("h2", { class: "govuk-error-summary__title" }, "The server could not accept this"),
      h("div", { class: "govuk-error-summary__body" },
        h("p", { class: "govuk-body" }, (m.lastError && m.lastError.message) || "It was refused."),
        button("Remove it from this tablet", () => ctx.discard("school_entry", m.recordId), true)))));
}

/** @param {any} view @param {any} school @param {any} ctx @param {string} id */
function timelinePanel(view, school, ctx, id) {
  const f = view.followup;
  const today = ukDate(Date.now());
  const { day, milestones } = timelineOf(f, school, today);
  const open = f.status === "open";
  const kinds = school.timeline_kinds || [];
  return [
    h("h2", { class: "govuk-heading-m" }, open ? "Follow-up" : "Last follow-up"),
    h("p", { class: "govuk-body" },
      open ? `Open since ${formatDay(f.opened_on)}: school day ${day}.`
        : `Closed ${formatDay(f.closed_on)} (${labelIn(school, "closed_reasons", f.closed_reason)}) after ${day} school day${day === 1 ? "" : "s"}.`,
      f.pending ? [" ", waiting()] : null),
    h("table", { class: "govuk-table" },
      h("caption", { class: "govuk-table__caption govuk-visually-hidden" }, "Timeline in school days"),
      h("thead", { class: "govuk-table__head" }, h("tr", { class: "govuk-table__row" },
        ["School day", "What", "Due", "State"].map((t) => h("th", { scope: "col", class: "govuk-table__header" }, t)))),
      h("tbody", { class: "govuk-table__body" }, milestones.map((m) => {
        const [tag, css] = STATE_TAGS[m.state];
        const canMark = open && m.state !== "done" && kinds.includes(m.code);
        return h("tr", { class: "govuk-table__row" },
          h("td", { class: "govuk-table__cell" }, String(RULES[m.code].day)),
          h("td", { class: "govuk-table__cell" }, m.title, h("br"), h("span", { class: "govuk-hint" }, m.who),
            canMark ? h("div", {}, h("button", { type: "button", class: "govuk-button govuk-button--secondary govuk-!-margin-bottom-0",
              onclick: () => ctx.create("school_entry", { action: "notify", child_id: id, followup_id: f.id, milestone: m.code }) },
            `Record: ${school.notifications[m.code]}`)) : null),
          h("td", { class: "govuk-table__cell" }, formatDay(m.dueOn)),
          h("td", { class: "govuk-table__cell" }, h("strong", { class: `govuk-tag ${css}` }, tag)));
      }))),
  ];
}

/** @param {any} record @param {any} ctx */
function overview(record, ctx) {
  const school = schoolOf(ctx.records);
  const view = pupilView(ctx.lookup, ctx.records, record.id) || record.value;
  const c = view.child;
  const f = view.followup;
  const open = f && f.status === "open" ? f : null;
  const due = referralDue(f);
  const go = (/** @type {string} */ section) => ctx.go({ screen: "record", type: "pupil", id: record.id, section });
  return [
    h("span", { class: "govuk-caption-l" }, [c.year_group ? `Year ${c.year_group}` : null, c.upn ? `UPN ${c.upn}` : null].filter(Boolean).join(" · ")),
    h("h1", { class: "govuk-heading-l" }, fullName(c)),
    refused(record, ctx),
    view.missing ? h("div", { class: "govuk-warning-text" },
      h("span", { class: "govuk-warning-text__icon", "aria-hidden": "true" }, "!"),
      h("strong", { class: "govuk-warning-text__text" }, h("span", { class: "govuk-visually-hidden" }, "Warning"),
        `Reported missing from school, last seen ${formatTime(view.missing.last_seen_at)}. `,
        view.missing.pending ? "It reaches the authority when this tablet has signal. " : "The authority has the report. ",
        view.missing.pending ? waiting() : null)) : null,
    due ? h("div", { class: "govuk-warning-text", role: "alert" },
      h("span", { class: "govuk-warning-text__icon", "aria-hidden": "true" }, "!"),
      h("strong", { class: "govuk-warning-text__text" }, h("span", { class: "govuk-visually-hidden" }, "Warning"),
        "Refer today to children's social care or the police: the checklist has a yes.",
        c.social_worker_told ? " The child's social worker is told when you record the referral." : "", " ",
        button("Record the referral", () => go("referral")))) : null,
    h("div", { class: "govuk-button-group" },
      button("Record an absence", () => go("absence")),
      open ? button("Log an enquiry", () => go("enquiry"), true) : null,
      open ? button("Always-refer checklist", () => go("checklist"), true) : null,
      view.missing ? null : button("Report missing during the school day", () => go("missing"), true)),
    f ? timelinePanel(view, school, ctx, record.id) : h("p", { class: "govuk-body" }, "No follow-up: nothing unexplained is recorded."),
    open ? h("ul", { class: "govuk-list" },
      h("li", {}, h("a", { class: "govuk-link", href: "#", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); go("facts"); } },
        "Illness and whereabouts")),
      h("li", {}, h("a", { class: "govuk-link", href: "#", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); go("close"); } },
        "End the follow-up"))) : null,
    f && f.enquiries.length ? [
      h("h2", { class: "govuk-heading-m" }, "Enquiries"),
      h("ul", { class: "govuk-list govuk-list--spaced" }, f.enquiries.map((/** @type {any} */ e) => h("li", {},
        h("strong", {}, `${formatTime(e.at)}, ${labelIn(school, "contacts", e.kind)}`), e.seen_safe ? " (seen safe)" : "",
        e.pending ? [" ", waiting()] : null, h("br"), h("span", { class: "hw-pre-line" }, e.outcome)))),
    ] : null,
    f && f.referrals.length ? [
      h("h2", { class: "govuk-heading-m" }, "Always-refer checklist"),
      h("ul", { class: "govuk-list govuk-list--spaced" }, f.referrals.map((/** @type {any} */ r) => h("li", {},
        `Answered ${formatTime(r.checked_at)}: `,
        r.any_yes ? (r.referred_at ? `referred to ${labelIn(school, "referred_to", r.referred_to)} ${formatTime(r.referred_at)}${r.reference ? `, reference ${r.reference}` : ""}`
          : "a referral is due today") : "no referral needed",
        r.pending ? [" ", waiting()] : null))),
    ] : null,
    view.absences.length ? [
      h("h2", { class: "govuk-heading-m" }, "Recent absences"),
      h("table", { class: "govuk-table" },
        h("caption", { class: "govuk-table__caption govuk-visually-hidden" }, "Recent absences"),
        h("thead", { class: "govuk-table__head" }, h("tr", { class: "govuk-table__row" },
          ["Date", "Session", "Code"].map((t) => h("th", { scope: "col", class: "govuk-table__header" }, t)))),
        h("tbody", { class: "govuk-table__body" }, view.absences.map((/** @type {any} */ a) => h("tr", { class: "govuk-table__row" },
          h("td", { class: "govuk-table__cell" }, formatDay(a.on)),
          h("td", { class: "govuk-table__cell" }, a.session === "am" ? "Morning" : "Afternoon"),
          h("td", { class: "govuk-table__cell" }, codeLabel(school, a.code), a.pending ? [" ", waiting()] : null))))),
    ] : null,
  ];
}

/** @param {any} record @param {any} ctx @param {string} section */
function sectionScreen(record, ctx, section) {
  const school = schoolOf(ctx.records);
  const view = pupilView(ctx.lookup, ctx.records, record.id) || record.value;
  const f = view.followup && view.followup.status === "open" ? view.followup : null;
  const base = { child_id: record.id };
  const followupId = f ? f.id : null;
  const now = new Date().toISOString();
  if (section === "absence") {
    return entryForm(ctx, "Record an absence", [
      dateField({ name: "on", label: "Date", value: ukDate(Date.now()), hint: "An absence recorded late counts from the first day absent" }),
      checkboxes({ name: "sessions", label: "Sessions", choices: SESSIONS, checked: ["am"] }),
      select({ name: "code", label: "Attendance code", value: "", hint: "No reason yet, G, N, O and U open a safeguarding follow-up",
        choices: (school.codes || []).map((/** @type {any} */ c) => ({ value: c.code, label: codeLabel(school, c.code) })) }),
    ], (form) => ({ ...base, action: "absence", on: values(form, ["on"]).on, sessions: ticked(form, "sessions"), code: String(new FormData(form).get("code") ?? "") }));
  }
  if (section === "enquiry") {
    return entryForm(ctx, "Log an enquiry", [
      radios({ name: "kind", label: "Who did you contact, or how?", choices: school.contacts || [] }),
      dateTimeField({ name: "at", label: "When", value: now, hint: "UK time" }),
      textArea({ name: "outcome", label: "What came of it", rows: 5 }),
      checkboxes({ name: "seen_safe", label: "Seen safe?", choices: [{ value: "yes", label: "The pupil has been seen and is safe", hint: "This ends the follow-up" }] }),
    ], (form) => {
      const v = values(form, ["kind", "at", "outcome"]);
      return { ...base, action: "enquiry", followup_id: followupId, kind: v.kind, at: fromLocalInput(v.at), outcome: v.outcome, seen_safe: ticked(form, "seen_safe").includes("yes") };
    });
  }
  if (section === "checklist") {
    const defaults = view.checklist_defaults || {};
    const yesNo = [{ value: "yes", label: "Yes" }, { value: "no", label: "No" }];
    return entryForm(ctx, "Always-refer checklist", [
      h("p", { class: "govuk-body" }, "Any yes means refer today to children's social care or the police."),
      (school.always_refer || []).map((/** @type {any} */ q) => radios({ name: `answers.${q.key}`, label: q.question, value: defaults[q.key], choices: yesNo, small: true })),
      h("h2", { class: "govuk-heading-m" }, "Further questions"),
      h("p", { class: "govuk-body" }, "These help your judgement; answer the ones you can."),
      (school.further_questions || []).map((/** @type {any} */ q) => radios({ name: `answers.${q.key}`, label: q.question, choices: yesNo, small: true })),
      textArea({ name: "answers.notes", label: "Notes", rows: 4 }),
    ], (form) => {
      const keys = [...(school.always_refer || []), ...(school.further_questions || [])].map((/** @type {any} */ q) => `answers.${q.key}`);
      const v = values(form, [...keys, "answers.notes"]);
      /** @type {Record<string, string>} */
      const answers = {};
      for (const [k, val] of Object.entries(v)) if (val) answers[k.slice("answers.".length)] = val;
      return { ...base, action: "checklist", followup_id: followupId, answers };
    }, "Save the answers");
  }
  if (section === "referral") {
    const due = referralDue(view.followup);
    if (!due) return [h("h1", { class: "govuk-heading-l" }, "No referral is due"), button("Back", () => ctx.onBack())];
    return entryForm(ctx, "Record the referral", [
      radios({ name: "referred_to", label: "Referred to", choices: school.referred_to || [] }),
      dateTimeField({ name: "referred_at", label: "When", value: now, hint: "UK time" }),
      textField({ name: "reference", label: "Their reference (if given)", width: "govuk-input--width-20" }),
    ], (form) => {
      const v = values(form, ["referred_to", "referred_at", "reference"]);
      return { ...base, action: "referral", referral_id: due.id, referred_to: v.referred_to, referred_at: fromLocalInput(v.referred_at), reference: v.reference };
    });
  }
  if (section === "facts" && f) {
    return entryForm(ctx, "Illness and whereabouts", [
      checkboxes({ name: "facts", label: "What is known", choices: [
        { value: "illness", label: "Illness expected to reach 15 school days", hint: "The sickness return replaces the 10-day notification" },
        { value: "whereabouts_unknown", label: "Whereabouts unknown", hint: "Joint enquiries with the children missing education officer at 20 school days" },
      ], checked: [f.illness ? "illness" : "", f.whereabouts_unknown ? "whereabouts_unknown" : ""] }),
    ], (form) => {
      const t = ticked(form, "facts");
      return { ...base, action: "facts", followup_id: followupId, illness: t.includes("illness"), whereabouts_unknown: t.includes("whereabouts_unknown") };
    });
  }
  if (section === "close" && f) {
    return entryForm(ctx, "End the follow-up", [
      radios({ name: "reason", label: "Why does it end?", choices: school.closed_reasons || [] }),
    ], (form) => ({ ...base, action: "close", followup_id: followupId, reason: values(form, ["reason"]).reason }), "End the follow-up");
  }
  if (section === "missing") {
    return entryForm(ctx, "Report missing during the school day", [
      h("p", { class: "govuk-body" }, "The authority sees this as soon as this tablet has signal, and the same deadlines and reminders as any missing episode start. If the pupil may be in danger, call 999 now."),
      dateTimeField({ name: "last_seen_at", label: "When were they last seen?", value: now, hint: "UK time" }),
      REPORT_FIELDS.map(([n, label, kind]) => kind === "area" ? textArea({ name: `report.${n}`, label }) : textField({ name: `report.${n}`, label })),
      textArea({ name: "circumstances", label: "What happened before they went", rows: 4 }),
      dateTimeField({ name: "reported_to_police_at", label: "When did you call the police?", hint: "Leave blank if you have not called yet" }),
      textField({ name: "police_log_number", label: "Police log number", width: "govuk-input--width-20" }),
    ], (form) => {
      const v = values(form, ["last_seen_at", "circumstances", "reported_to_police_at", "police_log_number", ...REPORT_FIELDS.map(([n]) => `report.${n}`)]);
      /** @type {Record<string, string>} */
      const report = {};
      for (const [n] of REPORT_FIELDS) { const text = v[`report.${n}`]; if (text) report[n] = text; }
      return { ...base, action: "missing", last_seen_at: fromLocalInput(v.last_seen_at), reported_to_police_at: fromLocalInput(v.reported_to_police_at),
        police_log_number: v.police_log_number, circumstances: v.circumstances, report };
    }, "Report missing");
  }
  return overview(record, ctx);
}

/** @param {any} view */
const needsAttention = (view) => Boolean(view && ((view.followup && view.followup.status === "open") || view.missing));

/** @type {import("./registry.js").RecordType} */
export const pupil = {
  name: "pupil",
  title: "Pupils being followed up",
  listLabel: "Pupils being followed up",
  empty: "No pupil is being followed up. Take the register or find a pupil above.",
  live: true, // the overview only shows; actions are their own screens

  // With the pupils added on this tablet, which have no stored record until the server's arrives.
  records: pupilsOf,

  shown(record, { records, lookup }) {
    return needsAttention(pupilView(lookup, records, record.id));
  },

  sort(a, b) {
    return fullName(a.value.child).localeCompare(fullName(b.value.child));
  },

  listItem(record, { records, lookup, onOpen }) {
    const view = pupilView(lookup, records, record.id) || record.value;
    const school = schoolOf(records);
    const f = view.followup;
    let line = "";
    if (view.missing) line = `Missing from school since ${formatTime(view.missing.last_seen_at)}`;
    else if (f) {
      const { day, milestones } = timelineOf(f, school, ukDate(Date.now()));
      const next = milestones.find((m) => m.state === "due") || milestones.find((m) => m.state === "upcoming");
      line = `School day ${day}${next ? `. ${next.state === "due" ? "Due now" : `Next, ${formatDay(next.dueOn)}`}: ${next.title}` : ""}`;
    }
    const pending = entriesCount(records, record.id);
    return h("li", { class: view.missing || referralDue(f) ? "hw-card hw-card--overdue" : "hw-card" },
      h("h2", { class: "govuk-heading-s hw-card__title" },
        h("a", { class: "govuk-link", href: `#/r/pupil/${record.id}`, onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onOpen(); } },
          fullName(view.child))),
      h("p", { class: "govuk-body-s" }, line, pending ? [" ", waiting()] : null));
  },

  form(record, ctx) {
    // From a pupil to the list (each saved entry brings the DSL back here, so the history
    // holds this screen several times); from an action back to its pupil.
    const back = ctx.section ? () => ctx.onBack() : () => ctx.go({ screen: "list" });
    return h("div", {},
      h("a", { href: "#/", class: "govuk-back-link", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); back(); } }, "Back"),
      sectionScreen(record, ctx, ctx.section || ""));
  },

  read(_form, { current }) {
    return current;
  },

  validate() {
    return [];
  },
};

/** @param {any} records @param {string} childId */
function entriesCount(records, childId) {
  return (records.school_entry || []).filter((/** @type {any} */ e) => e.value.child_id === childId).length;
}
