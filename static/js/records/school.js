// @ts-check
// The DSL's own school, as a field-mode record type: the calendar its school days are counted
// in (read only here; kept on the web pages) and the two screens that start the day's work:
// the morning register follow-up (several pupils at once) and finding a pupil. Each code saved
// on the register is a school_entry (./school_entry.js) of its pupil, sent once.

import { dateField, radios, select, textField, values } from "../field/fields.js";
import { h } from "../field/views.js";
import { SEXES, YEAR_GROUPS, ukDate } from "../school-work.js";
import { formatDay } from "./pupil.js";
import { pupilView, pupilsOf } from "./school_entry.js";

const NOTHING = "-"; // the register's "nothing to record" ("" is "No reason yet")
const SESSIONS = [{ value: "am", label: "Morning" }, { value: "pm", label: "Afternoon" }];
const MAX_FOUND = 30;

/** @param {any} child */
const fullName = (child) => `${child.first_name} ${child.last_name}`;
/** @param {string} text */
const fold = (text) => text.toLocaleLowerCase("en-GB").normalize("NFKD").replace(/[\u0300-\u036f]/g, "");

/** Year group order: R, then 1..13, then none. @param {any} child */
const yearOrder = (child) => (child.year_group === "R" ? 0 : Number(child.year_group) || 99);

/** @param {any[]} pupils @returns {any[]} */
const byClass = (pupils) => [...pupils].sort((a, b) => yearOrder(a.value.child) - yearOrder(b.value.child)
  || a.value.child.last_name.localeCompare(b.value.child.last_name) || a.value.child.first_name.localeCompare(b.value.child.first_name));

/**
 * @param {string} text
 * @param {() => void} onclick
 * @param {boolean} [secondary]
 */
const button = (text, onclick, secondary = false) =>
  h("button", { type: "button", class: `govuk-button${secondary ? " govuk-button--secondary" : ""}`, onclick }, text);

/** @param {any} record @param {any} ctx */
function findScreen(record, ctx) {
  const pupils = byClass(pupilsOf(ctx.records));
  const results = h("ul", { class: "govuk-list govuk-list--spaced", id: "hw-found", "aria-live": "polite" });
  const show = (/** @type {string} */ query) => {
    const q = fold(query.trim());
    const found = q ? pupils.filter((p) => fold(`${fullName(p.value.child)} ${p.value.child.upn || ""}`).includes(q)) : [];
    results.replaceChildren(
      ...found.slice(0, MAX_FOUND).map((p) => h("li", {}, h("a", { class: "govuk-link", href: `#/r/pupil/${p.id}`,
        onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); ctx.go({ screen: "record", type: "pupil", id: p.id }); } },
      fullName(p.value.child)), p.value.child.year_group ? `, Year ${p.value.child.year_group}` : "")),
      q && !found.length ? h("li", {}, "No pupil on this tablet matches.") : "",
      found.length > MAX_FOUND ? h("li", {}, `${found.length - MAX_FOUND} more: type more of the name.`) : "");
  };
  return [
    h("h1", { class: "govuk-heading-l" }, "Find a pupil"),
    h("p", { class: "govuk-body" }, "Not on the list? ",
      h("a", { class: "govuk-link", href: `#/r/school/${record.id}/add`,
        onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); ctx.go({ screen: "record", type: "school", id: record.id, section: "add" }); } },
      "Add a pupil"), "."),
    h("div", { class: "govuk-form-group" },
      h("label", { class: "govuk-label govuk-label--s", for: "find" }, "Name or UPN"),
      h("input", { class: "govuk-input govuk-!-width-two-thirds", id: "find", name: "find", type: "search", autocomplete: "off",
        spellcheck: "false", oninput: (/** @type {Event} */ ev) => show(/** @type {HTMLInputElement} */ (ev.target).value) })),
    results,
  ];
}

/**
 * What the register says now for each pupil on a date and session (entries not yet sent
 * included), by pupil id.
 *
 * @param {any} ctx
 * @param {string} on
 * @param {string} session
 */
function recorded(ctx, on, session) {
  /** @type {Map<string, string>} */
  const out = new Map();
  for (const p of pupilsOf(ctx.records)) {
    const view = pupilView(ctx.lookup, ctx.records, p.id);
    const a = view && view.absences.find((/** @type {any} */ x) => x.on === on && x.session === session);
    if (a) out.set(p.id, a.code);
  }
  return out;
}

/** @param {any} record @param {any} ctx */
function registerScreen(record, ctx) {
  const school = record.value;
  const pupils = byClass(pupilsOf(ctx.records));
  const choices = [{ code: NOTHING, label: "Nothing to record" }, ...(school.codes || [])];
  const rows = h("tbody", { class: "govuk-table__body" });
  /** @type {Map<string, string>} */
  let before = new Map();
  const fill = (/** @type {HTMLFormElement} */ form) => {
    const v = values(form, ["on", "session"]);
    before = v.on && v.session ? recorded(ctx, v.on, v.session) : new Map();
    rows.replaceChildren(...pupils.map((p) => {
      const id = `code-${p.id}`;
      const now = before.has(p.id) ? before.get(p.id) : NOTHING;
      return h("tr", { class: "govuk-table__row", "data-name": fold(fullName(p.value.child)) },
        h("td", { class: "govuk-table__cell" }, h("label", { for: id }, fullName(p.value.child))),
        h("td", { class: "govuk-table__cell" }, p.value.child.year_group || ""),
        h("td", { class: "govuk-table__cell" },
          h("select", { class: "govuk-select", id, name: id },
            choices.map((/** @type {any} */ c) => h("option", { value: c.code, selected: c.code === now },
              c.code && c.code !== NOTHING ? `${c.code}: ${c.label}` : c.label)))));
    }));
  };
  const filter = (/** @type {string} */ text) => {
    const q = fold(text.trim());
    for (const row of rows.children) /** @type {HTMLElement} */ (row).hidden = Boolean(q) && !String(/** @type {HTMLElement} */ (row).dataset.name).includes(q);
  };
  const hour = Number(new Intl.DateTimeFormat("en-GB", { hour: "numeric", hourCycle: "h23", timeZone: "Europe/London" }).format(new Date()));
  const form = /** @type {HTMLFormElement} */ (h("form", { id: "hw-field-form", novalidate: true,
    onchange: (/** @type {Event} */ ev) => {
      const name = /** @type {HTMLInputElement} */ (ev.target).name;
      if (name === "on" || name === "session") fill(/** @type {HTMLFormElement} */ (ev.currentTarget));
    },
    onsubmit: (/** @type {Event} */ ev) => {
      ev.preventDefault();
      const f = /** @type {HTMLFormElement} */ (ev.currentTarget);
      const v = values(f, ["on", "session"]);
      const data = new FormData(f);
      const payloads = [];
      for (const p of pupils) {
        const code = String(data.get(`code-${p.id}`) ?? NOTHING);
        const was = before.has(p.id) ? before.get(p.id) : NOTHING;
        if (code === NOTHING || code === was) continue;
        payloads.push({ action: "absence", child_id: p.id, on: v.on, sessions: v.session ? [v.session] : [], code });
      }
      const names = new Map(pupils.map((p) => [p.id, fullName(p.value.child)]));
      ctx.createMany("school_entry", payloads, { screen: "list" }, (/** @type {any} */ payload, /** @type {any} */ problem) =>
        ({ name: problem.name === "code" ? `code-${payload.child_id}` : problem.name, message: `${names.get(payload.child_id)}: ${problem.message}` }));
    } },
  h("div", { id: "hw-field-problems" }),
  dateField({ name: "on", label: "Date", value: ukDate(Date.now()) }),
  radios({ name: "session", label: "Session", value: hour < 12 ? "am" : "pm", choices: SESSIONS, small: true }),
  h("div", { class: "govuk-form-group" },
    h("label", { class: "govuk-label govuk-label--s", for: "register-filter" }, "Show only pupils whose name has"),
    h("input", { class: "govuk-input govuk-!-width-one-half", id: "register-filter", type: "search", autocomplete: "off",
      oninput: (/** @type {Event} */ ev) => filter(/** @type {HTMLInputElement} */ (ev.target).value) })),
  h("table", { class: "govuk-table" },
    h("caption", { class: "govuk-table__caption govuk-table__caption--s" }, "Choose a code only for the pupils to record; the rest stay as they are."),
    h("thead", { class: "govuk-table__head" }, h("tr", { class: "govuk-table__row" },
      ["Pupil", "Year", "Code"].map((t) => h("th", { scope: "col", class: "govuk-table__header" }, t)))),
    rows),
  h("div", { class: "govuk-button-group" },
    h("button", { type: "submit", class: "govuk-button" }, "Save the register"),
    button("Cancel", () => ctx.onBack(), true))));
  fill(form);
  return [h("h1", { class: "govuk-heading-l" }, "Morning register follow-up"), form];
}

/**
 * A pupil new to the school, added with no signal as on the web page (name, date of birth, sex,
 * UPN, year group): the tablet's id becomes the pupil's, so their absences can be recorded at
 * once, before any sync.
 *
 * @param {any} _record
 * @param {any} ctx
 */
function addScreen(_record, ctx) {
  const id = crypto.randomUUID();
  const form = h("form", { id: "hw-field-form", novalidate: true,
    onsubmit: (/** @type {Event} */ ev) => {
      ev.preventDefault();
      const v = values(/** @type {HTMLFormElement} */ (ev.currentTarget), ["first_name", "last_name", "date_of_birth", "sex", "upn", "year_group"]);
      ctx.create("school_entry", { action: "pupil", child_id: id, first_name: v.first_name, last_name: v.last_name,
        date_of_birth: v.date_of_birth, sex: v.sex, upn: v.upn, year_group: v.year_group }, id);
    } },
  h("div", { id: "hw-field-problems" }),
  textField({ name: "first_name", label: "First name", hint: "Their legal first name, as on the school's register." }),
  textField({ name: "last_name", label: "Last name" }),
  dateField({ name: "date_of_birth", label: "Date of birth" }),
  radios({ name: "sex", label: "Sex", choices: Object.entries(SEXES).map(([value, label]) => ({ value, label })), small: true }),
  textField({ name: "upn", label: "Unique pupil number (UPN)", hint: "13 characters: a letter then 12 numbers, as in your school's MIS.", width: "govuk-input--width-20" }),
  select({ name: "year_group", label: "Year group", value: "", choices: [{ value: "", label: "Choose a year group" },
    ...YEAR_GROUPS.map((y) => ({ value: y, label: y === "R" ? "Reception" : `Year ${y}` }))] }),
  h("div", { class: "govuk-button-group" },
    h("button", { type: "submit", class: "govuk-button" }, "Add pupil"),
    button("Cancel", () => ctx.onBack(), true)));
  return [h("h1", { class: "govuk-heading-l" }, "Add a pupil"), form];
}

/** @param {any} school */
function calendarSummary(school) {
  const c = school.calendar || {};
  const last = (c.terms || []).map((/** @type {string[]} */ t) => t[1]).sort().pop();
  return last ? `School days are counted in your calendar to ${formatDay(last)}.`
    : "No term dates are entered yet: every weekday but bank holidays counts. Enter them on the web pages.";
}

/** @type {import("./registry.js").RecordType} */
export const school = {
  name: "school",
  title: "Your school",
  listLabel: "Your school",
  empty: "Your school's calendar arrives with the first sync.",

  listItem(record, { onOpen }) {
    return h("li", { class: "hw-card" },
      h("h2", { class: "govuk-heading-s hw-card__title" }, record.value.name),
      h("p", { class: "govuk-body-s" }, calendarSummary(record.value)),
      h("div", { class: "govuk-button-group govuk-!-margin-bottom-0" },
        h("a", { class: "govuk-button govuk-!-margin-bottom-0", href: `#/r/school/${record.id}/register`, role: "button",
          onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onOpen("register"); } }, "Take the register"),
        h("a", { class: "govuk-button govuk-button--secondary govuk-!-margin-bottom-0", href: `#/r/school/${record.id}/find`, role: "button",
          onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onOpen("find"); } }, "Find a pupil")));
  },

  form(record, ctx) {
    return h("div", {},
      h("a", { href: "#/", class: "govuk-back-link", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); ctx.onBack(); } }, "Back"),
      { find: findScreen, add: addScreen }[String(ctx.section)]?.(record, ctx) || registerScreen(record, ctx));
  },

  read(_form, { current }) {
    return current;
  },

  validate() {
    return [];
  },
};
