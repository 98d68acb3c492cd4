// @ts-check
// The only code that calls `indexedDB`: opening, transactions, deleting and listing databases.
// What lives in each object store, and how it is encrypted, is in the small module named after
// it (records.js, outbox.js, conflicts.js, meta.js, vault.js); device.js puts them together.
//
// One database per signed-in user, named by the server's opaque user id (never a name or an
// email: database names are readable by anyone holding the phone, through the browser's own
// developer tools).

export const DB_PREFIX = "homeward-u-";
const DB_VERSION = 1;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The database connection was closed: wiped, or deleted by another tab. */
export class StoreClosedError extends Error {
  constructor() {
    super("This device's Homeward store has been closed.");
    this.name = "StoreClosedError";
  }
}

/**
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 */
export function req(request) {
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

/**
 * @param {string} userId
 * @returns {string}
 */
function dbName(userId) {
  // A guard as much as a check: an email or a name must never become a database name.
  if (typeof userId !== "string" || !UUID.test(userId)) {
    throw new TypeError("userId must be the server's opaque UUID");
  }
  return `${DB_PREFIX}${userId.toLowerCase()}`;
}

/**
 * @param {IDBDatabase} db
 * @param {number} oldVersion
 */
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

// Open connections by database name, so a wipe can close this tab's own first (an open
// connection would otherwise block deleteDatabase until the page goes away).
/** @type {Map<string, Set<Database>>} */
const live = new Map();

/** One open connection to a user's database. */
export class Database {
  /** @param {IDBDatabase} idb */
  constructor(idb) {
    this._idb = idb;
    this.name = idb.name;
    this.closed = false;
    /** @type {() => void} called once when the connection goes, whoever closed it */
    this.onclose = () => {};
    idb.onversionchange = () => this.close(); // another tab wants to delete or upgrade: let it
    idb.onclose = () => this._markClosed(); // the browser closed it (e.g. site data cleared)
    if (!live.has(this.name)) live.set(this.name, new Set());
    live.get(this.name).add(this);
  }

  close() {
    if (!this.closed) this._idb.close();
    this._markClosed();
  }

  _markClosed() {
    const first = !this.closed;
    this.closed = true;
    const set = live.get(this.name);
    if (set) {
      set.delete(this);
      if (!set.size) live.delete(this.name);
    }
    if (first) this.onclose();
  }

  /**
   * Run fn inside one transaction and resolve with its result only after the commit.
   *
   * Writes ask for "strict" durability: a worker's unsent interview must survive the phone
   * dying a moment after "Saved on this device" appears. fn must not await anything but
   * requests of this transaction (an await on WebCrypto would let it auto-commit).
   *
   * @template T
   * @param {string[]} names object stores
   * @param {IDBTransactionMode} mode
   * @param {(tx: IDBTransaction) => Promise<T> | T} fn
   * @returns {Promise<T>}
   */
  async tx(names, mode, fn) {
    if (this.closed) throw new StoreClosedError();
    /** @type {IDBTransactionOptions | undefined} */
    const options = mode === "readwrite" ? { durability: "strict" } : undefined;
    const tx = this._idb.transaction(names, mode, options);
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
}

/**
 * Open (creating if needed) a user's database.
 *
 * @param {string} userId opaque UUID from the server
 * @returns {Promise<Database>}
 */
export async function openDatabase(userId) {
  const request = indexedDB.open(dbName(userId), DB_VERSION);
  request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion);
  return new Database(await req(request));
}

/** @param {string} name */
async function deleteByName(name) {
  for (const db of [...(live.get(name) || [])]) db.close();
  const request = indexedDB.deleteDatabase(name);
  await new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(undefined);
    request.onerror = () => reject(request.error);
    // Another tab still has it open (and has not honoured versionchange yet): the delete is
    // queued and will finish when that tab lets go. Do not hang the caller until then.
    request.onblocked = () => resolve(undefined);
  });
}

/**
 * Delete a user's database. Resolves once deleted, or once the deletion is merely blocked by
 * another tab's connection (it completes when that tab lets go; our own are closed first).
 *
 * @param {string} userId
 * @returns {Promise<void>}
 */
export async function deleteDatabase(userId) {
  await deleteByName(dbName(userId));
}

/** @returns {Promise<string[]>} every Homeward database name in this browser profile */
async function homewardNames() {
  const names = new Set(live.keys());
  if (indexedDB.databases) {
    for (const info of await indexedDB.databases()) {
      if (info.name && info.name.startsWith(DB_PREFIX)) names.add(info.name);
    }
  }
  return [...names];
}

/**
 * Delete every Homeward database in this browser profile (any user).
 *
 * @returns {Promise<string[]>} the names deleted
 */
export async function deleteAll() {
  const names = await homewardNames();
  for (const name of names) await deleteByName(name);
  return names;
}

/**
 * Offline start: whose stores are on this device? Database names carry only the opaque id.
 *
 * @returns {Promise<string[]>}
 */
export async function localUserIds() {
  if (!indexedDB.databases) return [];
  return (await homewardNames()).map((n) => n.slice(DB_PREFIX.length));
}
