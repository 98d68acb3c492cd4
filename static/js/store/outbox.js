// @ts-check
// The "outbox" object store: changes queued for the server, each an AES-GCM box.
//   { mutationId, seq, recordType, recordId, status, attempts, nextAttemptAt, lastError,
//     createdAt, editedAt, updatedAt, box }   key mutationId; indexes "seq", "status", "record"
//   AAD `outbox:${mutationId}`; box = { baseVersion, op, payload }
//
// The rules (when an edit rewrites a queued mutation, what may be sent) are pure functions at
// the top, unit-tested with node --test; the IndexedDB work follows.

import { decryptJSON, encryptJSON } from "../crypto/vault.js";
import { checkId, checkType, sameBytes } from "./checks.js";
import { req } from "./db.js";

/** @typedef {import("./db.js").Database} Database */
/**
 * @typedef {object} OutboxRow
 * @property {string} mutationId
 * @property {number} seq
 * @property {string} recordType
 * @property {string} recordId
 * @property {string} status
 * @property {number} attempts
 * @property {number} nextAttemptAt
 * @property {MutationError|null} lastError
 * @property {number} createdAt
 * @property {number} editedAt
 * @property {number} updatedAt
 * @property {any} box
 */
/**
 * Why the server refused a change, in clear (safeError keeps it to general terms).
 *
 * @typedef {{code: string, message: string, field?: string}} MutationError
 */
/**
 * A change to queue (enqueue): a whole snapshot of the record's payload, not a delta.
 *
 * @typedef {object} NewMutation
 * @property {string} mutationId a fresh UUID
 * @property {string} recordType
 * @property {string} recordId
 * @property {number|null} [baseVersion] the server version it was made on; null creates
 * @property {string} [op] "upsert" (default) or "delete"
 * @property {any} payload the record type's own
 */
/**
 * A queued change as the sync client and the screens see it (pending()): the envelope and the
 * decrypted box.
 *
 * @typedef {Omit<OutboxRow, "box"> & {attention: boolean, baseVersion: number|null, op: string,
 *   payload: any}} Mutation
 */

/** Status of a queued mutation. */
export const STATUS = Object.freeze({
  PENDING: "pending", // waiting to be sent (again)
  SENDING: "sending", // handed to the sync client; the server may or may not have it yet
  ATTENTION: "attention", // the server refused it for good: the person must act
});

const ENQUEUE_TRIES = 5;

// ------------------------------------------------------------------ the rules (pure)

/**
 * The newest queued mutation among a record's rows.
 *
 * @template {{seq: number}} R
 * @param {R[]} rows
 * @returns {R | null}
 */
export function latestOf(rows) {
  return rows.reduce((a, b) => (!a || b.seq > a.seq ? b : a), null);
}

/**
 * Coalescing rule (so autosave does not pile up hundreds of mutations): a new edit rewrites the
 * newest queued mutation for the same record only if it is "pending" and has NEVER been handed
 * to the server (attempts === 0); it then keeps its mutationId, its place in the queue (seq)
 * and its baseVersion. A mutation that is "sending", or was sent before and waits to retry, may
 * already be applied by the server, and its id must keep meaning exactly what was sent (same
 * id, same content is the server's idempotency rule). An "attention" one stays for the person.
 *
 * @param {{status: string, attempts?: number} | null | undefined} row
 * @returns {boolean}
 */
export function coalescable(row) {
  return Boolean(row && row.status === STATUS.PENDING && !row.attempts);
}

/**
 * What sending may take now: not those needing the person, not those waiting out a back-off.
 *
 * @template {{status: string, nextAttemptAt?: number}} M
 * @param {M[]} mutations
 * @param {number} now
 * @returns {M[]}
 */
export function dueNow(mutations, now) {
  return mutations.filter(
    (m) => m.status !== STATUS.ATTENTION && (!m.nextAttemptAt || m.nextAttemptAt <= now),
  );
}

/**
 * lastError is shown to the person and kept in clear, so it holds only what the server says in
 * general terms: a code, a generic message and, at most, the name of a question.
 *
 * @param {{code?: string, message?: string, field?: string|null}} [error]
 * @returns {MutationError}
 */
export function safeError({ code, message, field } = {}) {
  /** @type {MutationError} */
  const out = {
    code: String(code || "rejected").slice(0, 64),
    message: String(message || "The server could not accept this change.").slice(0, 300),
  };
  if (typeof field === "string" && /^[\w.[\]-]{1,64}$/.test(field)) out.field = field;
  return out;
}

// ------------------------------------------------------------------ IndexedDB

/** @param {string} mutationId */
const aad = (mutationId) => `outbox:${mutationId}`;

// Outbox changes read, encrypt, then write; encryption is not an IndexedDB request, so one
// transaction cannot span all three. Serialising them within this tab avoids most clashes;
// enqueue() also re-checks inside its write transaction for other tabs.
/** @type {WeakMap<Database, Promise<unknown>>} */
const chains = new WeakMap();

/**
 * @template T
 * @param {Database} db
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
function serial(db, fn) {
  const run = (chains.get(db) || Promise.resolve()).then(fn, fn);
  chains.set(db, run.catch(() => {}));
  return run;
}

/**
 * @param {IDBObjectStore} store
 * @param {string} recordType
 * @param {string} recordId
 * @returns {Promise<OutboxRow | null>}
 */
async function latestFor(store, recordType, recordId) {
  return latestOf(await req(store.index("record").getAll([recordType, recordId])));
}

/**
 * Queue a change for the server (see coalescable() for when it rewrites one already queued).
 * Payloads are therefore whole snapshots of the change, not deltas.
 *
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {NewMutation} m
 * @returns {Promise<{mutationId: string, seq: number, coalesced: boolean}>}
 */
export async function enqueue(db, key, { mutationId, recordType, recordId, baseVersion = null, op = "upsert", payload }) {
  if (typeof mutationId !== "string" || !mutationId) throw new TypeError("mutationId required");
  checkType(recordType);
  checkId(recordId);
  return serial(db, async () => {
    for (let attempt = 0; attempt < ENQUEUE_TRIES; attempt += 1) {
      const result = await tryEnqueue(db, key, { mutationId, recordType, recordId, baseVersion, op, payload });
      if (result) return result;
    }
    throw new Error("The outbox kept changing; try again.");
  });
}

/**
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {{mutationId: string, recordType: string, recordId: string, baseVersion: number|null,
 *   op: string, payload: any}} m
 */
async function tryEnqueue(db, key, { mutationId, recordType, recordId, baseVersion, op, payload }) {
  const latest = await db.tx(["outbox"], "readonly", (tx) =>
    latestFor(tx.objectStore("outbox"), recordType, recordId),
  );
  const now = Date.now();

  if (coalescable(latest)) {
    const old = await decryptJSON(key, latest.box, aad(latest.mutationId));
    const box = await encryptJSON(key, { baseVersion: old.baseVersion, op, payload }, aad(latest.mutationId));
    return db.tx(["outbox"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      const current = await latestFor(store, recordType, recordId);
      // Another tab sent or replaced it meanwhile: decide again from the new state.
      if (!current || current.mutationId !== latest.mutationId || !coalescable(current) ||
          !sameBytes(current.box.iv, latest.box.iv)) {
        return null;
      }
      store.put({ ...current, box, editedAt: now, updatedAt: now });
      return { mutationId: current.mutationId, seq: current.seq, coalesced: true };
    });
  }

  const box = await encryptJSON(key, { baseVersion, op, payload }, aad(mutationId));
  return db.tx(["outbox"], "readwrite", async (tx) => {
    const store = tx.objectStore("outbox");
    const current = await latestFor(store, recordType, recordId);
    if ((current && current.mutationId) !== (latest && latest.mutationId) || coalescable(current)) {
      return null;
    }
    if (await req(store.count(mutationId))) throw new Error("mutationId already queued");
    const last = await req(store.index("seq").openCursor(null, "prev"));
    const seq = last ? last.value.seq + 1 : 1;
    store.put({
      mutationId, seq, recordType, recordId,
      status: STATUS.PENDING, attempts: 0, nextAttemptAt: 0, lastError: null,
      createdAt: now,
      // When the person last changed it (updatedAt also moves when it is sent): the server
      // accepts a revoked device's changes only if made before the revocation.
      editedAt: now,
      updatedAt: now,
      box,
    });
    return { mutationId, seq, coalesced: false };
  });
}

/**
 * Every queued mutation, decrypted, in queue order. "attention" ones are included, flagged
 * with `attention: true`, so the sync client can skip them and the UI can list them.
 *
 * @param {Database} db
 * @param {CryptoKey} key
 * @returns {Promise<Mutation[]>}
 */
export async function pending(db, key) {
  /** @type {OutboxRow[]} */
  const rows = await db.tx(["outbox"], "readonly", (tx) => req(tx.objectStore("outbox").index("seq").getAll()));
  return Promise.all(
    rows.map(async (row) => {
      const { box, ...envelope } = row;
      const inner = await decryptJSON(key, box, aad(row.mutationId));
      return {
        ...envelope,
        attention: row.status === STATUS.ATTENTION,
        baseVersion: inner.baseVersion,
        op: inner.op,
        payload: inner.payload,
      };
    }),
  );
}

/**
 * change(row, now) returns the new row, or null to leave it as it is. Envelope only: works
 * while locked, so an acknowledgement arriving after the screen locked is still recorded.
 *
 * @param {Database} db
 * @param {string[]} ids
 * @param {(row: OutboxRow, now: number) => OutboxRow | null} change
 */
export async function update(db, ids, change) {
  await serial(db, () =>
    db.tx(["outbox"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      const now = Date.now();
      for (const id of ids) {
        const row = await req(store.get(id));
        const next = row && change(row, now);
        if (next) store.put(next);
      }
    }),
  );
}

/**
 * The server has it. The ONLY way a local mutation is deleted.
 *
 * @param {Database} db
 * @param {string} mutationId
 */
export async function ack(db, mutationId) {
  await serial(db, () => db.tx(["outbox"], "readwrite", (tx) => req(tx.objectStore("outbox").delete(mutationId))));
}

/**
 * After the server accepted a change to a record as `toVersion`, queued edits to the same
 * record that were based on `fromBase` now continue from `toVersion` (they were made on this
 * device, on top of the accepted change; they must not conflict with ourselves).
 *
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {string} recordType
 * @param {string} recordId
 * @param {number|null} fromBase
 * @param {number} toVersion
 * @returns {Promise<number>} how many were rebased
 */
export async function rebase(db, key, recordType, recordId, fromBase, toVersion) {
  return serial(db, async () => {
    /** @type {OutboxRow[]} */
    const rows = await db.tx(["outbox"], "readonly", (tx) =>
      req(tx.objectStore("outbox").index("record").getAll([recordType, recordId])),
    );
    const updates = [];
    for (const row of rows) {
      if (row.status !== STATUS.PENDING) continue;
      const inner = await decryptJSON(key, row.box, aad(row.mutationId));
      if (inner.baseVersion !== fromBase) continue;
      const box = await encryptJSON(key, { ...inner, baseVersion: toVersion }, aad(row.mutationId));
      updates.push({ row, box });
    }
    if (!updates.length) return 0;
    return db.tx(["outbox"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      let n = 0;
      for (const { row, box } of updates) {
        const current = await req(store.get(row.mutationId));
        // Changed by another tab since we read it: leave it; the server will say "conflict".
        if (!current || current.status !== STATUS.PENDING || !sameBytes(current.box.iv, row.box.iv)) {
          continue;
        }
        store.put({ ...current, box, updatedAt: Date.now() });
        n += 1;
      }
      return n;
    });
  });
}

/**
 * Needs no key, so the unlock screen can say "3 not yet sent".
 *
 * @param {Database} db
 * @returns {Promise<{pending: number, attention: number}>} pending counts "pending" and
 *   "sending" (neither acknowledged yet); attention counts those needing the person
 */
export async function counts(db) {
  return db.tx(["outbox"], "readonly", async (tx) => {
    const byStatus = tx.objectStore("outbox").index("status");
    const [waiting, sending, attention] = await Promise.all(
      [STATUS.PENDING, STATUS.SENDING, STATUS.ATTENTION].map((s) => req(byStatus.count(s))),
    );
    return { pending: waiting + sending, attention };
  });
}
