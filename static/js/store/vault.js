// @ts-check
// The "vault" object store: one record, the data key wrapped by ../crypto/vault.js (safe to
// store: without the passphrase or the server's recovery key it opens nothing).

import { req } from "./db.js";

/** @typedef {import("./db.js").Database} Database */
/** @typedef {import("../crypto/vault.js").Vault} Vault */

const VAULT_KEY = "vault";

/**
 * @param {Database} db
 * @param {Vault} vault
 */
export async function save(db, vault) {
  await db.tx(["vault"], "readwrite", (tx) => req(tx.objectStore("vault").put(vault, VAULT_KEY)));
}

/**
 * @param {Database} db
 * @returns {Promise<Vault | null>}
 */
export async function load(db) {
  const v = await db.tx(["vault"], "readonly", (tx) => req(tx.objectStore("vault").get(VAULT_KEY)));
  return v ?? null;
}
