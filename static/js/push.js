// @ts-check
// Web Push from the page: opt in on a tap, re-register on every start, opt out. What arrives is
// shown by the service worker (static/sw.js); payloads carry generic words and an opaque id only.
// Requests go through api.js, the worker through sw-bridge.js.

import * as api from "./api.js";
import * as bridge from "./sw-bridge.js";

const KEY_URL = "/api/v1/push/key";
const SUBS_URL = "/api/v1/push/subscriptions";

/**
 * The server's push settings for this user and browser (GET /api/v1/push/key).
 *
 * @typedef {object} PushState
 * @property {boolean} enabled
 * @property {string | null} public_key the VAPID key, base64url
 * @property {string | null} this_device whose reminders this browser gets ("another account")
 */

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** iPhone and iPad only allow push from the Home Screen app, not from a Safari tab. */
export function needsHomeScreen() {
  const ios = /iPhone|iPad|iPod/.test(navigator.userAgent);
  const standalone = window.matchMedia("(display-mode: standalone)").matches || navigator.standalone;
  return ios && !standalone;
}

/**
 * @param {string} b64url
 * @returns {Uint8Array<ArrayBuffer>}
 */
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * @param {ArrayBuffer | null | undefined} buffer a subscription's applicationServerKey
 * @param {Uint8Array} bytes
 */
function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  return a.length === bytes.length && a.every((v, i) => v === bytes[i]);
}

/** @returns {Promise<PushState | null>} */
async function serverState() {
  const result = await api.request(KEY_URL);
  return result.ok ? result.data : null;
}

async function serverKey() {
  const state = await serverState();
  return state && state.enabled ? keyBytes(state.public_key) : null;
}

/** True when this browser's reminders go to another account (a shared phone or tablet). */
export async function heldByAnother() {
  const state = await serverState();
  return Boolean(state && state.this_device === "another account");
}

function registration() {
  return bridge.ready();
}

/**
 * @param {"POST" | "DELETE"} method
 * @param {object} body
 * @param {string} [csrf] the page's token
 */
async function send(method, body, csrf) {
  if (csrf) api.setCsrf(csrf);
  await api.call(SUBS_URL, { method, body }, "The server did not accept this device's reminders.");
}

/** The browser's subscription for our current key, made (or remade) if needed. */
/**
 * @param {ServiceWorkerRegistration} reg
 * @param {Uint8Array<ArrayBuffer>} key the server's
 * @returns {Promise<PushSubscription>}
 */
async function ensureSubscription(reg, key) {
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub.options && sub.options.applicationServerKey, key)) {
    // Made for another server key: push services would refuse our sends to it.
    await sub.unsubscribe();
    sub = null;
  }
  return sub || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
}

/**
 * On every start: tell the server the current subscription (browsers rotate them).
 *
 * @param {string} [csrf] the page's token (field mode's is already with api.js)
 * @returns {Promise<boolean>} whether one was sent
 */
export async function refresh(csrf) {
  if (!supported() || Notification.permission !== "granted") return false;
  const key = await serverKey();
  if (!key) return false;
  const sub = await ensureSubscription(await registration(), key);
  await send("POST", sub.toJSON(), csrf);
  return true;
}

/**
 * @param {string} csrf
 * @returns {Promise<NotificationPermission>} "granted" when this device now gets reminders
 */
export async function turnOn(csrf) {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission;
  const key = await serverKey();
  if (!key) throw new Error("Push reminders are not set up on this server.");
  const sub = await ensureSubscription(await registration(), key);
  // Tapped by the person holding this browser: if it got someone else's reminders, now theirs.
  await send("POST", { ...sub.toJSON(), take_over: true }, csrf);
  return "granted";
}

/** @param {string} csrf */
export async function turnOff(csrf) {
  const reg = await bridge.existing();
  const sub = reg && (await reg.pushManager.getSubscription());
  if (!sub) return;
  await send("DELETE", { endpoint: sub.endpoint }, csrf);
  await sub.unsubscribe();
}

export async function isOn() {
  if (!supported() || Notification.permission !== "granted") return false;
  const reg = await bridge.existing();
  return Boolean(reg && (await reg.pushManager.getSubscription()));
}
