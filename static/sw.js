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

const VERSION = "__HOMEWARD_VERSION__";
const SHELL = [] /* __HOMEWARD_SHELL__ */;
const CACHE_PREFIX = "homeward-shell-";
const CACHE = CACHE_PREFIX + VERSION;
// On a weak signal, wait this long for the network before falling back to the shell.
const NAVIGATION_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" }))),
    ),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
  if (event.data && event.data.type === "VERSION") {
    event.source && event.source.postMessage({ type: "VERSION", version: VERSION });
  }
});

function shellPath(url) {
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

async function fromShell(path) {
  const cache = await caches.open(CACHE);
  return cache.match(path);
}

async function navigate(request) {
  const url = new URL(request.url);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NAVIGATION_TIMEOUT_MS);
  try {
    const response = await fetch(request, { signal: controller.signal });
    clearTimeout(timer);
    return response;
  } catch (err) {
    clearTimeout(timer);
    // Offline or too slow: field mode works from the device; any other page explains.
    const fallback = url.pathname.startsWith("/app") ? "/app/" : "/offline";
    return (await fromShell(fallback)) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
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
self.addEventListener("sync", (event) => {
  if (event.tag !== "homeward-outbox") return;
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((clients) => {
      for (const client of clients) client.postMessage({ type: "FLUSH_OUTBOX" });
    }),
  );
});
