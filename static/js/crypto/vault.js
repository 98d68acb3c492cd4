// @ts-check
// The only code that touches keys.
//
// Why a vault: a phone that someone picks up must not give them a child's story. Everything the
// device store keeps is encrypted with one random AES-GCM "data key". That key is never written
// to disk as itself: on disk there is only the key *wrapped* (encrypted) by a key derived from
// the worker's passphrase. While unlocked, the data key lives in memory as a NON-extractable
// CryptoKey, so even script running in the page cannot read its bytes out.
//
// Changing the passphrase (or raising the KDF cost) re-wraps the same data key, so nothing
// already stored has to be re-encrypted.

/** PBKDF2-SHA256 at 600,000 iterations: the OWASP (2023) minimum for this hash. */
export const KDF_DEFAULTS = Object.freeze({ name: "PBKDF2", hash: "SHA-256", iterations: 600000 });

// Below this a "vault" protects nothing; it only exists so tests can run quickly.
const MIN_ITERATIONS = 1000;
const SALT_BYTES = 16;
const IV_BYTES = 12; // the AES-GCM standard nonce size; anything else is hashed to 12 anyway
const VAULT_VERSION = 1;
// Additional data binds each wrapping to its purpose: a passphrase wrapping cannot be passed off
// as a recovery wrapping, or as an ordinary record, and vice versa.
const VAULT_AAD = "homeward-vault-v1";
const RECOVERY_AAD = "homeward-vault-recovery-v1";
const DATA_KEY_ALG = { name: "AES-GCM", length: 256 };

/**
 * PBKDF2 parameters, kept in clear with the vault (they are not secret).
 *
 * @typedef {object} Kdf
 * @property {string} name "PBKDF2"
 * @property {string} hash "SHA-256"
 * @property {number} iterations
 * @property {Uint8Array<ArrayBuffer>} salt
 */
/** @typedef {{iv: Uint8Array<ArrayBuffer>, data: ArrayBuffer}} WrappedKey the data key, encrypted */
/**
 * The vault record the device store keeps (store/vault.js): the data key wrapped under the
 * passphrase and, when the server gave one, under the recovery key. Opens nothing by itself.
 *
 * @typedef {object} Vault
 * @property {number} v VAULT_VERSION
 * @property {Kdf} kdf
 * @property {WrappedKey} wrapped under the passphrase's key
 * @property {WrappedKey} [recovery] under the server-held recovery key
 * @property {number} createdAt
 * @property {number} [updatedAt]
 */
/**
 * An encrypted value (encryptJSON); the device store keeps one per row.
 *
 * @typedef {{iv: Uint8Array<ArrayBuffer>, ct: ArrayBuffer}} Box
 */

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The passphrase did not unwrap the data key. */
export class WrongPassphraseError extends Error {
  constructor() {
    super("That passphrase is not right.");
    this.name = "WrongPassphraseError";
  }
}

/** A box failed authentication: tampered with, wrong key, or wrong additional data. */
export class DecryptError extends Error {
  constructor(message = "This data could not be decrypted.") {
    super(message);
    this.name = "DecryptError";
  }
}

/** The recovery key did not unwrap the data key, or the vault has no recovery wrapping. */
export class RecoveryError extends Error {
  constructor(message = "This device's data cannot be recovered with that key.") {
    super(message);
    this.name = "RecoveryError";
  }
}

/**
 * A passphrase rule the user can meet on a phone keyboard.
 *
 * At least 8 characters, and nothing more clever: the passphrase only protects data at rest on a
 * device that also has its own screen lock, guessing is slowed by PBKDF2, and composition rules
 * (digits, symbols) make people write passphrases down without making them much stronger
 * (NIST SP 800-63B drops them for the same reason). Length is counted in characters as a person
 * sees them, not UTF-16 units.
 *
 * @param {string} p
 * @returns {string|null} an error message for the form, or null when acceptable
 */
export function validatePassphrase(p) {
  if (typeof p !== "string" || p.length === 0) return "Enter a passphrase";
  if ([...normalise(p)].length < 8) return "Passphrase must be 8 characters or more";
  return null;
}

/**
 * Make a new vault: a fresh random data key, wrapped under the passphrase.
 *
 * @param {string} passphrase
 * @param {object} [options]
 * @param {number} [options.iterations] PBKDF2 iterations (default KDF_DEFAULTS.iterations)
 * @param {string|null} [options.recoveryKey] base64url AES-256 key from the server; when given,
 *   the data key is also wrapped under it so a forgotten passphrase does not lose unsent work
 * @returns {Promise<{vault: Vault, dataKey: CryptoKey}>} `vault` is the record to persist;
 *   `dataKey` is non-extractable and must stay in memory only
 */
export async function createVault(passphrase, { iterations, recoveryKey = null } = {}) {
  const problem = validatePassphrase(passphrase);
  if (problem) throw new TypeError(problem);
  // Extractable only so it can be wrapped below; this reference never leaves this function.
  const extractable = await subtle.generateKey(DATA_KEY_ALG, true, ["encrypt", "decrypt"]);
  const vault = await wrapUnderPassphrase(extractable, passphrase, iterations, Date.now());
  if (recoveryKey) vault.recovery = await wrapUnderRecovery(extractable, recoveryKey);
  // Hand out a non-extractable copy, made by unwrapping what we just wrapped: that also proves
  // the stored record opens before anyone relies on it.
  const dataKey = await unwrapData(vault, await deriveKek(passphrase, vault.kdf), false);
  return { vault, dataKey };
}

/**
 * Unwrap the data key with the passphrase.
 *
 * @param {Vault} vault the record made by createVault / changePassphrase
 * @param {string} passphrase
 * @returns {Promise<CryptoKey>} non-extractable AES-GCM key (encrypt/decrypt)
 * @throws {WrongPassphraseError}
 */
export async function unlockVault(vault, passphrase) {
  checkVault(vault);
  const kek = await deriveKek(passphrase, vault.kdf);
  try {
    return await unwrapData(vault, kek, false);
  } catch (err) {
    // AES-GCM cannot tell "wrong key" from "tampered record": both fail authentication. For the
    // person at the unlock screen the useful answer is the same.
    if (err && err.name === "OperationError") throw new WrongPassphraseError();
    throw err;
  }
}

/**
 * Re-wrap the SAME data key under a new passphrase (and/or new KDF parameters), so records
 * already stored stay readable. A fresh salt is used every time.
 *
 * @param {Vault} vault
 * @param {string} oldPass
 * @param {string} newPass
 * @param {object} [options]
 * @param {number} [options.iterations] default KDF_DEFAULTS.iterations
 * @param {string|null} [options.recoveryKey] add or replace the recovery wrapping; when omitted an
 *   existing recovery wrapping is kept (it wraps the same data key, so it stays valid)
 * @returns {Promise<Vault>} the new vault record to persist
 * @throws {WrongPassphraseError} when oldPass is wrong
 */
export async function changePassphrase(vault, oldPass, newPass, { iterations, recoveryKey } = {}) {
  checkVault(vault);
  const problem = validatePassphrase(newPass);
  if (problem) throw new TypeError(problem);
  let extractable;
  try {
    extractable = await unwrapData(vault, await deriveKek(oldPass, vault.kdf), true);
  } catch (err) {
    if (err && err.name === "OperationError") throw new WrongPassphraseError();
    throw err;
  }
  return rewrap(vault, extractable, newPass, { iterations, recoveryKey });
}

/**
 * True when the vault's KDF is weaker than today's defaults, so the caller can re-wrap it with
 * upgradeVault at the next successful unlock (the only moment the passphrase is at hand).
 *
 * @param {Vault | null | undefined} vault
 * @returns {boolean}
 */
export function needsUpgrade(vault) {
  /** @type {Partial<Kdf>} */
  const kdf = (vault && vault.kdf) || {};
  return (
    kdf.name !== KDF_DEFAULTS.name ||
    kdf.hash !== KDF_DEFAULTS.hash ||
    !(kdf.iterations >= KDF_DEFAULTS.iterations)
  );
}

/**
 * Re-wrap under the same passphrase with KDF_DEFAULTS (and a fresh salt).
 *
 * @param {Vault} vault
 * @param {string} passphrase
 * @returns {Promise<Vault>} the new vault record to persist
 */
export async function upgradeVault(vault, passphrase) {
  return changePassphrase(vault, passphrase, passphrase, { iterations: KDF_DEFAULTS.iterations });
}

/**
 * Unwrap the data key with the server-held recovery key (forgotten passphrase).
 *
 * @param {Vault} vault
 * @param {string} recoveryKey base64url AES-256 key
 * @returns {Promise<CryptoKey>} non-extractable data key
 * @throws {RecoveryError}
 */
export async function unlockWithRecovery(vault, recoveryKey) {
  return unwrapRecovery(vault, recoveryKey, false);
}

/**
 * Set a new passphrase using the recovery key instead of the old passphrase. The data key, and
 * so every stored record, stays the same.
 *
 * @param {Vault} vault
 * @param {string} recoveryKey
 * @param {string} newPass
 * @param {object} [options]
 * @param {number} [options.iterations]
 * @returns {Promise<Vault>} the new vault record to persist
 * @throws {RecoveryError}
 */
export async function resetPassphrase(vault, recoveryKey, newPass, { iterations } = {}) {
  const problem = validatePassphrase(newPass);
  if (problem) throw new TypeError(problem);
  const extractable = await unwrapRecovery(vault, recoveryKey, true);
  return rewrap(vault, extractable, newPass, { iterations });
}

/**
 * Encrypt a JSON-serialisable value. A fresh random IV every call: AES-GCM with a repeated IV
 * under one key leaks the XOR of plaintexts and lets an attacker forge tags.
 *
 * @param {CryptoKey} dataKey
 * @param {*} value anything JSON.stringify accepts
 * @param {string} aad what this box is, e.g. `records:${type}:${id}:${version}`; the same string
 *   is needed to decrypt, so a box copied to another row or version fails authentication
 * @returns {Promise<Box>}
 */
export async function encryptJSON(dataKey, value, aad) {
  checkAad(aad);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = await subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8.encode(aad) },
    dataKey,
    utf8.encode(JSON.stringify(value)),
  );
  return { iv, ct };
}

/**
 * Decrypt a box made by encryptJSON.
 *
 * @param {CryptoKey} dataKey
 * @param {Box} box
 * @param {string} aad must equal the aad used to encrypt
 * @returns {Promise<*>}
 * @throws {DecryptError} on tampering, the wrong key or the wrong aad
 */
export async function decryptJSON(dataKey, box, aad) {
  checkAad(aad);
  if (!box || !box.iv || !box.ct) throw new DecryptError("This data is not an encrypted box.");
  let plain;
  try {
    plain = await subtle.decrypt(
      { name: "AES-GCM", iv: box.iv, additionalData: utf8.encode(aad) },
      dataKey,
      box.ct,
    );
  } catch (_) {
    // Never say more than "it failed": the reason is not useful to anyone but an attacker.
    throw new DecryptError();
  }
  return JSON.parse(fromUtf8.decode(plain));
}

// ------------------------------------------------------------------ internals

// The same passphrase typed on two keyboards can arrive as different Unicode sequences
// ("é" as one code point or as "e" + combining accent). NFC makes them the same bytes.
/** @param {string} passphrase */
function normalise(passphrase) {
  return String(passphrase).normalize("NFC");
}

/** @param {unknown} aad */
function checkAad(aad) {
  // Required, never defaulted: a box without context could be swapped with any other box.
  if (typeof aad !== "string" || aad.length === 0) throw new TypeError("aad must be a string");
}

/** @param {Vault} vault */
function checkVault(vault) {
  if (
    !vault ||
    vault.v !== VAULT_VERSION ||
    !vault.kdf ||
    vault.kdf.name !== "PBKDF2" ||
    !vault.wrapped
  ) {
    throw new TypeError("Unsupported vault record");
  }
}

/**
 * @param {number} iterations
 * @returns {number}
 */
function checkIterations(iterations) {
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) {
    throw new RangeError(`iterations must be an integer >= ${MIN_ITERATIONS}`);
  }
  return iterations;
}

/**
 * @param {string} passphrase
 * @param {Kdf} kdf
 * @returns {Promise<CryptoKey>} wraps and unwraps only
 */
async function deriveKek(passphrase, kdf) {
  const base = await subtle.importKey("raw", utf8.encode(normalise(passphrase)), "PBKDF2", false, [
    "deriveKey",
  ]);
  return subtle.deriveKey(
    { name: "PBKDF2", hash: kdf.hash, salt: kdf.salt, iterations: kdf.iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["wrapKey", "unwrapKey"],
  );
}

/**
 * @param {CryptoKey} kek
 * @param {CryptoKey} extractable the data key
 * @param {string} aad
 * @returns {Promise<WrappedKey>}
 */
async function wrapWith(kek, extractable, aad) {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const data = await subtle.wrapKey("raw", extractable, kek, {
    name: "AES-GCM",
    iv,
    additionalData: utf8.encode(aad),
  });
  return { iv, data };
}

/**
 * @param {CryptoKey} kek
 * @param {WrappedKey} wrapped
 * @param {string} aad
 * @param {boolean} extractable
 * @returns {Promise<CryptoKey>} the data key
 */
function unwrapWith(kek, wrapped, aad, extractable) {
  return subtle.unwrapKey(
    "raw",
    wrapped.data,
    kek,
    { name: "AES-GCM", iv: wrapped.iv, additionalData: utf8.encode(aad) },
    DATA_KEY_ALG,
    extractable,
    ["encrypt", "decrypt"],
  );
}

/**
 * @param {Vault} vault
 * @param {CryptoKey} kek
 * @param {boolean} extractable
 */
function unwrapData(vault, kek, extractable) {
  return unwrapWith(kek, vault.wrapped, VAULT_AAD, extractable);
}

/**
 * @param {CryptoKey} extractable the data key
 * @param {string} passphrase
 * @param {number | undefined} iterations
 * @param {number} createdAt
 * @returns {Promise<Vault>}
 */
async function wrapUnderPassphrase(extractable, passphrase, iterations, createdAt) {
  /** @type {Kdf} */
  const kdf = {
    name: KDF_DEFAULTS.name,
    hash: KDF_DEFAULTS.hash,
    iterations: checkIterations(iterations ?? KDF_DEFAULTS.iterations),
    salt: crypto.getRandomValues(new Uint8Array(SALT_BYTES)),
  };
  const wrapped = await wrapWith(await deriveKek(passphrase, kdf), extractable, VAULT_AAD);
  return { v: VAULT_VERSION, kdf, wrapped, createdAt };
}

/**
 * @param {Vault} vault
 * @param {CryptoKey} extractable the same data key
 * @param {string} newPass
 * @param {{iterations?: number, recoveryKey?: string | null}} [options]
 * @returns {Promise<Vault>}
 */
async function rewrap(vault, extractable, newPass, { iterations, recoveryKey } = {}) {
  const next = await wrapUnderPassphrase(extractable, newPass, iterations, vault.createdAt);
  next.updatedAt = Date.now();
  if (recoveryKey) next.recovery = await wrapUnderRecovery(extractable, recoveryKey);
  else if (vault.recovery) next.recovery = vault.recovery;
  return next;
}

/**
 * @param {string} recoveryKey base64url
 * @returns {Promise<CryptoKey>} wraps and unwraps only
 */
async function importRecoveryKey(recoveryKey) {
  let raw;
  try {
    raw = base64urlDecode(recoveryKey);
  } catch (_) {
    throw new RecoveryError();
  }
  if (raw.length !== 32) throw new RecoveryError();
  return subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["wrapKey", "unwrapKey"]);
}

/**
 * @param {CryptoKey} extractable the data key
 * @param {string} recoveryKey
 */
async function wrapUnderRecovery(extractable, recoveryKey) {
  return wrapWith(await importRecoveryKey(recoveryKey), extractable, RECOVERY_AAD);
}

/**
 * @param {Vault} vault
 * @param {string} recoveryKey
 * @param {boolean} extractable
 */
async function unwrapRecovery(vault, recoveryKey, extractable) {
  checkVault(vault);
  if (!vault.recovery) throw new RecoveryError("This device has no recovery key.");
  const kek = await importRecoveryKey(recoveryKey);
  try {
    return await unwrapWith(kek, vault.recovery, RECOVERY_AAD, extractable);
  } catch (_) {
    throw new RecoveryError();
  }
}

/**
 * @param {string} s
 * @returns {Uint8Array<ArrayBuffer>}
 */
function base64urlDecode(s) {
  const b64 = String(s).replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
