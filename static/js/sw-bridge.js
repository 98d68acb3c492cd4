// @ts-check
// The page's side of the service worker: registration, update offers, named messages, and the
// Background Sync request. sw.js is the other side; both use the names in sw-messages.js.

import { MSG, OUTBOX_SYNC_TAG } from "./sw-messages.js";

export { MSG };

export function supported() {
  return typeof navigator !== "undefined" && "serviceWorker" in navigator;
}

/** @returns {Promise<ServiceWorkerRegistration>} the active registration */
export async function ready() {
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  return navigator.serviceWorker.ready;
}

/** @returns {Promise<ServiceWorkerRegistration | undefined>} without registering anything */
export function existing() {
  return navigator.serviceWorker.getRegistration("/");
}

/**
 * Register the worker and call onUpdate(worker) when a new version waits to take over.
 *
 * @param {(worker: ServiceWorker) => void} onUpdate
 */
export function register(onUpdate) {
  if (!supported()) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then((reg) => {
    if (reg.waiting && navigator.serviceWorker.controller) onUpdate(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      if (!worker) return;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) onUpdate(worker);
      });
    });
  });
}

/** @param {() => void} fn called when a new worker has taken control of this page */
export function onControllerChange(fn) {
  if (supported()) navigator.serviceWorker.addEventListener("controllerchange", fn);
}

/**
 * @param {string} type one of MSG
 * @param {(data: any) => void} fn
 */
export function onMessage(type, fn) {
  if (!supported()) return;
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === type) fn(event.data);
  });
}

/**
 * @param {ServiceWorker} worker
 * @param {string} type one of MSG
 */
export function post(worker, type) {
  worker.postMessage({ type });
}

/** Ask to be woken to send the outbox even if the tab is closed and reopened (Chromium). */
export function requestOutboxSync() {
  if (!supported()) return;
  navigator.serviceWorker.ready
    .then((reg) => /** @type {any} */ (reg).sync && /** @type {any} */ (reg).sync.register(OUTBOX_SYNC_TAG))
    .catch(() => {});
}
