// @ts-check
// The return home interview as a field-mode record type: its card in the list, its screen, how
// its answers are read from the form and checked. The question markup is the web form's own,
// rendered by the server into the shell (templates/field/_questions.html); this file only fills
// it in. What the worker may do (save, send for authorisation) and the words for it come from
// the server with the record (value.actions); nothing here works out a status.

import { missingAnswers, validateAnswers } from "./validate.js";
import { clockTag, formatTime, fromLocalInput, h, toLocalInput } from "../field/views.js";

/** @typedef {import("./validate.js").Section} Section */

/** @param {any} value @param {string} action */
function allowed(value, action) {
  if (Array.isArray(value.actions)) return value.actions.find((a) => a.action === action) || null;
  // A copy pulled before the server sent actions: fall back to its editable flag.
  if (action === "edit") return value.editable ? { action, label: "Save" } : null;
  if (action === "submit") return value.editable ? { action, label: "Send for authorisation" } : null;
  return null;
}

/** @param {any} record */
const childName = (record) => `${record.value.child.first_name} ${record.value.child.last_name}`;

/**
 * The empty question markup the server put in the shell, filled in with these answers.
 *
 * @param {Section[]} sections
 * @param {Record<string, any>} answers
 * @returns {DocumentFragment}
 */
function questions(sections, answers) {
  const template = /** @type {HTMLTemplateElement} */ (document.getElementById("hw-field-questions"));
  const fragment = /** @type {DocumentFragment} */ (template.content.cloneNode(true));
  for (const q of sections.flatMap((s) => s.questions)) {
    const value = answers[q.name];
    const inputs = /** @type {NodeListOf<HTMLInputElement>} */ (fragment.querySelectorAll(`[name="${q.name}"]`));
    for (const input of inputs) {
      if (q.kind === "radios") input.checked = value === input.value;
      else if (q.kind === "checkboxes") input.checked = Array.isArray(value) && value.includes(input.value);
      else if (q.kind === "datetime") input.value = value ? toLocalInput(value) : "";
      else input.value = value || "";
    }
  }
  return fragment;
}

/**
 * @param {HTMLFormElement} form
 * @param {{schema: {sections: Section[]}}} ctx
 * @returns {{answers: Record<string, any>}}
 */
function read(form, { schema }) {
  /** @type {Record<string, any>} */
  const answers = {};
  const data = new FormData(form);
  for (const q of schema.sections.flatMap((s) => s.questions)) {
    if (q.kind === "checkboxes") answers[q.name] = data.getAll(q.name).map(String);
    else if (q.kind === "datetime") answers[q.name] = fromLocalInput(String(data.get(q.name) || ""));
    else answers[q.name] = data.has(q.name) ? String(data.get(q.name)) : null;
  }
  for (const [k, val] of Object.entries(answers)) {
    if (val === null || val === "" || (Array.isArray(val) && !val.length)) delete answers[k];
  }
  return { answers };
}

/** @type {import("./registry.js").RecordType} */
export const interview = {
  name: "interview",
  title: "My returns",
  listLabel: "Returns on this device",
  empty: "No returns are allocated to you on this device.",
  sort: (a, b) => a.value.due_at.localeCompare(b.value.due_at),

  listItem(record, { pending, problem, onOpen, thresholds }) {
    const v = record.value;
    const live = Boolean(allowed(v, "edit"));
    const c = clockTag(v.due_at, thresholds);
    return h("li", { class: live ? `hw-card hw-card--${c.css}` : "hw-card" },
      h("h2", { class: "govuk-heading-s hw-card__title" },
        h("a", { class: "govuk-link", href: `#/r/interview/${record.id}`, onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onOpen(); } },
          childName(record))),
      // The 72-hour clock matters while the interview is the worker's to do; once sent for
      // authorisation it has stopped, so the card says where it is instead.
      h("p", { class: "govuk-body hw-card__clock" }, live
        ? c.nodes
        : h("strong", { class: "govuk-tag govuk-tag--grey" }, v.status_label)),
      h("p", { class: "govuk-body-s" }, `Due ${formatTime(v.due_at)} · ${v.status_label}`,
        pending ? [" · ", h("strong", { class: "govuk-tag govuk-tag--yellow" }, "Not yet sent")] : null,
        problem ? [" · ", h("strong", { class: "govuk-tag govuk-tag--red" }, "Needs attention")] : null));
  },

  form(record, { answers, schema, thresholds, savedAt, problem, onChange, onSubmit, onBack, formatClock }) {
    const v = record.value;
    const edit = allowed(v, "edit");
    const submit = allowed(v, "submit");
    const form = h("form", { id: "hw-field-form", novalidate: true, oninput: onChange, onchange: onChange,
      onsubmit: (/** @type {Event} */ ev) => { ev.preventDefault(); onSubmit(); } },
      h("div", { id: "hw-field-problems" }),
      h("fieldset", { class: "govuk-fieldset", disabled: !edit || null },
        h("legend", { class: "govuk-visually-hidden" }, "Interview answers"),
        questions(schema.sections, answers)),
      h("p", { class: "hw-save-status", role: "status", "aria-live": "polite", id: "hw-field-saved" },
        savedAt ? `Saved on this device at ${formatClock(savedAt)}` : ""),
      submit ? h("button", { type: "submit", class: "govuk-button" }, submit.label) : null);
    return h("div", {},
      h("a", { href: "#/", class: "govuk-back-link", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onBack(); } }, "Back to my returns"),
      h("span", { class: "govuk-caption-l" }, childName(record)),
      h("h1", { class: "govuk-heading-l" }, "Return home interview"),
      h("p", { class: "govuk-body" }, clockTag(v.due_at, thresholds).nodes, ` · Due ${formatTime(v.due_at)}`),
      v.child.flags && v.child.flags.length
        ? h("p", { class: "govuk-body" }, h("strong", {}, "Flags: "), v.child.flags.join(", ")) : null,
      v.review_note ? h("div", { class: "govuk-inset-text" }, `Your manager asked for changes: ${v.review_note}`) : null,
      (v.episodes || []).filter((/** @type {any} */ e) => e.carer_notes).map((/** @type {any} */ e) =>
        h("div", { class: "govuk-inset-text" },
          h("h2", { class: "govuk-heading-s" }, "What the carer noticed"),
          h("p", { class: "govuk-body hw-pre-line" }, e.carer_notes))),
      problem ? h("div", { class: "govuk-error-summary", tabindex: "-1" },
        h("div", { role: "alert" },
          h("h2", { class: "govuk-error-summary__title" }, "The server could not accept this"),
          h("div", { class: "govuk-error-summary__body" }, h("p", { class: "govuk-body" }, problem.message)))) : null,
      edit ? null : h("div", { class: "govuk-inset-text" }, `This interview is ${String(v.status_label).toLowerCase()} and cannot be changed here.`),
      form);
  },

  submits: true, // "Send for authorisation" travels with the answers as payload.submit

  current(record, draft) {
    return { answers: { ...(record.value.answers || {}), ...((draft && draft.answers) || {}) } };
  },

  read,

  validate(payload, { schema }) {
    const answers = (payload && payload.answers) || {};
    const problems = validateAnswers(answers, schema.sections);
    // Sending for authorisation also needs what the server's completeness rules ask for.
    return payload && payload.submit && !problems.length
      ? missingAnswers(answers, schema.required)
      : problems;
  },

  /** Our own change was accepted: the local copy holds what we sent (the server's status comes with the next pull). */
  accepted(value, payload) {
    return payload && payload.answers ? { ...value, answers: payload.answers } : value;
  },
};
