// @ts-check
// The child's photo, made ready on the phone: judged by its content (JPEG, PNG, HEIC), refused
// with a sentence when it is not a photo or over 8 MB, and redrawn small on a canvas, which
// keeps only the pixels (no EXIF, no GPS). A HEIC photo the browser cannot open (Chromium) is
// converted by the server while there is signal (POST /api/v1/photos/convert); with no signal the
// carer is told to choose a JPEG or wait. The result (base64 JPEG) lives only in the encrypted
// device store and the sync payload: never a URL, never Cache Storage.

import * as api from "./api.js";

export const MAX_FILE_BYTES = 8 * 1024 * 1024;
// The sync protocol takes at most 256 KiB per change: the photo's base64 must leave room for the
// profile's text.
export const MAX_PHOTO_BYTES = 150 * 1024;
const MAX_SIDE = 1024;

export class PhotoError extends Error {}

/**
 * What the first bytes say the file is: "jpeg", "png", "heic" or null.
 *
 * @param {Uint8Array} b
 */
export function sniff(b) {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  const text = String.fromCharCode(...b.slice(4, 12));
  if (text.startsWith("ftyp") && /^(heic|heix|heim|heis|hevc|hevx|mif1|msf1)$/.test(text.slice(4, 8))) return "heic";
  return null;
}

/** @param {Blob} blob */
async function toBase64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * Redraw on a canvas at most `side` px long, as JPEG, smaller until it fits MAX_PHOTO_BYTES.
 *
 * @param {ImageBitmap} bitmap
 */
async function redraw(bitmap) {
  for (const [side, quality] of [[MAX_SIDE, 0.85], [MAX_SIDE, 0.7], [800, 0.7], [640, 0.6], [480, 0.55]]) {
    const scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && /** @type {Blob} */ (blob).size <= MAX_PHOTO_BYTES) return toBase64(/** @type {Blob} */ (blob));
  }
  throw new PhotoError("This photo could not be made small enough to keep: choose another photo");
}

/** @param {Blob} blob */
async function decode(blob) {
  try {
    return await createImageBitmap(blob, { imageOrientation: "from-image" });
  } catch (_) {
    return null;
  }
}

/**
 * The photo as the profile keeps it: a small JPEG, base64.
 *
 * @param {File} file
 * @param {{online: boolean}} options
 * @returns {Promise<string>}
 */
export async function preparePhoto(file, { online }) {
  if (!file.size) throw new PhotoError("The chosen file is empty: choose a JPEG, PNG or HEIC photo");
  if (file.size > MAX_FILE_BYTES) throw new PhotoError("This photo is larger than 8 MB: choose a smaller photo");
  const kind = sniff(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
  if (!kind) throw new PhotoError("This file is not a photo Homeward can use: choose a JPEG, PNG or HEIC photo");
  let bitmap = await decode(file);
  if (!bitmap && kind === "heic") {
    if (!online) throw new PhotoError("This phone cannot open HEIC photos without signal: choose a JPEG photo, or try again when you have signal");
    const result = await api.request("/api/v1/photos/convert", { method: "POST", body: file, timeout: 60000 });
    if (!result.ok) throw new PhotoError((result.error && result.error.message) || "The photo could not be converted: try again");
    const jpeg = Uint8Array.from(atob(result.data.jpeg), (c) => c.charCodeAt(0));
    bitmap = await decode(new Blob([jpeg], { type: "image/jpeg" }));
  }
  if (!bitmap) throw new PhotoError("This photo could not be opened: it may be damaged. Choose it again, or choose another photo");
  try {
    return await redraw(bitmap);
  } finally {
    bitmap.close();
  }
}
