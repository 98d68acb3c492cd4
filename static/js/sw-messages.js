// @ts-check
// The names of the messages between the pages and the service worker, in one place. The worker
// is a classic script, so /sw.js gets this file's text inlined by the server
// (webapp/field/views.py: service_worker); keep it plain constants.

/** Page -> worker: take over now (the person tapped "Update ready"). Worker -> page: none. */
export const MSG = Object.freeze({
  SKIP_WAITING: "SKIP_WAITING",
  // Page -> worker: which version are you? Worker -> page: { type: VERSION, version }.
  VERSION: "VERSION",
  // Worker -> page: Background Sync fired; an unlocked page sends its outbox.
  FLUSH_OUTBOX: "FLUSH_OUTBOX",
});

/** The Background Sync tag the page registers and the worker answers. */
export const OUTBOX_SYNC_TAG = "homeward-outbox";
