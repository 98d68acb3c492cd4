// Field-mode screens, built as DOM with text nodes only: nothing from a record is ever parsed
// as HTML. Classes are GOV.UK Frontend's, so the screens look and behave like the online pages.

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

export function formatTime(iso) {
  return iso ? TIME.format(new Date(iso)) : "";
}

export function formatClock(ms) {
  return CLOCK_ONLY.format(new Date(ms));
}

/** The 72-hour clock, as on the server (webapp/deadlines.py): elapsed time, minutes rounded down. */
export function clock(dueIso, now = Date.now(), dueSoonHours = 24) {
  const remaining = new Date(dueIso).getTime() - now;
  const state = remaining <= 0 ? "overdue" : remaining < dueSoonHours * 3600e3 ? "due-soon" : "on-track";
  const span = Math.abs(remaining);
  const days = Math.floor(span / 86400e3);
  const hours = Math.floor((span % 86400e3) / 3600e3);
  const minutes = Math.floor((span % 3600e3) / 60e3);
  let text;
  if (days) text = `${days} day${days === 1 ? "" : "s"} ${hours} h`;
  else if (hours) text = `${hours} h ${minutes} min`;
  else text = minutes ? `${minutes} min` : "less than 1 min";
  const label = state === "overdue" ? `Overdue by ${text}` : `${text} left`;
  const tag = { overdue: "Overdue", "due-soon": "Due soon", "on-track": "On track" }[state];
  return { state, label, tag };
}

export function clockTag(dueIso) {
  const c = clock(dueIso);
  return [h("strong", { class: `hw-clock hw-clock--${c.state}` }, c.tag), " ",
    h("span", { class: "hw-clock__detail" }, c.label)];
}

function errorSummary(errors) {
  if (!errors.length) return null;
  return h("div", { class: "govuk-error-summary", "data-module": "govuk-error-summary", tabindex: "-1" },
    h("div", { role: "alert" },
      h("h2", { class: "govuk-error-summary__title" }, "There is a problem"),
      h("div", { class: "govuk-error-summary__body" },
        h("ul", { class: "govuk-list govuk-error-summary__list" },
          errors.map((e) => h("li", {}, h("a", { href: `#${e.id}` }, e.message)))))));
}

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

/** Show the recovery button only with a connection (it needs the server). */
export function showConnection(online) {
  const button = document.getElementById("hw-recover");
  const note = document.getElementById("hw-recover-offline");
  if (button) button.hidden = !online;
  if (note) note.hidden = online;
}

export function listView({ interviews, pendingByRecord, attention, conflicts, onOpen, onConflict }) {
  const sorted = [...interviews].sort((a, b) => a.value.due_at.localeCompare(b.value.due_at));
  return h("div", {},
    h("h1", { class: "govuk-heading-l" }, "My returns"),
    conflicts.length
      ? h("div", { class: "govuk-warning-text" },
        h("span", { class: "govuk-warning-text__icon", "aria-hidden": "true" }, "!"),
        h("strong", { class: "govuk-warning-text__text" },
          h("span", { class: "govuk-visually-hidden" }, "Warning"),
          `${conflicts.length} change${conflicts.length === 1 ? "" : "s"} clashed with a newer copy. `,
          h("button", { type: "button", class: "hw-link-button", onclick: () => onConflict(conflicts[0]) }, "Choose which to keep")))
      : null,
    sorted.length
      ? h("ul", { class: "hw-card-list", "aria-label": "Returns on this device" },
        sorted.map((rec) => {
          const c = clock(rec.value.due_at);
          const child = rec.value.child;
          const pending = pendingByRecord.get(rec.id);
          const problem = attention.find((m) => m.recordId === rec.id);
          return h("li", { class: rec.value.editable ? `hw-card hw-card--${c.state}` : "hw-card" },
            h("h2", { class: "govuk-heading-s hw-card__title" },
              h("a", { class: "govuk-link", href: `#interview/${rec.id}`, onclick: (ev) => { ev.preventDefault(); onOpen(rec.id); } },
                `${child.first_name} ${child.last_name}`)),
            // The 72-hour clock matters while the interview is the worker's to do; once sent
            // for authorisation it has stopped, so the card says where it is instead.
            h("p", { class: "govuk-body hw-card__clock" }, rec.value.editable
              ? clockTag(rec.value.due_at)
              : h("strong", { class: "govuk-tag govuk-tag--grey" }, rec.value.status_label)),
            h("p", { class: "govuk-body-s" }, `Due ${formatTime(rec.value.due_at)} · ${rec.value.status_label}`,
              pending ? [" · ", h("strong", { class: "govuk-tag govuk-tag--yellow" }, "Not yet sent")] : null,
              problem ? [" · ", h("strong", { class: "govuk-tag govuk-tag--red" }, "Needs attention")] : null));
        }))
      : h("p", { class: "govuk-body" }, "No returns are allocated to you on this device."));
}

function questionField(q, value, onChange) {
  const id = `q-${q.name}`;
  const hint = q.hint ? h("div", { class: "govuk-hint", id: `${id}-hint` }, q.hint) : null;
  const described = q.hint ? `${id}-hint` : null;
  if (q.kind === "radios" || q.kind === "checkboxes") {
    const type = q.kind === "radios" ? "radio" : "checkbox";
    const cls = q.kind === "radios" ? "govuk-radios" : "govuk-checkboxes";
    const values = q.kind === "checkboxes" ? new Set(value || []) : new Set(value ? [value] : []);
    return h("div", { class: "govuk-form-group" },
      h("fieldset", { class: "govuk-fieldset", "aria-describedby": described },
        h("legend", { class: "govuk-fieldset__legend govuk-fieldset__legend--s" }, q.label),
        hint,
        h("div", { class: `${cls} ${cls}--small`, "data-module": q.kind === "radios" ? "govuk-radios" : "govuk-checkboxes" },
          q.choices.map(([v, label], i) => h("div", { class: `${cls}__item` },
            h("input", {
              class: `${cls}__input`, id: `${id}-${i}`, name: q.name, type, value: v,
              checked: values.has(v) || null, onchange: onChange,
            }),
            h("label", { class: `govuk-label ${cls}__label`, for: `${id}-${i}` }, label))))));
  }
  let input;
  if (q.kind === "text") {
    input = h("textarea", { class: "govuk-textarea", id, name: q.name, rows: "4", maxlength: q.max_length, "aria-describedby": described, oninput: onChange });
    input.value = value || "";
  } else if (q.kind === "datetime") {
    input = h("input", { class: "govuk-input govuk-input--width-20", id, name: q.name, type: "datetime-local", "aria-describedby": described, onchange: onChange });
    input.value = value ? toLocalInput(value) : "";
  } else {
    input = h("input", { class: "govuk-input", id, name: q.name, type: "text", maxlength: q.max_length, "aria-describedby": described, oninput: onChange });
    input.value = value || "";
  }
  return h("div", { class: "govuk-form-group" }, h("label", { class: "govuk-label govuk-label--s", for: id }, q.label), hint, input);
}

/** ISO instant -> "YYYY-MM-DDTHH:MM" in UK time, for a datetime-local input. */
export function toLocalInput(iso) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** "YYYY-MM-DDTHH:MM" typed as UK time -> ISO instant with offset. */
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

export function interviewView({ record, answers, schema, savedAt, problem, readOnly, onChange, onSubmit, onBack }) {
  const v = record.value;
  return h("div", {},
    h("a", { href: "#", class: "govuk-back-link", onclick: (ev) => { ev.preventDefault(); onBack(); } }, "Back to my returns"),
    h("span", { class: "govuk-caption-l" }, `${v.child.first_name} ${v.child.last_name}`),
    h("h1", { class: "govuk-heading-l" }, "Return home interview"),
    h("p", { class: "govuk-body" }, clockTag(v.due_at), ` · Due ${formatTime(v.due_at)}`),
    v.child.flags && v.child.flags.length
      ? h("p", { class: "govuk-body" }, h("strong", {}, "Flags: "), v.child.flags.join(", ")) : null,
    v.review_note ? h("div", { class: "govuk-inset-text" }, `Your manager asked for changes: ${v.review_note}`) : null,
    problem ? h("div", { class: "govuk-error-summary", tabindex: "-1" },
      h("div", { role: "alert" },
        h("h2", { class: "govuk-error-summary__title" }, "The server could not accept this"),
        h("div", { class: "govuk-error-summary__body" }, h("p", { class: "govuk-body" }, problem.message)))) : null,
    readOnly ? h("div", { class: "govuk-inset-text" }, `This interview is ${v.status_label.toLowerCase()} and cannot be changed here.`) : null,
    h("form", { id: "hw-field-form", novalidate: true, onsubmit: (ev) => { ev.preventDefault(); onSubmit(); } },
      h("fieldset", { class: "govuk-fieldset", disabled: readOnly || null },
        h("legend", { class: "govuk-visually-hidden" }, "Interview answers"),
        schema.sections.map((s) => h("section", { class: "hw-field-section", "aria-labelledby": `s-${s.slug}` },
          h("h2", { class: "govuk-heading-m", id: `s-${s.slug}` }, s.title),
          s.hint ? h("p", { class: "govuk-body" }, s.hint) : null,
          s.questions.map((q) => questionField(q, answers[q.name], onChange))))),
      h("p", { class: "hw-save-status", role: "status", "aria-live": "polite", id: "hw-field-saved" },
        savedAt ? `Saved on this device at ${formatClock(savedAt)}` : ""),
      readOnly ? null : h("button", { type: "submit", class: "govuk-button" }, "Send for authorisation")));
}

export function conflictView({ conflict, schema, onKeepMine, onKeepServer, onBack }) {
  const labels = Object.fromEntries(schema.sections.flatMap((s) => s.questions.map((q) => [q.name, q.label])));
  const mine = (conflict.local && conflict.local.answers) || {};
  const theirs = (conflict.server && conflict.server.answers) || {};
  const names = [...new Set([...Object.keys(mine), ...Object.keys(theirs)])]
    .filter((n) => JSON.stringify(mine[n]) !== JSON.stringify(theirs[n]));
  const show = (x) => (x === undefined || x === null ? "(blank)" : Array.isArray(x) ? x.join(", ") : String(x));
  return h("div", {},
    h("a", { href: "#", class: "govuk-back-link", onclick: (ev) => { ev.preventDefault(); onBack(); } }, "Back"),
    h("h1", { class: "govuk-heading-l" }, "Choose which version to keep"),
    h("p", { class: "govuk-body" }, "This interview was changed somewhere else before your change arrived. Nothing has been lost: both versions are here."),
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
