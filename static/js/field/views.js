// @ts-check
// Field-mode screens, built as DOM with text nodes only: nothing from a record is ever parsed
// as HTML. Classes are GOV.UK Frontend's, so the screens look and behave like the online pages.
// A record type's own screens are in ../records/<type>.js; the questions' markup is the web
// form's, rendered by the server into the shell.

import { clock } from "../clock.js";

/** @typedef {import("../store/conflicts.js").Conflict} Conflict */
/** @typedef {import("../records/validate.js").Section} Section */
/**
 * What the status bar shows: the sync client's state, the outbox counts and the page's own.
 *
 * @typedef {Partial<import("../sync/client.js").SyncState> & {
 *   online: boolean, pending?: number, attention?: number, storage?: string | null,
 *   unlocked?: boolean, updateReady?: boolean, onLock?: () => void, onUpdate?: () => void,
 * }} StatusBarState
 */

/**
 * An element with attributes (`class`, `on<event>` listeners, true for a bare attribute; false,
 * null and undefined leave it out) and children (nodes, or text: never parsed as HTML).
 *
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children nested arrays are flattened
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const TIME = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  timeZone: "Europe/London",
});
const CLOCK_ONLY = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit", minute: "2-digit", timeZone: "Europe/London",
});

/** @param {string | null | undefined} iso */
export function formatTime(iso) {
  return iso ? TIME.format(new Date(iso)) : "";
}

/** @param {number} ms */
export function formatClock(ms) {
  return CLOCK_ONLY.format(new Date(ms));
}

/**
 * The 72-hour clock's tag and words (../clock.js, the same as the server's).
 *
 * @param {string} dueIso
 * @param {{dueSoonHours: number}} thresholds the server's (schema.thresholds)
 */
export function clockTag(dueIso, thresholds) {
  const c = clock(dueIso, Date.now(), thresholds);
  return {
    css: c.css,
    nodes: [h("strong", { class: `hw-clock hw-clock--${c.css}` }, c.tag), " ",
      h("span", { class: "hw-clock__detail" }, c.label)],
  };
}

/**
 * The GOV.UK error summary. Its links move focus to the field themselves: field mode keeps its
 * screens in the URL's hash, so following "#field" would be taken for a route (the list).
 *
 * @param {Array<{id: string, message: string}>} errors
 */
export function errorSummary(errors) {
  if (!errors.length) return null;
  /** @param {string} id @returns {(event: Event) => void} */
  const focusField = (id) => (event) => {
    event.preventDefault();
    const field = document.getElementById(id) || document.querySelector(`[name="${CSS.escape(id)}"]`);
    if (field instanceof HTMLElement) field.focus();
  };
  return h("div", { class: "govuk-error-summary", "data-module": "govuk-error-summary", tabindex: "-1" },
    h("div", { role: "alert" },
      h("h2", { class: "govuk-error-summary__title" }, "There is a problem"),
      h("div", { class: "govuk-error-summary__body" },
        h("ul", { class: "govuk-list govuk-error-summary__list" },
          errors.map((e) => h("li", {}, h("a", { href: `#${e.id}`, onclick: focusField(e.id) }, e.message)))))));
}

/**
 * @param {string} id also the field's name
 * @param {string} label
 * @param {{error?: string | null, hint?: string, autocomplete: string}} options
 */
function passwordField(id, label, { error, hint, autocomplete }) {
  return h("div", { class: `govuk-form-group${error ? " govuk-form-group--error" : ""}` },
    h("label", { class: "govuk-label", for: id }, label),
    hint ? h("div", { class: "govuk-hint", id: `${id}-hint` }, hint) : null,
    error ? h("p", { class: "govuk-error-message", id: `${id}-error` },
      h("span", { class: "govuk-visually-hidden" }, "Error: "), error) : null,
    h("input", {
      class: `govuk-input govuk-!-width-two-thirds${error ? " govuk-input--error" : ""}`,
      id, name: id, type: "password", autocomplete, spellcheck: "false",
      "aria-describedby": [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].join(" ").trim() || null,
    }));
}

/**
 * Choosing the offline passphrase (or, with no connection, how to get there).
 *
 * @param {{onSubmit?: (form: FormData) => void, errors?: Record<string, string>, online: boolean}} options
 *   onSubmit is needed when online
 */
export function setupView({ onSubmit, errors = {}, online }) {
  const list = Object.entries(errors).map(([id, message]) => ({ id, message }));
  if (!online) {
    return h("div", {},
      h("h1", { class: "govuk-heading-l" }, "Set up field mode"),
      h("p", { class: "govuk-body" },
        "Field mode is not set up on this device yet. Connect to the internet and sign in to Homeward, then come back here."));
  }
  return h("div", {},
    errorSummary(list),
    h("h1", { class: "govuk-heading-l" }, "Set up field mode"),
    h("p", { class: "govuk-body" },
      "Field mode keeps your returns on this device so you can work with no signal. Everything is encrypted; choose a passphrase to unlock it."),
    h("form", { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); onSubmit(new FormData(ev.target)); } },
      passwordField("passphrase", "Offline passphrase", {
        error: errors.passphrase, autocomplete: "new-password",
        hint: "At least 8 characters. You will need it each time you unlock field mode.",
      }),
      passwordField("confirm", "Type the passphrase again", { error: errors.confirm, autocomplete: "new-password" }),
      h("button", { type: "submit", class: "govuk-button" }, "Set passphrase")));
}

/**
 * @param {{onSubmit: (form: FormData) => void, onRecover: () => void, error: string | null,
 *   counts: {pending: number, attention: number} | null, online: boolean, busy: boolean}} options
 */
export function unlockView({ onSubmit, onRecover, error, counts, online, busy }) {
  return h("div", {},
    error ? errorSummary([{ id: "passphrase", message: error }]) : null,
    h("h1", { class: "govuk-heading-l" }, "Unlock field mode"),
    counts && counts.pending
      ? h("p", { class: "govuk-body", id: "hw-unsent" },
        `${counts.pending} not yet sent to the server. They are kept until the server has them.`)
      : null,
    h("form", { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); onSubmit(new FormData(ev.target)); } },
      passwordField("passphrase", "Offline passphrase", { error, autocomplete: "current-password" }),
      h("button", { type: "submit", class: "govuk-button", disabled: busy || null }, busy ? "Unlocking…" : "Unlock")),
    h("details", { class: "govuk-details" },
      h("summary", { class: "govuk-details__summary" },
        h("span", { class: "govuk-details__summary-text" }, "Forgotten your passphrase?")),
      h("div", { class: "govuk-details__text" },
        h("p", { class: "govuk-body" },
          "Sign in to Homeward online on this device, then choose a new passphrase. Work not yet sent is kept."),
        // Both are drawn; showConnection() shows the one that fits as the signal comes and goes.
        h("button", { type: "button", id: "hw-recover", class: "govuk-button govuk-button--secondary", onclick: onRecover, hidden: !online },
          "Choose a new passphrase"),
        h("p", { class: "govuk-body", id: "hw-recover-offline", hidden: online }, "You need a connection to do this."))));
}

/**
 * Show the recovery button only with a connection (it needs the server).
 *
 * @param {boolean} online
 */
export function showConnection(online) {
  const button = document.getElementById("hw-recover");
  const note = document.getElementById("hw-recover-offline");
  if (button) button.hidden = !online;
  if (note) note.hidden = online;
}

/**
 * The home screen: each record type this role keeps, as a list of its cards.
 *
 * @param {{groups: Array<{title: string, label: string, empty: string, items: Node[]}>,
 *   conflicts: Conflict[], onConflict: (conflict: Conflict) => void}} options
 */
export function listView({ groups, conflicts, onConflict }) {
  return h("div", {},
    groups.map((g, i) => [
      h(i ? "h2" : "h1", { class: i ? "govuk-heading-m" : "govuk-heading-l" }, g.title),
      i || !conflicts.length ? null : h("div", { class: "govuk-warning-text" },
        h("span", { class: "govuk-warning-text__icon", "aria-hidden": "true" }, "!"),
        h("strong", { class: "govuk-warning-text__text" },
          h("span", { class: "govuk-visually-hidden" }, "Warning"),
          `${conflicts.length} change${conflicts.length === 1 ? "" : "s"} clashed with a newer copy. `,
          h("button", { type: "button", class: "hw-link-button", onclick: () => onConflict(conflicts[0]) }, "Choose which to keep"))),
      g.items.length
        ? h("ul", { class: "hw-card-list", "aria-label": g.label }, g.items)
        : h("p", { class: "govuk-body" }, g.empty),
    ]));
}

/** A role that keeps nothing on a phone (yet) is not invited to set one up. */
export function nothingHereView() {
  return h("div", {},
    h("h1", { class: "govuk-heading-l" }, "Field mode"),
    h("p", { class: "govuk-body" },
      "Field mode keeps records on a phone for working with no signal. There is nothing for your role to keep on this device yet, so there is nothing to set up."),
    h("p", { class: "govuk-body" }, h("a", { class: "govuk-link", href: "/" }, "Go to Homeward")));
}

/**
 * ISO instant -> "YYYY-MM-DDTHH:MM" in UK time, for a datetime-local input.
 *
 * @param {string} iso
 * @returns {string}
 */
export function toLocalInput(iso) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/**
 * "YYYY-MM-DDTHH:MM" typed as UK time -> ISO instant with offset.
 *
 * @param {string | null | undefined} text
 * @returns {string | null}
 */
export function fromLocalInput(text) {
  if (!text) return null;
  const [date, time] = text.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  // Try both UK offsets and keep the one that reads back as what was typed (first one wins in
  // the autumn repeat hour, as on the server).
  for (const offset of [1, 0]) {
    const candidate = new Date(Date.UTC(y, mo - 1, d, hh - offset, mm));
    if (toLocalInput(candidate.toISOString()) === text) return candidate.toISOString();
  }
  return null;
}

/**
 * Both sides of a clash, answer by answer, for the person to choose.
 *
 * @param {{conflict: Conflict, schema: {sections: Section[]}, onKeepMine: () => void,
 *   onKeepServer: () => void, onBack: () => void}} options
 */
export function conflictView({ conflict, schema, onKeepMine, onKeepServer, onBack }) {
  const labels = Object.fromEntries(schema.sections.flatMap((s) => s.questions.map((q) => [q.name, q.label])));
  // An interview's answers by question; any other record's fields by name, nested ones as
  // "report.clothing" (a photo's bytes are summed up, not shown).
  const isInterview = conflict.recordType === "interview";
  const mine = isInterview ? (conflict.local && conflict.local.answers) || {} : flatten(conflict.local);
  const theirs = isInterview ? (conflict.server && conflict.server.answers) || {} : flatten(conflict.server);
  const names = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])]
    .filter((n) => JSON.stringify(mine[n] ?? null) !== JSON.stringify(theirs[n] ?? null))
    // "keep" (this device did not change the photo) is no clash with the server's photo.
    .filter((n) => n !== "photo" || mine[n] !== null);
  /** @param {unknown} x an answer */
  const show = (x) => (x === undefined || x === null ? "(blank)" : Array.isArray(x) ? x.join(", ") : String(x));
  return h("div", {},
    h("a", { href: "#", class: "govuk-back-link", onclick: (ev) => { ev.preventDefault(); onBack(); } }, "Back"),
    h("h1", { class: "govuk-heading-l" }, "Choose which version to keep"),
    h("p", { class: "govuk-body" }, `This ${isInterview ? "interview" : "record"} was changed somewhere else before your change arrived. Nothing has been lost: both versions are here.`),
    h("table", { class: "govuk-table" },
      h("thead", { class: "govuk-table__head" }, h("tr", { class: "govuk-table__row" },
        h("th", { class: "govuk-table__header", scope: "col" }, "Answer"),
        h("th", { class: "govuk-table__header", scope: "col" }, "This device"),
        h("th", { class: "govuk-table__header", scope: "col" }, "Server"))),
      h("tbody", { class: "govuk-table__body" }, names.map((n) => h("tr", { class: "govuk-table__row" },
        h("th", { class: "govuk-table__header", scope: "row" }, labels[n] || n),
        h("td", { class: "govuk-table__cell" }, show(mine[n])),
        h("td", { class: "govuk-table__cell" }, show(theirs[n])))))),
    h("div", { class: "govuk-button-group" },
      h("button", { type: "button", class: "govuk-button", onclick: onKeepMine }, "Keep this device's version"),
      h("button", { type: "button", class: "govuk-button govuk-button--secondary", onclick: onKeepServer }, "Keep the server's version")));
}

/**
 * A record's fields as "name" or "parent.name" -> text, for comparing two copies.
 *
 * @param {any} value
 * @param {string} [prefix]
 * @returns {Record<string, any>}
 */
export function flatten(value, prefix = "") {
  /** @type {Record<string, any>} */
  const out = {};
  if (!value || typeof value !== "object") return out;
  for (const [k, x] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (k === "photo") out[name] = !x || x === "keep" ? null : x === "remove" ? "Removed" : "A photo";
    else if (x && typeof x === "object" && !Array.isArray(x)) Object.assign(out, flatten(x, name));
    else out[name] = x;
  }
  return out;
}

/** @param {StatusBarState} s */
export function statusBar(s) {
  const bits = [s.online ? "Online" : "Offline"];
  if (s.phase === "sending") bits.push(`Sending ${s.sent} of ${s.total}`);
  if (s.pending) bits.push(`${s.pending} not yet sent to the server`);
  if (s.attention) bits.push(`${s.attention} need${s.attention === 1 ? "s" : ""} attention`);
  if (s.lastSync) bits.push(`Last synced ${formatClock(s.lastSync)}`);
  if (s.storage) bits.push(s.storage);
  return h("div", { class: "hw-field-status__inner" },
    h("span", {}, bits.join(" · ")),
    // Signed out while away (the session ends after 30 minutes idle): work waits on the phone
    // until the worker signs in again, so say so instead of "not yet sent" for ever.
    s.online && s.signedIn === false
      ? h("a", { class: "govuk-link", href: "/sign-in?next=/app/" }, "Sign in to send your work")
      : null,
    s.updateReady ? h("button", { type: "button", class: "govuk-button govuk-button--secondary hw-field-status__button", onclick: s.onUpdate }, "Update ready: reload") : null,
    s.unlocked ? h("button", { type: "button", class: "govuk-button govuk-button--secondary hw-field-status__button", onclick: s.onLock }, "Lock") : null);
}
