// @ts-check
// A child placed with the carer, as a field-mode record type: where the child is now and what
// the plan says to do next (counted on the phone, so it works with no signal), "Report missing"
// and "Report back", the standing profile with its photo, the risk plan, and the police handover
// to print or show. The profile is the record's editable part; reports are episode records
// (./episode.js) made on this phone.

import { policeReportDue, nextStep } from "../plan.js";
import { dateField, summary, textArea, values } from "../field/fields.js";
import { formatTime, h } from "../field/views.js";
import { isOpen, readReport, reportFields, stateLabel, check as checkReport, TYPE_LABELS } from "./episode.js";
import { PhotoError, preparePhoto } from "../photo.js";

export const PROFILE_FIELDS = /** @type {const} */ ([
  ["description", "Description", "Height, build, hair, eyes, marks, scars, tattoos"],
  ["phones", "Phones", "Numbers, and whether they are usually on"],
  ["social_media", "Social media", "Accounts and usernames"],
  ["associates", "Friends, family and associates", "Names and where they live, and anyone who may pose a risk"],
  ["places", "Places they go", "Addresses, areas, shops, stations"],
  ["medical", "Medical needs", "Conditions, allergies, what to do"],
  ["medication", "Medication", "What, how often, what happens without it"],
  ["money", "Money and bank cards", ""],
  ["transport", "Transport", "Bus pass, bike, who might drive them"],
]);

/** @param {any} v the record's value */
const fullName = (v) => `${v.child.first_name} ${v.child.last_name}`;

/**
 * The child's open report on this phone (made here or given by the server), else null.
 *
 * @param {any[]} episodes stored episode records
 * @param {string} childId
 */
export function openEpisode(episodes, childId) {
  return episodes.find((e) => e.value.child_id === childId && isOpen(e.value)) || null;
}

/**
 * A report of this child started on this phone and not sent yet, else null.
 *
 * @param {any[]} episodes stored episode records
 * @param {string} childId
 */
export function draftReport(episodes, childId) {
  return episodes.find((e) => e.value.child_id === childId && e.value.draft) || null;
}

/**
 * @param {any} child the record value's child
 * @param {any} plan plan summary or null
 * @param {any} ep an episode's value
 */
function planFacts(child, plan, ep) {
  return {
    reportedType: ep.reported_type,
    lastSeenAt: ep.last_seen_at,
    dueBackAt: ep.due_back_at,
    dateOfBirth: child.date_of_birth,
    reportAfterHours: plan ? plan.report_after_hours : null,
    reportedToPoliceAt: ep.reported_to_police_at,
    returnedAt: ep.returned ? ep.returned.returned_at : null,
  };
}

/**
 * "2 hours 10 minutes left" / "45 minutes overdue", rounded down like the 72-hour clock.
 *
 * @param {string} dueIso
 * @param {number} now
 */
export function timeLeft(dueIso, now) {
  const ms = Date.parse(dueIso) - now;
  const minutes = Math.floor(Math.abs(ms) / 60000);
  const hh = Math.floor(minutes / 60);
  const mm = minutes % 60;
  const words = [hh ? `${hh} hour${hh === 1 ? "" : "s"}` : "", `${mm} minute${mm === 1 ? "" : "s"}`].filter(Boolean).join(" ");
  return ms >= 0 ? `${words} left` : `${words} overdue`;
}

/**
 * Whether the police must be told at once, from the first screen: 12 or under, or the plan
 * says no wait (policeReportDue with no wait gives the start time itself).
 *
 * @param {any} child
 * @param {any} plan
 */
export function reportAtOnce(child, plan) {
  const now = new Date().toISOString();
  return policeReportDue({ reportedType: "missing", lastSeenAt: now, dueBackAt: null, dateOfBirth: child.date_of_birth,
    reportAfterHours: plan ? plan.report_after_hours : null }) === now;
}

/**
 * The next step panel, with the time left counted on the phone.
 *
 * @param {any} value
 * @param {any} ep
 */
function stepPanel(value, ep) {
  const step = nextStep(planFacts(value.child, value.plan, ep), Date.now());
  const urgent = step.code === "report_now";
  return h("div", { class: urgent ? "govuk-warning-text hw-step hw-step--urgent" : "govuk-inset-text hw-step", role: urgent ? "alert" : null },
    urgent ? h("span", { class: "govuk-warning-text__icon", "aria-hidden": "true" }, "!") : null,
    h(urgent ? "strong" : "div", { class: urgent ? "govuk-warning-text__text" : "" },
      urgent ? h("span", { class: "govuk-visually-hidden" }, "Warning") : null,
      h("span", { class: "hw-step__state" }, stateLabel(ep)), h("br"),
      step.text,
      step.dueAt && step.code === "search"
        ? [h("br"), h("strong", {}, `Report to police by ${formatTime(step.dueAt)}: ${timeLeft(step.dueAt, Date.now())}`)]
        : null));
}

/**
 * @param {string} text
 * @param {() => void} onclick
 * @param {boolean} [secondary]
 */
const button = (text, onclick, secondary = false) =>
  h("button", { type: "button", class: `govuk-button${secondary ? " govuk-button--secondary" : ""}`, onclick }, text);

/**
 * @param {string} text
 * @param {() => void} go
 */
const link = (text, go) => h("li", {}, h("a", { class: "govuk-link", href: "#", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); go(); } }, text));

// ------------------------------------------------------------------ screens

// An appointment stays on screen for 2 hours after its time (it may run late), as online.
const SHOWN_AFTER_MS = 2 * 3600e3;

/**
 * The return interview appointments still to come (or just begun).
 *
 * @param {Array<{at: string, place: string | null}> | undefined} appointments
 * @param {number} [now]
 */
export function upcoming(appointments, now = Date.now()) {
  return (appointments || []).filter((a) => Date.parse(a.at) >= now - SHOWN_AFTER_MS);
}

/** @param {any} record @param {any} ctx */
function overview(record, ctx) {
  const v = record.value;
  const episodes = ctx.records.episode || [];
  const open = openEpisode(episodes, record.id);
  const recent = episodes.filter((e) => e.value.child_id === record.id && !isOpen(e.value) && !e.value.draft)
    .sort((a, b) => String(b.value.last_seen_at).localeCompare(String(a.value.last_seen_at)));
  const go = (/** @type {string} */ section) => ctx.go({ screen: "record", type: "child", id: record.id, section });
  return [
    h("h1", { class: "govuk-heading-l" }, fullName(v)),
    v.child.flags && v.child.flags.length ? h("p", { class: "govuk-body" }, h("strong", {}, "Flags: "), v.child.flags.join(", ")) : null,
    upcoming(v.appointments).map((a) => h("div", { class: "govuk-inset-text" },
      h("strong", {}, "Return interview arranged: "), formatTime(a.at), a.place ? `, ${a.place}` : "")),
    open ? [
      stepPanel(v, open.value),
      h("div", { class: "govuk-button-group" },
        button("Report back", () => ctx.go({ screen: "record", type: "episode", id: open.id, section: "back" })),
        button("Update the report", () => ctx.go({ screen: "record", type: "episode", id: open.id }), true)),
    ] : [
      h("p", { class: "govuk-body" }, "No report is open for this child."),
      draftReport(episodes, record.id)
        ? button("Carry on with the report you started", () => go("report"))
        : button("Report missing", () => go("report")),
    ],
    recent.length ? [
      h("h2", { class: "govuk-heading-m" }, "Recent returns"),
      h("ul", { class: "govuk-list" }, recent.map((e) => link(
        `${stateLabel(e.value)}: ${e.value.carer_notes ? "change what you noticed" : "add what you noticed for the return interview"}`,
        () => ctx.go({ screen: "record", type: "episode", id: e.id })))),
    ] : null,
    h("h2", { class: "govuk-heading-m" }, "Keep ready"),
    h("ul", { class: "govuk-list" },
      link("Police handover", () => go("handover")),
      link("Standing profile and photo", () => go("profile")),
      link("Risk assessment and action plan", () => go("plan"))),
  ];
}

/** @param {any} record @param {any} ctx */
function reportScreen(record, ctx) {
  const v = record.value;
  const atOnce = reportAtOnce(v.child, v.plan);
  const now = new Date();
  // A report started earlier on this phone (kept as it was typed) carries on where it was left.
  const kept = draftReport(ctx.records.episode || [], record.id);
  const id = kept ? kept.id : crypto.randomUUID();
  const draft = kept ? kept.value : { reported_type: null, last_seen_at: null, report: {} };
  const typed = (/** @type {HTMLFormElement} */ form) =>
    ({ child_id: record.id, ...readReport(form), returned: null, carer_notes: null });
  return [
    h("h1", { class: "govuk-heading-l" }, "Report missing"),
    atOnce ? h("div", { class: "govuk-warning-text", role: "alert" },
      h("span", { class: "govuk-warning-text__icon", "aria-hidden": "true" }, "!"),
      h("strong", { class: "govuk-warning-text__text" }, h("span", { class: "govuk-visually-hidden" }, "Warning"),
        "Report to police now: call 999 if they are in danger, otherwise 101. Do not wait.")) : null,
    h("form", { id: "hw-field-new", novalidate: true,
      oninput: (/** @type {Event} */ ev) => ctx.keepDraft("episode", id, typed(/** @type {HTMLFormElement} */ (/** @type {HTMLElement} */ (ev.target).closest("form")))),
      onsubmit: (/** @type {Event} */ ev) => {
        ev.preventDefault();
        ctx.create("episode", typed(/** @type {HTMLFormElement} */ (ev.target)), id);
      } },
    h("div", { id: "hw-field-problems" }),
    kept ? h("div", { class: "govuk-inset-text" }, "You started this report earlier: it was kept on this phone and has not been sent yet.") : null,
    h("p", { class: "govuk-body" }, `Fill in what you know now (it is ${formatTime(now.toISOString())}); you can add more later. It is kept on this phone as you type and sent when you choose "Report missing".`),
    reportFields(draft, Boolean(v.child.looked_after)),
    h("button", { type: "submit", class: "govuk-button" }, "Report missing")),
  ];
}

/** @param {any} record @param {any} ctx */
function profileScreen(record, ctx) {
  const v = record.value;
  const p = ctx.current.profile || {};
  const chosen = ctx.current.photo;
  const shown = chosen && typeof chosen === "object" ? chosen.jpeg : (chosen === "remove" ? null : v.photo);
  const hidden = h("input", { type: "hidden", name: "photo", value: typeof chosen === "object" && chosen ? JSON.stringify(chosen) : (chosen || "keep") });
  const preview = h("div", { class: "hw-profile-photo" }, shown ? h("img", { src: `data:image/jpeg;base64,${shown}`, alt: `Photo of ${fullName(v)}`, class: "hw-profile-photo__image" }) : h("p", { class: "govuk-body" }, "No photo yet."));
  const photoError = h("p", { class: "govuk-error-message", id: "photo-file-error", hidden: true });
  const file = h("input", { class: "govuk-file-upload", id: "photo-file", type: "file", accept: "image/jpeg,image/png,image/heic,image/heif", "aria-describedby": "photo-file-hint" });
  file.addEventListener("change", async () => {
    const input = /** @type {HTMLInputElement} */ (file);
    const f = input.files && input.files[0];
    if (!f) return;
    photoError.hidden = true;
    try {
      const jpeg = await preparePhoto(f, { online: navigator.onLine });
      /** @type {HTMLInputElement} */ (hidden).value = JSON.stringify({ jpeg });
      preview.replaceChildren(h("img", { src: `data:image/jpeg;base64,${jpeg}`, alt: `New photo of ${fullName(v)}`, class: "hw-profile-photo__image" }));
      ctx.onChange();
    } catch (err) {
      // The typed profile stays as it is: only the photo is refused.
      photoError.replaceChildren(h("span", { class: "govuk-visually-hidden" }, "Error: "), err instanceof PhotoError ? err.message : "This photo could not be used. Choose another.");
      photoError.hidden = false;
      input.value = "";
    }
  });
  return [
    h("h1", { class: "govuk-heading-l" }, "Standing profile"),
    h("p", { class: "govuk-body" }, "What police need at once if the child goes missing (Philomena Protocol). Keep it current: review it by the date below."),
    h("form", { id: "hw-field-form", novalidate: true, oninput: ctx.onChange, onchange: ctx.onChange,
      onsubmit: (/** @type {Event} */ ev) => { ev.preventDefault(); ctx.onSubmit(); } },
    h("div", { id: "hw-field-problems" }),
    h("div", { class: "govuk-form-group" },
      h("h2", { class: "govuk-heading-s" }, "Recent photo"),
      preview,
      h("label", { class: "govuk-label", for: "photo-file" }, "Choose a new photo"),
      h("div", { class: "govuk-hint", id: "photo-file-hint" }, "A JPEG, PNG or HEIC photo up to 8 MB. Location and camera details are removed."),
      photoError,
      file,
      hidden,
      shown ? h("p", { class: "govuk-body" }, h("button", { type: "button", class: "hw-link-button", onclick: () => {
        /** @type {HTMLInputElement} */ (hidden).value = "remove";
        preview.replaceChildren(h("p", { class: "govuk-body" }, "The photo will be removed."));
        ctx.onChange();
      } }, "Remove the photo")) : null),
    PROFILE_FIELDS.map(([name, label, hint]) => textArea({ name: `profile.${name}`, label, hint: hint || null, value: p[name] })),
    dateField({ name: "review_due", label: "Review by", value: ctx.current.review_due }),
    h("p", { class: "hw-save-status", role: "status", "aria-live": "polite", id: "hw-field-saved" },
      ctx.savedAt ? `Saved on this device at ${ctx.formatClock(ctx.savedAt)}` : ""),
    h("button", { type: "submit", class: "govuk-button" }, "Save the profile")),
  ];
}

/** @param {any} plan */
function planBody(plan) {
  if (!plan) {
    return h("p", { class: "govuk-body" }, "No plan has been agreed yet. Without one, report to police as soon as the child is missing. Ask the child's social worker to complete the plan with you.");
  }
  const hours = plan.report_after_hours;
  return [
    h("div", { class: "govuk-inset-text" }, hours ? `Report to police if the child is not back ${hours} hour${hours === 1 ? "" : "s"} after they were due.` : "Report to police at once when the child is missing."),
    (plan.sections || []).map((/** @type {any} */ s) => s.value ? [h("h2", { class: "govuk-heading-s" }, s.label), h("p", { class: "govuk-body hw-pre-line" }, s.value)] : null),
    plan.contacts && plan.contacts.length ? [
      h("h2", { class: "govuk-heading-m" }, "Contacts to try"),
      h("ul", { class: "govuk-list" }, plan.contacts.map((/** @type {any} */ c) => h("li", {}, [c.name, c.relationship, c.phone].filter(Boolean).join(", ")))),
    ] : null,
    plan.addresses && plan.addresses.length ? [
      h("h2", { class: "govuk-heading-m" }, "Addresses"),
      plan.addresses.map((/** @type {any} */ a) => summary([
        ["Address", a.address], ["Risk", a.risk_label || a.risk], ["What to do", a.action],
        ["Longest wait before telling police", a.max_wait_hours !== null && a.max_wait_hours !== undefined ? `${a.max_wait_hours} hours` : null],
      ])),
    ] : null,
  ];
}

/** @param {any} record @param {any} ctx */
function handoverScreen(record, ctx) {
  const v = record.value;
  const c = v.child;
  const p = v.profile || {};
  const episodes = (ctx.records.episode || []).filter((/** @type {any} */ e) => e.value.child_id === record.id)
    .sort((/** @type {any} */ a, /** @type {any} */ b) => String(b.value.last_seen_at).localeCompare(String(a.value.last_seen_at)));
  // The open report; else one being typed (the carer may be on the phone to the police with
  // it); else the latest.
  const ep = (openEpisode(episodes, record.id) || draftReport(episodes, record.id) || episodes[0] || { value: null }).value;
  const report = (ep && ep.report) || {};
  return [
    h("h1", { class: "govuk-heading-l" }, "Police handover"),
    h("div", { class: "govuk-button-group hw-no-print" }, button("Print", () => window.print(), true)),
    h("div", { class: "hw-handover" },
      v.photo ? h("img", { src: `data:image/jpeg;base64,${v.photo}`, alt: `Photo of ${fullName(v)}`, class: "hw-handover__photo" }) : null,
      h("h2", { class: "govuk-heading-m" }, fullName(v)),
      summary([
        ["Date of birth", c.date_of_birth], ["Sex", c.sex], ["Legal status", c.legal_status],
        ["Responsible authority", c.responsible_authority], ["Placement", c.placement], ["Social worker", c.social_worker],
        ...PROFILE_FIELDS.map(([n, label]) => /** @type {[string, any]} */ ([label, p[n]])),
      ]),
      ep ? [
        h("h2", { class: "govuk-heading-m" }, "This episode"),
        summary([
          ["What happened", TYPE_LABELS[/** @type {keyof typeof TYPE_LABELS} */ (ep.reported_type)]],
          ["Last seen", formatTime(ep.last_seen_at)], ["Due back", formatTime(ep.due_back_at)],
          ["Where last seen", report.where_last_seen], ["With whom", report.with_whom],
          ["Clothing", report.clothing], ["Belongings", report.belongings], ["Money", report.money], ["Phone", report.phone],
          ["Circumstances", ep.circumstances], ["Checks already made", report.checks_made],
          ["Reported to police", formatTime(ep.reported_to_police_at)], ["Police log number", ep.police_log_number],
        ]),
      ] : null,
      v.plan ? [h("h2", { class: "govuk-heading-m" }, "From the risk plan"), planBody(v.plan)] : null),
  ];
}

/** @param {any} record @param {any} _ctx */
function planScreen(record, _ctx) {
  return [
    h("h1", { class: "govuk-heading-l" }, "Risk assessment and action plan"),
    planBody(record.value.plan),
    h("p", { class: "govuk-body" }, "The plan is agreed with the child's social worker and changed online."),
  ];
}

const SCREENS = { report: reportScreen, profile: profileScreen, plan: planScreen, handover: handoverScreen };

/** @type {import("./registry.js").RecordType} */
export const child = {
  name: "child",
  title: "My children",
  listLabel: "Children placed with you",
  empty: "No children are placed with you on this device.",
  sort: (a, b) => fullName(a.value).localeCompare(fullName(b.value)),

  listItem(record, { pending, problem, onOpen, records }) {
    const v = record.value;
    const open = openEpisode(records.episode || [], record.id);
    return h("li", { class: open ? "hw-card hw-card--overdue" : "hw-card" },
      h("h2", { class: "govuk-heading-s hw-card__title" },
        h("a", { class: "govuk-link", href: `#/r/child/${record.id}`, onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); onOpen(); } }, fullName(v))),
      h("p", { class: "govuk-body-s" }, open ? stateLabel(open.value) : "At home",
        pending ? [" · ", h("strong", { class: "govuk-tag govuk-tag--yellow" }, "Not yet sent")] : null,
        problem ? [" · ", h("strong", { class: "govuk-tag govuk-tag--red" }, "Needs attention")] : null));
  },

  form(record, ctx) {
    const screen = SCREENS[/** @type {keyof typeof SCREENS} */ (ctx.section)] || overview;
    return h("div", {},
      h("a", { href: "#/", class: "govuk-back-link hw-no-print", onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); ctx.onBack(); } }, "Back"),
      h("span", { class: "govuk-caption-l" }, screen === overview ? "Placed with you" : fullName(record.value)),
      ctx.problem ? h("div", { class: "govuk-error-summary", tabindex: "-1" },
        h("div", { role: "alert" },
          h("h2", { class: "govuk-error-summary__title" }, "The server could not accept this"),
          h("div", { class: "govuk-error-summary__body" }, h("p", { class: "govuk-body" }, ctx.problem.message)))) : null,
      screen(record, ctx));
  },

  current(record, draft) {
    return { profile: record.value.profile || {}, review_due: record.value.review_due || null, photo: "keep", ...(draft || {}) };
  },

  read(form) {
    const names = PROFILE_FIELDS.map(([n]) => `profile.${n}`);
    const v = values(form, [...names, "review_due", "photo"]);
    /** @type {Record<string, string>} */
    const profile = {};
    for (const [n] of PROFILE_FIELDS) if (v[`profile.${n}`]) profile[n] = /** @type {string} */ (v[`profile.${n}`]);
    const raw = v.photo || "keep";
    const photo = raw.startsWith("{") ? JSON.parse(raw) : raw;
    return { profile, review_due: v.review_due, photo };
  },

  validate(payload) {
    const out = [];
    for (const [n, label] of PROFILE_FIELDS) {
      const text = payload.profile && payload.profile[n];
      if (text && text.length > 2000) out.push({ name: `profile-${n}`, message: `${label}: keep this to 2,000 characters or fewer` });
    }
    if (payload.review_due && !/^\d{4}-\d{2}-\d{2}$/.test(payload.review_due)) out.push({ name: "review_due", message: "Enter the review date as a date" });
    return out;
  },

  after: (record) => ({ screen: "record", type: "child", id: record.id }),

  accepted(value, payload) {
    const photo = payload.photo && typeof payload.photo === "object" ? payload.photo.jpeg : payload.photo === "remove" ? null : value.photo;
    return { ...value, profile: payload.profile, review_due: payload.review_due, photo };
  },
};

export { checkReport };
