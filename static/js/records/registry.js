// @ts-check
// The record types field mode knows. Each type lives in its own file and registers itself here
// (what it is called, which screens show it, how its changes are checked); the store, the
// outbox and the sync client only ever see a type's name, so adding one touches nothing else.

/**
 * @typedef {object} RecordType
 * @property {string} name the record_type the server syncs, a word ("interview")
 * @property {string} title the heading of its list on the phone ("My returns")
 * @property {string} listLabel the list's accessible name
 * @property {string} empty what the list says when it has nothing
 * @property {(a: any, b: any) => number} [sort] order of the list
 * @property {(record: any, ctx: any) => Node} listItem one card in the list
 * @property {(record: any, ctx: any) => Node} form the screen that shows (and edits) one record
 * @property {(form: HTMLFormElement, ctx: any) => any} read the payload a form holds now
 * @property {(payload: any, ctx: any) => Array<{name: string, message: string}>} validate
 *   problems that would make the server refuse the change; [] when it may be queued
 * @property {(value: any, payload: any) => any} [accepted] the local copy once the server has
 *   accepted our change to it (until the next pull brings the server's own)
 * @property {(record: any, draft: any) => any} [current] the editable payload a screen starts
 *   from: the stored copy with the unsent draft over it (default: the stored value)
 * @property {(payload: any) => any} [local] the stored value of a record made on this phone,
 *   until the server's copy arrives
 * @property {(record: any) => any} [after] the route to show once a change is saved (default:
 *   the list)
 * @property {boolean} [listed] false: shown on another type's screens, not as a list of its own
 * @property {boolean} [submits] the payload carries `submit` (send for authorisation)
 * @property {(record: any, ctx: any) => boolean} [shown] whether the list shows this record
 *   (default: every record); the rest are reached from another screen (a school's pupils)
 * @property {(records: any) => any[]} [records] this type's records as lists and screens show
 *   them: the stored ones and any another type's unsent change stands for (a pupil added on the
 *   tablet is made by one of its entries; it has no stored copy until the server's arrives)
 * @property {boolean} [live] its screen (with no section open) only shows: draw it again
 *   when a sync brings changes (a pupil's follow-up once the server has the tablet's entries)
 * @property {boolean} [transient] made on the phone and dropped once the server has it: its
 *   effect comes back in other records (a school entry, in its pupil's record)
 */

const WORD = /^[A-Za-z][\w-]*$/;

export function createRegistry() {
  /** @type {Map<string, RecordType>} */
  const types = new Map();
  return {
    /** @param {RecordType} type */
    register(type) {
      if (!type || typeof type.name !== "string" || !WORD.test(type.name)) {
        throw new TypeError("a record type needs a name that is a word");
      }
      for (const part of ["listItem", "form", "read", "validate"]) {
        if (typeof (/** @type {any} */ (type))[part] !== "function") {
          throw new TypeError(`record type ${type.name} needs ${part}()`);
        }
      }
      if (types.has(type.name)) throw new Error(`record type ${type.name} is already registered`);
      types.set(type.name, Object.freeze({ ...type }));
      return type;
    },
    /** @param {string} name @returns {RecordType | undefined} */
    get(name) {
      return types.get(name);
    },
    /** @returns {RecordType[]} in the order registered */
    all() {
      return [...types.values()];
    },
    /**
     * The types this role keeps on a phone, as the server says (schema.record_types).
     *
     * @param {Record<string, string[]>} byRole
     * @param {string | null | undefined} role
     * @returns {RecordType[]}
     */
    forRole(byRole, role) {
      const names = new Set((role && byRole && byRole[role]) || []);
      return [...types.values()].filter((t) => names.has(t.name));
    },
  };
}

/** The app's registry: records/index.js imports every type into it. */
export const registry = createRegistry();
