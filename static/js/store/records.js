// @ts-check
// The "records" object store: the server's copies of records, any type, each an AES-GCM box.
//   { type, id, version, box }   key [type, id]; index "type"
//   AAD `records:${type}:${id}:${version}` binds a box to its row.

import { decryptJSON, encryptJSON } from "../crypto/vault.js";
import { checkId, checkType, checkVersion } from "./checks.js";
import { req } from "./db.js";

/** @typedef {import("./db.js").Database} Database */
/** @typedef {{type: string, id: string, version: number, value: any}} StoredRecord */

/**
 * @param {string} type
 * @param {string} id
 * @param {number} version
 */
const aad = (type, id, version) => `records:${type}:${id}:${version}`;

/**
 * @param {CryptoKey} key
 * @param {{type: string, id: string, version: number, box: any}} row
 * @returns {Promise<StoredRecord>}
 */
async function open(key, row) {
  const value = await decryptJSON(key, row.box, aad(row.type, row.id, row.version));
  return { type: row.type, id: row.id, version: row.version, value };
}

/**
 * Store (replace) a record, encrypted.
 *
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {string} type
 * @param {string} id
 * @param {number} version
 * @param {any} value JSON-serialisable
 */
export async function put(db, key, type, id, version, value) {
  checkType(type);
  checkId(id);
  checkVersion(version);
  const box = await encryptJSON(key, value, aad(type, id, version));
  await db.tx(["records"], "readwrite", (tx) =>
    req(tx.objectStore("records").put({ type, id, version, box })),
  );
}

/**
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {string} type
 * @param {string} id
 * @returns {Promise<StoredRecord | null>}
 */
export async function get(db, key, type, id) {
  checkType(type);
  checkId(id);
  const row = await db.tx(["records"], "readonly", (tx) =>
    req(tx.objectStore("records").get([type, id])),
  );
  return row ? open(key, row) : null;
}

/**
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {string} type
 * @returns {Promise<StoredRecord[]>}
 */
export async function list(db, key, type) {
  checkType(type);
  const rows = await db.tx(["records"], "readonly", (tx) =>
    req(tx.objectStore("records").index("type").getAll(type)),
  );
  return Promise.all(rows.map((row) => open(key, row)));
}

/**
 * @param {Database} db
 * @param {string} type
 * @param {string} id
 */
export async function remove(db, type, id) {
  checkType(type);
  checkId(id);
  await db.tx(["records"], "readwrite", (tx) => req(tx.objectStore("records").delete([type, id])));
}

/**
 * A full pull: after this, the records of `type` are exactly `items` (others of that type are
 * deleted). One transaction, so a crash leaves either the old set or the new one.
 *
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {string} type
 * @param {Array<{id: string, version: number, value: any}>} items
 */
export async function replaceAll(db, key, type, items) {
  checkType(type);
  // Encrypt before the transaction: an await on WebCrypto inside it would let it auto-commit.
  const rows = await Promise.all(
    items.map(async ({ id, version, value }) => {
      checkId(id);
      checkVersion(version);
      return { type, id, version, box: await encryptJSON(key, value, aad(type, id, version)) };
    }),
  );
  const keep = new Set(rows.map((r) => String(r.id)));
  await db.tx(["records"], "readwrite", async (tx) => {
    const store = tx.objectStore("records");
    const existing = await req(store.index("type").getAllKeys(type));
    for (const pk of existing) {
      if (Array.isArray(pk) && !keep.has(String(pk[1]))) store.delete(pk);
    }
    for (const row of rows) store.put(row);
  });
}
