// @ts-check
// Every HTTP call the app's JS makes (field mode, sync and push alike) goes through here: one
// timeout, the CSRF header, JSON in and out, and one reading of "signed out" and "revoked".
// The service worker keeps its own fetch (it has no page, no CSRF token and no session).

export const TIMEOUT_MS = 15000;

/**
 * @typedef {object} ApiResult
 * @property {number} status
 * @property {boolean} ok 2xx
 * @property {any} data the JSON body, or null
 * @property {{code: string, message: string} | null} error the server's error code and words
 * @property {boolean} signedOut 401, or a CSRF token the server no longer takes
 * @property {boolean} revoked 410: this device was removed by the organisation
 */

/** A request the server refused, for callers that want an exception (push.js). */
export class ApiError extends Error {
  /** @param {ApiResult} result @param {string} fallback */
  constructor(result, fallback) {
    super((result.error && result.error.message) || fallback);
    this.name = "ApiError";
    this.result = result;
  }
}

/** @type {string | null} */
let token = null;
/** @type {Set<(result: ApiResult) => void>} */
const signedOutListeners = new Set();

/**
 * The CSRF token from /api/v1/session (field mode); pages carry theirs in a meta tag.
 *
 * @param {string | null} value
 */
export function setCsrf(value) {
  token = value || null;
}

/** @returns {string} */
export function csrf() {
  if (token) return token;
  const meta = typeof document === "undefined" ? null : document.querySelector('meta[name="csrf-token"]');
  return (meta && meta.getAttribute("content")) || "";
}

/**
 * Called whenever the server says we are signed out, so the screen can say "Sign in to send
 * your work" whatever request found out.
 *
 * @param {(result: ApiResult) => void} fn
 * @returns {() => void} stop listening
 */
export function onSignedOut(fn) {
  signedOutListeners.add(fn);
  return () => signedOutListeners.delete(fn);
}

/**
 * Read a response into an ApiResult (pure apart from reading the body; unit-tested).
 *
 * @param {number} status
 * @param {any} data parsed JSON or null
 * @returns {ApiResult}
 */
export function interpret(status, data) {
  const error = data && typeof data.error === "string"
    ? { code: data.error, message: typeof data.message === "string" ? data.message : "" }
    : null;
  return {
    status,
    ok: status >= 200 && status < 300,
    data,
    error,
    signedOut: status === 401 || (status === 400 && Boolean(error && error.code === "csrf_failed")),
    revoked: status === 410,
  };
}

/**
 * One request. Resolves with the server's answer whatever its status; rejects only when there
 * was no answer (offline: TypeError; too slow: an AbortError after `timeout` ms).
 *
 * @param {string} url same-origin path
 * @param {{method?: string, body?: any, timeout?: number}} [options]
 * @returns {Promise<ApiResult>}
 */
export async function request(url, { method = "GET", body, timeout = TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  try {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    // A Blob (a photo) goes as it is, with its own type; anything else as JSON.
    const raw = typeof Blob !== "undefined" && body instanceof Blob;
    if (body !== undefined) headers["Content-Type"] = raw ? body.type || "application/octet-stream" : "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = csrf();
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
    let data = null;
    try {
      data = response.status === 204 ? null : await response.json();
    } catch (_) {
      data = null; // a proxy's HTML page, or an empty body
    }
    const result = interpret(response.status, data);
    if (result.signedOut) {
      token = null;
      for (const fn of signedOutListeners) fn(result);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A request that must succeed: resolves with the JSON body, or throws ApiError carrying the
 * server's own words (or `fallback`).
 *
 * @param {string} url
 * @param {{method?: string, body?: any, timeout?: number}} [options]
 * @param {string} [fallback]
 */
export async function call(url, options, fallback = "The server did not accept this.") {
  const result = await request(url, options);
  if (!result.ok) throw new ApiError(result, fallback);
  return result.data;
}
