// @ts-check
/* Homeward service worker.
 *
 * What it keeps: only the generic app shell (layout, field-mode page, CSS, JS, icons, the
 * interview question set). What it never keeps: any response with personal data. Pages and API
 * responses go to the network every time; field mode renders children and interviews from the
 * encrypted store on the device instead of from cached HTML.
 *
 * Updates: a new version installs beside the old one and waits. The page offers "Update ready",
 * and only when the person taps it do we skipWaiting, so a half-filled interview is never
 * reloaded under someone's thumb.
 */

/* global MSG, OUTBOX_SYNC_TAG */
// The message names shared with the pages: static/js/sw-messages.js, inlined here by the server
// (types/sw.d.ts declares them for tsc, which checks this file with tsconfig.sw.json).
/* __HOMEWARD_MESSAGES__ */

// `self` is this worker's ServiceWorkerGlobalScope; TypeScript's WebWorker library types it only
// as a WorkerGlobalScope (no clients, registration or install/fetch/push events).
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

const VERSION = "__HOMEWARD_VERSION__";
/** @type {string[]} */
const SHELL = [] /* __HOMEWARD_SHELL__ */;
const CACHE_PREFIX = "homeward-shell-";
const CACHE = CACHE_PREFIX + VERSION;
// On a weak signal, wait this long for the network before falling back to the shell.
const NAVIGATION_TIMEOUT_MS = 4000;

sw.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      // "no-cache": revalidate with the server rather than trust the HTTP cache blindly, so a
      // file the page has just loaded comes back as a 304 with no body instead of twice.
      cache.addAll(SHELL.map((url) => new Request(url, { cache: "no-cache", credentials: "same-origin" }))),
    ),
  );
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener("message", (event) => {
  if (event.data && event.data.type === MSG.SKIP_WAITING) sw.skipWaiting();
  if (event.data && event.data.type === MSG.VERSION) {
    event.source && event.source.postMessage({ type: MSG.VERSION, version: VERSION });
  }
});

/**
 * @param {URL} url
 * @returns {string | null}
 */
function shellPath(url) {
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

/**
 * @param {string} path
 * @returns {Promise<Response | undefined>}
 */
async function fromShell(path) {
  const cache = await caches.open(CACHE);
  return cache.match(path);
}

/**
 * @param {Request} request
 * @returns {Promise<Response>}
 */
async function navigate(request) {
  const url = new URL(request.url);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NAVIGATION_TIMEOUT_MS);
  try {
    const response = await fetch(request, { signal: controller.signal });
    clearTimeout(timer);
    return response;
  } catch (_err) {
    clearTimeout(timer);
    // Offline or too slow: field mode works from the device; any other page explains.
    const fallback = url.pathname.startsWith("/app") ? "/app/" : "/offline";
    return (await fromShell(fallback)) || Response.error();
  }
}

sw.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(request));
    return;
  }
  const path = shellPath(url);
  if (path) {
    // The shell is versioned as a whole, so cache-first is safe; fall back to the network if
    // the cache was cleared under us.
    event.respondWith(fromShell(path).then((hit) => hit || fetch(request)));
  }
  // Everything else (API, pages with personal data) goes to the network and is never stored.
});

// Background Sync: the outbox is encrypted with a key that exists only in an unlocked page, so
// the worker cannot send it itself; it wakes any open Homeward page to flush.
sw.addEventListener("sync", (event) => {
  if (event.tag !== OUTBOX_SYNC_TAG) return;
  event.waitUntil(
    sw.clients.matchAll({ type: "window" }).then((clients) => {
      for (const client of clients) client.postMessage({ type: MSG.FLUSH_OUTBOX });
    }),
  );
});

// ---------------------------------------------------------------- push reminders
// The payload is { title, body, ref, url }: generic words and an opaque id, never personal data
// (it passes through the browser vendor's push service and shows on a lock screen).

/**
 * @param {unknown} url from a push payload or a notification
 * @returns {string} a path of this app
 */
function samePath(url) {
  // Only a page of this app: a notification must never become a link elsewhere. A prefix test
  // is not enough ("/\\host" is "//host" to a browser, which also drops tabs and line breaks), so
  // parse it the way the browser will and compare origins (webapp/urls.py does the same).
  const fallback = "/notifications/";
  if (typeof url !== "string" || !url.startsWith("/")) return fallback;
  let parsed;
  try {
    parsed = new URL(url, sw.location.origin);
  } catch (_) {
    return fallback;
  }
  if (parsed.origin !== sw.location.origin) return fallback;
  return parsed.pathname + parsed.search + parsed.hash;
}

sw.addEventListener("push", (event) => {
  /** @type {{title?: unknown, body?: unknown, ref?: unknown, url?: unknown}} what the server sent */
  let data;
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = {};
  }
  const title = typeof data.title === "string" && data.title ? data.title : "Homeward";
  event.waitUntil(
    sw.registration.showNotification(title, {
      body: typeof data.body === "string" ? data.body : "You have a new reminder.",
      // The same reminder delivered twice replaces itself instead of stacking up.
      tag: typeof data.ref === "string" && data.ref ? `homeward-${data.ref}` : "homeward",
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/icon-192.png",
      data: { url: samePath(data.url) },
    }),
  );
});

// Open the app at the notification's page: an open Homeward window is taken there (and focused
// where the browser allows), else a new one is opened.
/**
 * @param {unknown} path
 * @returns {Promise<WindowClient | null>}
 */
async function openFromNotification(path) {
  const target = new URL(samePath(path), sw.location.origin).href;
  const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
  const mine = windows.find((c) => new URL(c.url).origin === sw.location.origin);
  if (!mine) return sw.clients.openWindow(target);
  // navigate() only works on a window this worker controls; otherwise open a new one.
  const moved = await mine.navigate(target).catch(() => null);
  if (!moved) return sw.clients.openWindow(target);
  return moved.focus().catch(() => moved);
}
sw.openFromNotification = openFromNotification; // for tests driving the worker directly

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openFromNotification(event.notification.data && event.notification.data.url));
});
