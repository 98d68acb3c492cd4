// @ts-check
// The "conflicts" object store: both sides of a clash, kept for the person to choose.
//   { conflictId, recordType, recordId, serverVersion, at, box }   key conflictId
//   AAD `conflicts:${conflictId}`; box = everything but the envelope (local, server, ...)

import { decryptJSON, encryptJSON } from "../crypto/vault.js";
import { checkId, checkType } from "./checks.js";
import { req } from "./db.js";

/** @typedef {import("./db.js").Database} Database */
/**
 * Both sides of a clash, as the sync client stores it and the screens show it (decrypted).
 *
 * @typedef {object} Conflict
 * @property {string} conflictId the server's, so its copy of the losing side can be found
 * @property {string} recordType
 * @property {string} recordId
 * @property {number|null} serverVersion the version the server holds: "keep mine" builds on it
 * @property {number} at when it was stored (ms)
 * @property {any} local the payload this device sent, or null
 * @property {any} server the server's copy (its server_payload)
 */

/** @param {string} conflictId */
const aad = (conflictId) => `conflicts:${conflictId}`;

/**
 * Only the envelope stays in clear.
 *
 * @param {Database} db
 * @param {CryptoKey} key
 * @param {{conflictId: string, recordType: string, recordId: string, serverVersion?: number|null,
 *   at?: number, [content: string]: any}} conflict
 */
export async function put(db, key, { conflictId, recordType, recordId, serverVersion = null, at, ...content }) {
  if (typeof conflictId !== "string" || !conflictId) throw new TypeError("conflictId required");
  checkType(recordType);
  checkId(recordId);
  const box = await encryptJSON(key, content, aad(conflictId));
  const row = { conflictId, recordType, recordId, serverVersion, at: at ?? Date.now(), box };
  await db.tx(["conflicts"], "readwrite", (tx) => req(tx.objectStore("conflicts").put(row)));
}

/**
 * @param {Database} db
 * @param {CryptoKey} key
 * @returns {Promise<Conflict[]>} decrypted conflicts, oldest first
 */
export async function list(db, key) {
  const rows = await db.tx(["conflicts"], "readonly", (tx) =>
    req(tx.objectStore("conflicts").getAll()),
  );
  const out = await Promise.all(
    rows.map(async ({ box, ...envelope }) => ({
      ...(await decryptJSON(key, box, aad(envelope.conflictId))),
      ...envelope,
    })),
  );
  return out.sort((a, b) => a.at - b.at);
}

/**
 * @param {Database} db
 * @param {string} conflictId
 */
export async function remove(db, conflictId) {
  await db.tx(["conflicts"], "readwrite", (tx) => req(tx.objectStore("conflicts").delete(conflictId)));
}
