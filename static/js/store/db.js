// The only code that touches IndexedDB.
//
// One database per signed-in user, named by the server's opaque user id (never a name or an
// email: database names are readable by anyone holding the phone, through the browser's own
// developer tools). Anything about a child or an interview is written only as an AES-GCM box
// made by ../crypto/vault.js; what stays in clear is the envelope sync needs while the store is
// locked: record types, ids, versions, queue order, status and times.
//
// Object stores
//   vault      one record under the key "vault": the wrapped data key (see vault.js)
//   records    { type, id, version, box }                       key [type, id]; index "type"
//   outbox     { mutationId, seq, recordType, recordId, status, attempts, nextAttemptAt,
//                lastError, createdAt, editedAt, updatedAt, box } key mutationId;
//                                                                indexes "seq", "status", "record"
//   conflicts  { conflictId, recordType, recordId, serverVersion, at, box }   key conflictId
//   meta       key/value, e.g. lastSync, cursor, deviceId: nothing personal, never encrypted
//
// Additional data (binds each box to its row, so a box copied elsewhere does not decrypt)
//   records    `records:${type}:${id}:${version}`
//   outbox     `outbox:${mutationId}`   box = { baseVersion, op, payload }
//   conflicts  `conflicts:${conflictId}` box = everything but the envelope (local, server, ...)

import { decryptJSON, encryptJSON } from "../crypto/vault.js";

export const DB_PREFIX = "homeward-u-";
const DB_VERSION = 1;
const VAULT_KEY = "vault";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ENQUEUE_TRIES = 5;

/** Status of a queued mutation. */
export const STATUS = Object.freeze({
  PENDING: "pending", // waiting to be sent (again)
  SENDING: "sending", // handed to the sync client; the server may or may not have it yet
  ATTENTION: "attention", // the server refused it for good: the person must act
});

/** A method that reads or writes personal data was called while no key is in memory. */
export class LockedError extends Error {
  constructor() {
    super("Homeward is locked on this device.");
    this.name = "LockedError";
  }
}

/** The database connection was closed: wiped, or deleted by another tab. */
export class StoreClosedError extends Error {
  constructor() {
    super("This device's Homeward store has been closed.");
    this.name = "StoreClosedError";
  }
}

// Open stores by user id, so wipe() can close this tab's connections before deleting (an open
// connection would otherwise block deleteDatabase until the page goes away).
const live = new Map();

// ------------------------------------------------------------------ promise wrappers

/**
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 */
function req(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Resolves when the transaction has committed; rejects if it aborts. Only "complete" means the
 * data is written: a request's success event is not enough.
 *
 * @param {IDBTransaction} tx
 * @returns {Promise<void>}
 */
function txDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("Transaction aborted", "AbortError"));
  });
}

function sameBytes(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer || a, a.byteOffset || 0, a.byteLength);
  const y = new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength);
  return x.every((v, i) => v === y[i]);
}

function dbName(userId) {
  // A guard as much as a check: an email or a name must never become a database name.
  if (typeof userId !== "string" || !UUID.test(userId)) {
    throw new TypeError("userId must be the server's opaque UUID");
  }
  return `${DB_PREFIX}${userId.toLowerCase()}`;
}

function upgrade(db, oldVersion) {
  if (oldVersion < 1) {
    db.createObjectStore("vault");
    const records = db.createObjectStore("records", { keyPath: ["type", "id"] });
    records.createIndex("type", "type");
    const outbox = db.createObjectStore("outbox", { keyPath: "mutationId" });
    outbox.createIndex("seq", "seq", { unique: true });
    // For counts() while locked, and for finding a record's queued mutations.
    outbox.createIndex("status", "status");
    outbox.createIndex("record", ["recordType", "recordId"]);
    db.createObjectStore("conflicts", { keyPath: "conflictId" });
    db.createObjectStore("meta");
  }
}

// The AAD strings join parts with ":", so a type or version containing ":" could make two
// different rows share an AAD. Types are words and versions are numbers; ids may be anything.
function checkType(type) {
  if (typeof type !== "string" || !/^[A-Za-z][\w-]*$/.test(type)) {
    throw new TypeError("record type must be a word");
  }
}

function checkId(id) {
  if (!(typeof id === "string" && id.length) && !Number.isFinite(id)) {
    throw new TypeError("record id must be a string or a number");
  }
}

function checkVersion(version) {
  if (!Number.isFinite(version) && !(typeof version === "string" && !version.includes(":"))) {
    throw new TypeError("version must be a number");
  }
}

const recordAad = (type, id, version) => `records:${type}:${id}:${version}`;
const outboxAad = (mutationId) => `outbox:${mutationId}`;
const conflictAad = (conflictId) => `conflicts:${conflictId}`;

// lastError is shown to the person and kept in clear, so it holds only what the server says in
// general terms: a code, a generic message and, at most, the name of a question.
function safeError({ code, message, field } = {}) {
  const out = {
    code: String(code || "rejected").slice(0, 64),
    message: String(message || "The server could not accept this change.").slice(0, 300),
  };
  if (typeof field === "string" && /^[\w.[\]-]{1,64}$/.test(field)) out.field = field;
  return out;
}

// ------------------------------------------------------------------ the store

/**
 * The encrypted store on this device for one user.
 *
 * Methods that read or write personal data (records, queued payloads, conflicts) throw
 * LockedError while no key is set. Envelope-only methods work while locked because they need no
 * key and reveal nothing: the vault itself, counts(), meta, estimate(), and the queue
 * bookkeeping the sync client does with a server reply (markSending, ack, markRetry,
 * markAttention) — the screen can lock while a request is in flight, and an acknowledgement
 * that arrives then must still be recorded.
 */
export class DeviceStore {
  /**
   * @param {IDBDatabase} db
   * @param {string} userId
   */
  constructor(db, userId) {
    this._db = db;
    this.userId = userId;
    /** @type {CryptoKey|null} */
    this._key = null;
    this._closed = false;
    // Outbox changes read, encrypt, then write; encryption is not an IndexedDB request, so one
    // transaction cannot span all three. Serialising them within this tab avoids most clashes;
    // enqueue() also re-checks inside its write transaction for other tabs.
    this._outboxChain = Promise.resolve();
    db.onversionchange = () => this.close(); // another tab wants to delete or upgrade: let it
    db.onclose = () => this._markClosed(); // the browser closed it (e.g. site data cleared)
  }

  /**
   * Open (creating if needed) the store for a user.
   *
   * @param {string} userId opaque UUID from the server
   * @returns {Promise<DeviceStore>}
   */
  static async open(userId) {
    const name = dbName(userId);
    const request = indexedDB.open(name, DB_VERSION);
    request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion);
    const db = await req(request);
    const store = new DeviceStore(db, userId);
    if (!live.has(name)) live.set(name, new Set());
    live.get(name).add(store);
    return store;
  }

  /**
   * Delete a user's database. Resolves once deleted, or once the deletion is merely blocked by
   * another tab's connection (it completes when that tab lets go; our own are closed first).
   *
   * @param {string} userId
   * @returns {Promise<void>}
   */
  static async wipe(userId) {
    await deleteByName(dbName(userId));
  }

  /**
   * Delete every Homeward database in this browser profile (any user).
   *
   * @returns {Promise<string[]>} the names deleted
   */
  static async wipeAll() {
    const names = new Set(live.keys());
    if (indexedDB.databases) {
      for (const info of await indexedDB.databases()) {
        if (info.name && info.name.startsWith(DB_PREFIX)) names.add(info.name);
      }
    }
    for (const name of names) await deleteByName(name);
    return [...names];
  }

  /** Close the connection and forget the key. */
  close() {
    this._key = null;
    if (!this._closed) this._db.close();
    this._markClosed();
  }

  _markClosed() {
    this._key = null;
    this._closed = true;
    const set = live.get(this._db.name);
    if (set) {
      set.delete(this);
      if (!set.size) live.delete(this._db.name);
    }
  }

  // ---------------------------------------------------------------- key

  /**
   * Hold the data key in memory (after unlockVault / createVault).
   *
   * @param {CryptoKey} dataKey
   */
  setKey(dataKey) {
    if (!dataKey || dataKey.type !== "secret") throw new TypeError("setKey needs a CryptoKey");
    // A key that can be exported could be read out by any script in the page.
    if (dataKey.extractable) throw new TypeError("the data key must not be extractable");
    this._key = dataKey;
  }

  /** Drop the in-memory key. Data on disk is then only ciphertext and a wrapped key. */
  lock() {
    this._key = null;
  }

  /** @returns {boolean} */
  get isUnlocked() {
    return this._key !== null;
  }

  _requireKey() {
    if (this._closed) throw new StoreClosedError();
    if (!this._key) throw new LockedError();
    return this._key;
  }

  /**
   * Run fn inside one transaction and resolve with its result only after the commit.
   *
   * Writes ask for "strict" durability: a worker's unsent interview must survive the phone
   * dying a moment after "Saved on this device" appears.
   */
  async _tx(names, mode, fn) {
    if (this._closed) throw new StoreClosedError();
    const options = mode === "readwrite" ? { durability: "strict" } : undefined;
    const tx = this._db.transaction(names, mode, options);
    const done = txDone(tx);
    let result;
    try {
      result = await fn(tx);
    } catch (err) {
      done.catch(() => {});
      try {
        tx.abort();
      } catch (_) {
        // already finished
      }
      throw err;
    }
    await done;
    return result;
  }

  _serialOutbox(fn) {
    const run = this._outboxChain.then(fn, fn);
    this._outboxChain = run.catch(() => {});
    return run;
  }

  // ---------------------------------------------------------------- vault

  /** @returns {Promise<boolean>} */
  async hasVault() {
    return (await this.loadVault()) != null;
  }

  /** @param {object} vault the record from vault.js (already wrapped; safe to store) */
  async saveVault(vault) {
    await this._tx(["vault"], "readwrite", (tx) => req(tx.objectStore("vault").put(vault, VAULT_KEY)));
  }

  /** @returns {Promise<object|null>} */
  async loadVault() {
    const v = await this._tx(["vault"], "readonly", (tx) =>
      req(tx.objectStore("vault").get(VAULT_KEY)),
    );
    return v ?? null;
  }

  // ---------------------------------------------------------------- records

  /**
   * Store (replace) a record, encrypted.
   *
   * @param {string} type e.g. "interview"
   * @param {string} id
   * @param {number} version
   * @param {*} value JSON-serialisable
   */
  async putRecord(type, id, version, value) {
    const key = this._requireKey();
    checkType(type);
    checkId(id);
    checkVersion(version);
    const box = await encryptJSON(key, value, recordAad(type, id, version));
    await this._tx(["records"], "readwrite", (tx) =>
      req(tx.objectStore("records").put({ type, id, version, box })),
    );
  }

  /**
   * @param {string} type
   * @param {string} id
   * @returns {Promise<{type: string, id: string, version: number, value: *}|null>}
   */
  async getRecord(type, id) {
    const key = this._requireKey();
    checkType(type);
    checkId(id);
    const row = await this._tx(["records"], "readonly", (tx) =>
      req(tx.objectStore("records").get([type, id])),
    );
    return row ? this._openRecord(key, row) : null;
  }

  /**
   * @param {string} type
   * @returns {Promise<Array<{type: string, id: string, version: number, value: *}>>}
   */
  async listRecords(type) {
    const key = this._requireKey();
    checkType(type);
    const rows = await this._tx(["records"], "readonly", (tx) =>
      req(tx.objectStore("records").index("type").getAll(type)),
    );
    return Promise.all(rows.map((row) => this._openRecord(key, row)));
  }

  async _openRecord(key, row) {
    const value = await decryptJSON(key, row.box, recordAad(row.type, row.id, row.version));
    return { type: row.type, id: row.id, version: row.version, value };
  }

  /**
   * @param {string} type
   * @param {string} id
   */
  async deleteRecord(type, id) {
    this._requireKey();
    checkType(type);
    checkId(id);
    await this._tx(["records"], "readwrite", (tx) =>
      req(tx.objectStore("records").delete([type, id])),
    );
  }

  /**
   * A full pull: after this, the records of `type` are exactly `items` (others of that type are
   * deleted). One transaction, so a crash leaves either the old set or the new one.
   *
   * @param {string} type
   * @param {Array<{id: string, version: number, value: *}>} items
   */
  async replaceAll(type, items) {
    const key = this._requireKey();
    checkType(type);
    // Encrypt before the transaction: an await on WebCrypto inside it would let it auto-commit.
    const rows = await Promise.all(
      items.map(async ({ id, version, value }) => {
        checkId(id);
        checkVersion(version);
        return { type, id, version, box: await encryptJSON(key, value, recordAad(type, id, version)) };
      }),
    );
    const keep = new Set(rows.map((r) => String(r.id)));
    await this._tx(["records"], "readwrite", async (tx) => {
      const store = tx.objectStore("records");
      const existing = await req(store.index("type").getAllKeys(type));
      for (const pk of existing) {
        if (!keep.has(String(pk[1]))) store.delete(pk);
      }
      for (const row of rows) store.put(row);
    });
  }

  // ---------------------------------------------------------------- outbox

  /**
   * Queue a change for the server.
   *
   * Coalescing rule (so autosave does not pile up hundreds of mutations): if the newest queued
   * mutation for the same record is "pending" and has NEVER been handed to the server
   * (attempts === 0), it is rewritten in place with the new op and payload; it keeps its
   * mutationId, its place in the queue (seq) and its baseVersion (the version the first unsent
   * edit started from, so the server still sees any change made there since). Otherwise a new
   * mutation is queued behind it: a mutation that is "sending", or was sent before and is
   * waiting to retry, may already have been applied by the server, and its id must keep meaning
   * exactly what was sent (same id, same content is the server's idempotency rule). An
   * "attention" mutation stays as it is for the person to see.
   *
   * Payloads are therefore whole snapshots of the change, not deltas.
   *
   * @param {object} m
   * @param {string} m.mutationId new client-generated id (used unless coalesced)
   * @param {string} m.recordType
   * @param {string} m.recordId
   * @param {number|null} m.baseVersion
   * @param {string} [m.op] default "upsert"
   * @param {*} m.payload
   * @returns {Promise<{mutationId: string, seq: number, coalesced: boolean}>}
   */
  async enqueue({ mutationId, recordType, recordId, baseVersion = null, op = "upsert", payload }) {
    const key = this._requireKey();
    if (typeof mutationId !== "string" || !mutationId) throw new TypeError("mutationId required");
    checkType(recordType);
    checkId(recordId);
    return this._serialOutbox(async () => {
      for (let attempt = 0; attempt < ENQUEUE_TRIES; attempt += 1) {
        const result = await this._tryEnqueue(key, {
          mutationId, recordType, recordId, baseVersion, op, payload,
        });
        if (result) return result;
      }
      throw new Error("The outbox kept changing; try again.");
    });
  }

  async _tryEnqueue(key, { mutationId, recordType, recordId, baseVersion, op, payload }) {
    const latestFor = async (store) => {
      const rows = await req(store.index("record").getAll([recordType, recordId]));
      return rows.reduce((a, b) => (!a || b.seq > a.seq ? b : a), null);
    };
    const coalescable = (row) => row && row.status === STATUS.PENDING && !row.attempts;

    const latest = await this._tx(["outbox"], "readonly", (tx) => latestFor(tx.objectStore("outbox")));
    const now = Date.now();

    if (coalescable(latest)) {
      const old = await decryptJSON(key, latest.box, outboxAad(latest.mutationId));
      const box = await encryptJSON(
        key,
        { baseVersion: old.baseVersion, op, payload },
        outboxAad(latest.mutationId),
      );
      return this._tx(["outbox"], "readwrite", async (tx) => {
        const store = tx.objectStore("outbox");
        const current = await latestFor(store);
        // Another tab sent or replaced it meanwhile: decide again from the new state.
        if (!current || current.mutationId !== latest.mutationId || !coalescable(current) ||
            !sameBytes(current.box.iv, latest.box.iv)) {
          return null;
        }
        store.put({ ...current, box, editedAt: now, updatedAt: now });
        return { mutationId: current.mutationId, seq: current.seq, coalesced: true };
      });
    }

    const box = await encryptJSON(key, { baseVersion, op, payload }, outboxAad(mutationId));
    return this._tx(["outbox"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      const current = await latestFor(store);
      if ((current && current.mutationId) !== (latest && latest.mutationId) || coalescable(current)) {
        return null;
      }
      if (await req(store.count(mutationId))) throw new Error("mutationId already queued");
      const last = await req(store.index("seq").openCursor(null, "prev"));
      const seq = last ? last.value.seq + 1 : 1;
      store.put({
        mutationId,
        seq,
        recordType,
        recordId,
        status: STATUS.PENDING,
        attempts: 0,
        nextAttemptAt: 0,
        lastError: null,
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
   * @returns {Promise<Array<{mutationId: string, seq: number, recordType: string,
   *   recordId: string, status: string, attention: boolean, attempts: number,
   *   nextAttemptAt: number, lastError: object|null, baseVersion: number|null, op: string,
   *   payload: *}>>}
   */
  async pendingMutations() {
    const key = this._requireKey();
    const rows = await this._tx(["outbox"], "readonly", (tx) =>
      req(tx.objectStore("outbox").index("seq").getAll()),
    );
    return Promise.all(
      rows.map(async (row) => {
        const { box, ...envelope } = row;
        const inner = await decryptJSON(key, box, outboxAad(row.mutationId));
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
   * The sync client is about to send these. Counts an attempt: from now on the server may hold
   * them, so enqueue() will no longer rewrite them.
   *
   * @param {string[]} ids
   */
  async markSending(ids) {
    await this._updateOutbox(ids, (row, now) => {
      if (row.status === STATUS.ATTENTION) return null; // only the person puts it back
      return { ...row, status: STATUS.SENDING, attempts: (row.attempts || 0) + 1, updatedAt: now };
    });
  }

  /**
   * The server has it. The ONLY way a local mutation is deleted.
   *
   * @param {string} mutationId
   */
  async ack(mutationId) {
    await this._serialOutbox(() =>
      this._tx(["outbox"], "readwrite", (tx) => req(tx.objectStore("outbox").delete(mutationId))),
    );
  }

  /**
   * The server refused it for good: keep it, out of the sending queue, for the person.
   *
   * @param {string} mutationId
   * @param {{code: string, message: string, field?: string}} error generic server words only
   */
  async markAttention(mutationId, error = {}) {
    const lastError = safeError(error);
    await this._updateOutbox([mutationId], (row, now) => ({
      ...row,
      status: STATUS.ATTENTION,
      lastError,
      updatedAt: now,
    }));
  }

  /**
   * Back to "pending", not to be sent before nextAttemptAt (ms since epoch; 0 = now). Also how
   * an "attention" mutation is put back in the queue once the person has dealt with it.
   *
   * @param {string} mutationId
   * @param {number} nextAttemptAt
   */
  async markRetry(mutationId, nextAttemptAt = 0) {
    await this._updateOutbox([mutationId], (row, now) => ({
      ...row,
      status: STATUS.PENDING,
      nextAttemptAt: Number(nextAttemptAt) || 0,
      updatedAt: now,
    }));
  }

  /**
   * After the server accepted a change to a record as `toVersion`, queued edits to the same
   * record that were based on `fromBase` now continue from `toVersion` (they were made on this
   * device, on top of the accepted change; they must not conflict with ourselves).
   *
   * @param {string} recordType
   * @param {string} recordId
   * @param {number|null} fromBase
   * @param {number} toVersion
   * @returns {Promise<number>} how many were rebased
   */
  async rebase(recordType, recordId, fromBase, toVersion) {
    const key = this._requireKey();
    return this._serialOutbox(async () => {
      const rows = await this._tx(["outbox"], "readonly", (tx) =>
        req(tx.objectStore("outbox").index("record").getAll([recordType, recordId])),
      );
      const updates = [];
      for (const row of rows) {
        if (row.status !== STATUS.PENDING) continue;
        const inner = await decryptJSON(key, row.box, outboxAad(row.mutationId));
        if (inner.baseVersion !== fromBase) continue;
        const box = await encryptJSON(
          key,
          { ...inner, baseVersion: toVersion },
          outboxAad(row.mutationId),
        );
        updates.push({ row, box });
      }
      if (!updates.length) return 0;
      return this._tx(["outbox"], "readwrite", async (tx) => {
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

  // change(row, now) returns the new row, or null to leave it as it is.
  async _updateOutbox(ids, change) {
    await this._serialOutbox(() =>
      this._tx(["outbox"], "readwrite", async (tx) => {
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
   * Needs no key, so the unlock screen can say "3 not yet sent".
   *
   * @returns {Promise<{pending: number, attention: number}>} pending counts "pending" and
   *   "sending" (neither acknowledged yet); attention counts those needing the person
   */
  async counts() {
    return this._tx(["outbox"], "readonly", async (tx) => {
      const byStatus = tx.objectStore("outbox").index("status");
      const [pending, sending, attention] = await Promise.all(
        [STATUS.PENDING, STATUS.SENDING, STATUS.ATTENTION].map((s) => req(byStatus.count(s))),
      );
      return { pending: pending + sending, attention };
    });
  }

  // ---------------------------------------------------------------- conflicts

  /**
   * Keep both sides of a conflict for the person to choose. Only the envelope stays in clear.
   *
   * @param {{conflictId: string, recordType: string, recordId: string, serverVersion?: number,
   *   at?: number, local?: *, server?: *}} conflict
   */
  async putConflict({ conflictId, recordType, recordId, serverVersion = null, at, ...content }) {
    const key = this._requireKey();
    if (typeof conflictId !== "string" || !conflictId) throw new TypeError("conflictId required");
    checkType(recordType);
    checkId(recordId);
    const box = await encryptJSON(key, content, conflictAad(conflictId));
    const row = { conflictId, recordType, recordId, serverVersion, at: at ?? Date.now(), box };
    await this._tx(["conflicts"], "readwrite", (tx) => req(tx.objectStore("conflicts").put(row)));
  }

  /** @returns {Promise<object[]>} decrypted conflicts, oldest first */
  async listConflicts() {
    const key = this._requireKey();
    const rows = await this._tx(["conflicts"], "readonly", (tx) =>
      req(tx.objectStore("conflicts").getAll()),
    );
    const out = await Promise.all(
      rows.map(async ({ box, ...envelope }) => ({
        ...(await decryptJSON(key, box, conflictAad(envelope.conflictId))),
        ...envelope,
      })),
    );
    return out.sort((a, b) => a.at - b.at);
  }

  /** @param {string} conflictId */
  async deleteConflict(conflictId) {
    this._requireKey();
    await this._tx(["conflicts"], "readwrite", (tx) =>
      req(tx.objectStore("conflicts").delete(conflictId)),
    );
  }

  // ---------------------------------------------------------------- meta

  /**
   * Sync bookkeeping in clear (cursor, lastSync, deviceId). Never put personal data here.
   *
   * @param {string} k
   */
  async getMeta(k) {
    const v = await this._tx(["meta"], "readonly", (tx) => req(tx.objectStore("meta").get(k)));
    return v ?? null;
  }

  /**
   * @param {string} k
   * @param {*} v structured-cloneable, nothing personal
   */
  async setMeta(k, v) {
    await this._tx(["meta"], "readwrite", (tx) => req(tx.objectStore("meta").put(v, k)));
  }

  /** @returns {Promise<{usage?: number, quota?: number}|null>} null where unsupported */
  async estimate() {
    if (!(navigator.storage && navigator.storage.estimate)) return null;
    return navigator.storage.estimate();
  }
}

async function deleteByName(name) {
  for (const store of [...(live.get(name) || [])]) store.close();
  const request = indexedDB.deleteDatabase(name);
  await new Promise((resolve, reject) => {
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // Another tab still has it open (and has not honoured versionchange yet): the delete is
    // queued and will finish when that tab lets go. Do not hang the caller until then.
    request.onblocked = () => resolve();
  });
}
