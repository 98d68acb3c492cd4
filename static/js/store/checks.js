// @ts-check
// Guards shared by the object-store modules. The AAD strings join parts with ":", so a type or
// version containing ":" could make two different rows share an AAD. Types are words and
// versions are numbers; ids may be anything.

/** A method that reads or writes personal data was called while no key is in memory. */
export class LockedError extends Error {
  constructor() {
    super("Homeward is locked on this device.");
    this.name = "LockedError";
  }
}

/** @param {unknown} type */
export function checkType(type) {
  if (typeof type !== "string" || !/^[A-Za-z][\w-]*$/.test(type)) {
    throw new TypeError("record type must be a word");
  }
}

/** @param {unknown} id */
export function checkId(id) {
  if (!(typeof id === "string" && id.length) && !Number.isFinite(id)) {
    throw new TypeError("record id must be a string or a number");
  }
}

/** @param {unknown} version */
export function checkVersion(version) {
  if (!Number.isFinite(version) && !(typeof version === "string" && !version.includes(":"))) {
    throw new TypeError("version must be a number");
  }
}

/**
 * @param {ArrayBufferView | ArrayBuffer | null | undefined} a
 * @param {ArrayBufferView | ArrayBuffer | null | undefined} b
 */
export function sameBytes(a, b) {
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  /** @param {ArrayBufferView | ArrayBuffer} v */
  const bytes = (v) =>
    ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
  const x = bytes(a);
  const y = bytes(b);
  return x.every((v, i) => v === y[i]);
}
