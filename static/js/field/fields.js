// @ts-check
// GOV.UK form fields built as DOM (text nodes only) for the field-mode screens that have no
// server-rendered question markup: a carer's report, the return, the profile. Each field's id is
// its name with dots as dashes, so an error summary link (views.errorSummary) finds it.

import { h, toLocalInput } from "./views.js";

/** @param {string} name */
export const fieldId = (name) => name.replace(/\./g, "-");

/**
 * @param {string} id
 * @param {{hint?: string | null, error?: string | null}} options
 */
function described(id, { hint, error }) {
  return [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].join(" ").trim() || null;
}

/**
 * @param {string} id
 * @param {string | null | undefined} error
 */
function errorLine(id, error) {
  return error ? h("p", { class: "govuk-error-message", id: `${id}-error` },
    h("span", { class: "govuk-visually-hidden" }, "Error: "), error) : null;
}

/**
 * @typedef {object} FieldOptions
 * @property {string} name
 * @property {string} label
 * @property {any} [value]
 * @property {string | null} [hint]
 * @property {string | null} [error]
 * @property {string} [autocomplete]
 */

/** @param {FieldOptions & {type?: string, width?: string}} o */
export function textField({ name, label, value, hint, error, type = "text", width = "", autocomplete = "off" }) {
  const id = fieldId(name);
  return h("div", { class: `govuk-form-group${error ? " govuk-form-group--error" : ""}` },
    h("label", { class: "govuk-label govuk-label--s", for: id }, label),
    hint ? h("div", { class: "govuk-hint", id: `${id}-hint` }, hint) : null,
    errorLine(id, error),
    h("input", {
      class: `govuk-input${width ? ` ${width}` : ""}${error ? " govuk-input--error" : ""}`,
      id, name, type, autocomplete, value: value ?? "", "aria-describedby": described(id, { hint, error }),
    }));
}

/** @param {FieldOptions & {rows?: number}} o */
export function textArea({ name, label, value, hint, error, rows = 3 }) {
  const id = fieldId(name);
  const area = /** @type {HTMLTextAreaElement} */ (h("textarea", {
    class: `govuk-textarea${error ? " govuk-textarea--error" : ""}`, id, name, rows: String(rows),
    "aria-describedby": described(id, { hint, error }),
  }));
  area.value = value ?? ""; // a property, not markup: never parsed as HTML
  return h("div", { class: `govuk-form-group${error ? " govuk-form-group--error" : ""}` },
    h("label", { class: "govuk-label govuk-label--s", for: id }, label),
    hint ? h("div", { class: "govuk-hint", id: `${id}-hint` }, hint) : null,
    errorLine(id, error),
    area);
}

/** A date and time, typed as UK time (views.toLocalInput / fromLocalInput). @param {FieldOptions} o */
export function dateTimeField({ name, label, value, hint, error }) {
  return textField({ name, label, hint, error, type: "datetime-local", value: value ? toLocalInput(value) : "" });
}

/** @param {FieldOptions} o */
export function dateField({ name, label, value, hint, error }) {
  return textField({ name, label, hint, error, type: "date", value: value || "" });
}

/**
 * GOV.UK radios or checkboxes: one fieldset, its legend, hint and error, and each choice.
 *
 * @param {"radios" | "checkboxes"} kind
 * @param {FieldOptions & {choices: Array<{value: string, label: string, hint?: string}>,
 *   small?: boolean}} o
 * @param {(value: string) => boolean} isChecked
 */
function choiceGroup(kind, { name, label, hint, error, choices, small = false }, isChecked) {
  const id = fieldId(name);
  const input = kind === "radios" ? "radio" : "checkbox";
  return h("div", { class: `govuk-form-group${error ? " govuk-form-group--error" : ""}` },
    h("fieldset", { class: "govuk-fieldset", "aria-describedby": described(id, { hint, error }) },
      h("legend", { class: "govuk-fieldset__legend govuk-fieldset__legend--s" }, label),
      hint ? h("div", { class: "govuk-hint", id: `${id}-hint` }, hint) : null,
      errorLine(id, error),
      h("div", { class: `govuk-${kind}${small ? ` govuk-${kind}--small` : ""}`, "data-module": `govuk-${kind}` },
        choices.map((c, i) => {
          const cid = i ? `${id}-${i + 1}` : id;
          return h("div", { class: `govuk-${kind}__item` },
            h("input", { class: `govuk-${kind}__input`, id: cid, name, type: input, value: c.value,
              checked: isChecked(c.value), "aria-describedby": c.hint ? `${cid}-hint` : null }),
            h("label", { class: `govuk-label govuk-${kind}__label`, for: cid }, c.label),
            c.hint ? h("div", { class: `govuk-hint govuk-${kind}__hint`, id: `${cid}-hint` }, c.hint) : null);
        }))));
}

/**
 * @param {FieldOptions & {choices: Array<{value: string, label: string, hint?: string}>,
 *   small?: boolean}} o
 */
export function radios(o) {
  return choiceGroup("radios", o, (value) => o.value === value);
}

/**
 * A summary list of label/value rows, leaving out rows with nothing to say.
 *
 * @param {Array<[string, any]>} rows
 */
export function summary(rows) {
  const shown = rows.filter(([, v]) => v !== null && v !== undefined && v !== "");
  return h("dl", { class: "govuk-summary-list" },
    shown.map(([k, v]) => h("div", { class: "govuk-summary-list__row" },
      h("dt", { class: "govuk-summary-list__key" }, k),
      h("dd", { class: "govuk-summary-list__value hw-pre-line" }, v))));
}

/**
 * The form's text values, by name ("" and missing as null).
 *
 * @param {HTMLFormElement} form
 * @param {readonly string[]} names
 * @returns {Record<string, string | null>}
 */
export function values(form, names) {
  const data = new FormData(form);
  /** @type {Record<string, string | null>} */
  const out = {};
  for (const name of names) {
    const v = data.get(name);
    out[name] = typeof v === "string" && v.trim() ? v : null;
  }
  return out;
}

/**
 * GOV.UK checkboxes (small); `checked` holds the values ticked.
 *
 * @param {FieldOptions & {choices: Array<{value: string, label: string, hint?: string}>,
 *   checked?: string[]}} o
 */
export function checkboxes(o) {
  const checked = o.checked || [];
  return choiceGroup("checkboxes", { small: true, ...o }, (value) => checked.includes(value));
}

/**
 * A GOV.UK select.
 *
 * @param {FieldOptions & {choices: Array<{value: string, label: string}>, labelClass?: string}} o
 */
export function select({ name, label, value, hint, error, choices, labelClass = "govuk-label--s" }) {
  const id = fieldId(name);
  return h("div", { class: `govuk-form-group${error ? " govuk-form-group--error" : ""}` },
    h("label", { class: `govuk-label ${labelClass}`, for: id }, label),
    hint ? h("div", { class: "govuk-hint", id: `${id}-hint` }, hint) : null,
    errorLine(id, error),
    h("select", { class: `govuk-select${error ? " govuk-select--error" : ""}`, id, name,
      "aria-describedby": described(id, { hint, error }) },
      choices.map((c) => h("option", { value: c.value, selected: c.value === value }, c.label))));
}
