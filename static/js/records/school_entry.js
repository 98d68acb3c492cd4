// @ts-check
// A piece of the DSL's work made on the tablet (an absence, an enquiry, the checklist, a
// referral, a milestone done, the follow-up's facts or end, a pupil missing during the school
// day, a pupil new to the school), as a field-mode record type. Made once with the tablet's own id and never changed: the
// server applies it once (webapp/schools/sync.py) and its effect comes back in the pupil's
// record, so once the server has it the tablet drops it (transient). Until then the pupil's
// screens show it applied (../school-work.js pupilNow), marked "waiting to send".

import { addedPupil, checkEntry, entriesOf, pupilNow } from "../school-work.js";
import { h } from "../field/views.js";

/**
 * The pupil as the tablet shows them: the server's copy with this tablet's entries applied.
 *
 * @param {(type: string, id: string) => any} lookup
 * @param {Record<string, Array<{id: string, value: any}>>} records
 * @param {string} childId
 * @param {Array<{id: string, value: any}>} [extra] entries being made now, not stored yet
 */
export function pupilView(lookup, records, childId, extra = []) {
  const added = (records.school_entry || []).find((e) => e.value.action === "pupil" && e.value.child_id === childId);
  const pupil = lookup("pupil", childId) || (added ? addedPupil(added.value) : null);
  if (!pupil) return null;
  const school = (records.school || [])[0];
  return pupilNow(pupil, [...entriesOf(records.school_entry || [], childId), ...extra], school && school.value);
}

/**
 * Every pupil on this tablet: the server's, and those added here and not yet sent (as records
 * at version 0, so the register, the search and the pupil's screens treat them alike).
 *
 * @param {Record<string, Array<{id: string, version?: number, value: any}>>} records
 */
export function pupilsOf(records) {
  const known = new Set((records.pupil || []).map((p) => p.id));
  const added = (records.school_entry || []).filter((e) => e.value.action === "pupil" && !known.has(e.value.child_id))
    .map((e) => ({ id: e.value.child_id, version: 0, value: addedPupil(e.value) }));
  return [...(records.pupil || []), ...added];
}

/** @type {import("./registry.js").RecordType} */
export const schoolEntry = {
  name: "school_entry",
  title: "Waiting to send",
  listLabel: "Work waiting to send",
  empty: "Nothing waiting.",
  listed: false, // shown on the pupil's screens
  transient: true, // its effect comes back in the pupil's record

  listItem(record) {
    return h("li", { class: "hw-card" }, record.value.action);
  },

  // Never opened on its own: an entry is shown on its pupil's screen.
  form(record, { go }) {
    go({ screen: "record", type: "pupil", id: record.value.child_id });
    return h("p", { class: "govuk-body" }, "Opening the pupil…");
  },

  read(_form, { current }) {
    return current;
  },

  validate(payload, { lookup, records = {} }) {
    const school = ((records.school || [])[0] || {}).value;
    if (payload.action === "pupil") {
      const upns = new Set(pupilsOf(records).map((p) => p.value.child.upn).filter(Boolean));
      return checkEntry(payload, { view: null, school, upns });
    }
    const view = pupilView(lookup, records, payload.child_id);
    if (!view) return [{ name: "action", message: "This pupil is not on this tablet" }];
    return checkEntry(payload, { view, school });
  },

  // Kept with when it was made, so the pupil's screens apply entries in order.
  local(payload) {
    return { ...payload, made_at: Date.now() };
  },

  after: (record) => ({ screen: "record", type: "pupil", id: record.value.child_id }),
};
