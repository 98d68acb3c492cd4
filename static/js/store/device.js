// @ts-check
// The encrypted store on this device for one user: the object-store modules put together with
// the key held in memory. Generic over record types: nothing here knows what an interview is.
//
// Methods that read or write personal data (records, queued payloads, conflicts) throw
// LockedError while no key is set. Envelope-only methods work while locked because they need no
// key and reveal nothing: the vault itself, counts(), meta, estimate(), and the queue
// bookkeeping the sync client does with a server reply (markSending, ack, markRetry,
// markAttention): the screen can lock while a request is in flight, and an acknowledgement
// that arrives then must still be recorded.

import * as conflicts from "./conflicts.js";
import { LockedError } from "./checks.js";
import { deleteAll, deleteDatabase, localUserIds, openDatabase, StoreClosedError } from "./db.js";
import * as meta from "./meta.js";
import * as outbox from "./outbox.js";
import * as records from "./records.js";
import * as vaultStore from "./vault.js";

export { LockedError, StoreClosedError };
export const STATUS = outbox.STATUS;

export class DeviceStore {
  /**
   * @param {import("./db.js").Database} db
   * @param {string} userId
   */
  constructor(db, userId) {
    this._db = db;
    this.userId = userId;
    /** @type {CryptoKey|null} */
    this._key = null;
    db.onclose = () => { this._key = null; };
  }

  /**
   * Open (creating if needed) the store for a user.
   *
   * @param {string} userId opaque UUID from the server
   * @returns {Promise<DeviceStore>}
   */
  static async open(userId) {
    return new DeviceStore(await openDatabase(userId), userId);
  }

  /** @param {string} userId */
  static wipe(userId) {
    return deleteDatabase(userId);
  }

  /** Delete every Homeward database in this browser profile (any user). */
  static wipeAll() {
    return deleteAll();
  }

  /** Offline start: the ids of the users whose stores are on this device. */
  static localUserIds() {
    return localUserIds();
  }

  /** Close the connection and forget the key. */
  close() {
    this._key = null;
    this._db.close();
  }

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

  get isUnlocked() {
    return this._key !== null;
  }

  /** @returns {CryptoKey} */
  _requireKey() {
    if (this._db.closed) throw new StoreClosedError();
    if (!this._key) throw new LockedError();
    return this._key;
  }

  // vault
  async hasVault() { return (await this.loadVault()) != null; }
  /** @param {import("../crypto/vault.js").Vault} vault already wrapped by crypto/vault.js */
  saveVault(vault) { return vaultStore.save(this._db, vault); }
  loadVault() { return vaultStore.load(this._db); }

  // records
  /** @param {string} type @param {string} id @param {number} version @param {any} value */
  async putRecord(type, id, version, value) { return records.put(this._db, this._requireKey(), type, id, version, value); }
  /** @param {string} type @param {string} id */
  async getRecord(type, id) { return records.get(this._db, this._requireKey(), type, id); }
  /** @param {string} type */
  async listRecords(type) { return records.list(this._db, this._requireKey(), type); }
  /** @param {string} type @param {string} id */
  async deleteRecord(type, id) { this._requireKey(); return records.remove(this._db, type, id); }
  /** @param {string} type @param {Array<{id: string, version: number, value: any}>} items */
  async replaceAll(type, items) { return records.replaceAll(this._db, this._requireKey(), type, items); }

  // outbox
  /** @param {Parameters<typeof outbox.enqueue>[2]} m */
  async enqueue(m) { return outbox.enqueue(this._db, this._requireKey(), m); }
  async pendingMutations() { return outbox.pending(this._db, this._requireKey()); }

  /**
   * The sync client is about to send these. Counts an attempt: from now on the server may hold
   * them, so enqueue() will no longer rewrite them.
   *
   * @param {string[]} ids
   */
  markSending(ids) {
    return outbox.update(this._db, ids, (row, now) => {
      if (row.status === STATUS.ATTENTION) return null; // only the person puts it back
      return { ...row, status: STATUS.SENDING, attempts: (row.attempts || 0) + 1, updatedAt: now };
    });
  }

  /** @param {string} mutationId */
  ack(mutationId) { return outbox.ack(this._db, mutationId); }

  /**
   * The server refused it for good: keep it, out of the sending queue, for the person.
   *
   * @param {string} mutationId
   * @param {{code?: string, message?: string, field?: string|null}} [error] generic words only
   */
  markAttention(mutationId, error = {}) {
    const lastError = outbox.safeError(error);
    return outbox.update(this._db, [mutationId], (row, now) => ({
      ...row, status: STATUS.ATTENTION, lastError, updatedAt: now,
    }));
  }

  /**
   * Back to "pending", not to be sent before nextAttemptAt (ms since epoch; 0 = now). Also how
   * an "attention" mutation is put back in the queue once the person has dealt with it.
   *
   * @param {string} mutationId
   * @param {number} [nextAttemptAt]
   */
  markRetry(mutationId, nextAttemptAt = 0) {
    return outbox.update(this._db, [mutationId], (row, now) => ({
      ...row, status: STATUS.PENDING, nextAttemptAt: Number(nextAttemptAt) || 0, updatedAt: now,
    }));
  }

  /**
   * @param {string} recordType @param {string} recordId
   * @param {number|null} fromBase @param {number} toVersion
   */
  async rebase(recordType, recordId, fromBase, toVersion) {
    return outbox.rebase(this._db, this._requireKey(), recordType, recordId, fromBase, toVersion);
  }

  counts() { return outbox.counts(this._db); }

  // conflicts
  /** @param {Parameters<typeof conflicts.put>[2]} conflict */
  async putConflict(conflict) { return conflicts.put(this._db, this._requireKey(), conflict); }
  async listConflicts() { return conflicts.list(this._db, this._requireKey()); }
  /** @param {string} conflictId */
  async deleteConflict(conflictId) { this._requireKey(); return conflicts.remove(this._db, conflictId); }

  // meta: sync bookkeeping in clear (cursor, lastSync, deviceId); never anything personal
  /** @param {string} k */
  getMeta(k) { return meta.get(this._db, k); }
  /** @param {string} k @param {any} v */
  setMeta(k, v) { return meta.set(this._db, k, v); }

  /** @returns {Promise<StorageEstimate|null>} null where unsupported */
  async estimate() {
    if (!(navigator.storage && navigator.storage.estimate)) return null;
    return navigator.storage.estimate();
  }
}
