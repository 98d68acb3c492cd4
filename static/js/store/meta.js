// @ts-check
// The "meta" object store: sync bookkeeping in clear (cursor, lastSync, deviceId). Nothing
// personal ever goes here, which is why it needs no key.

import { req } from "./db.js";

/** @typedef {import("./db.js").Database} Database */

/**
 * @param {Database} db
 * @param {string} k
 * @returns {Promise<any>}
 */
export async function get(db, k) {
  const v = await db.tx(["meta"], "readonly", (tx) => req(tx.objectStore("meta").get(k)));
  return v ?? null;
}

/**
 * @param {Database} db
 * @param {string} k
 * @param {any} v structured-cloneable, nothing personal
 */
export async function set(db, k, v) {
  await db.tx(["meta"], "readwrite", (tx) => req(tx.objectStore("meta").put(v, k)));
}
