// Types tsc needs for the service worker (static/sw.js, checked by tsconfig.sw.json). Type
// declarations only: nothing here is served.

// The worker is a classic script: the server inlines static/js/sw-messages.js into it (without
// its `export`s) in place of /* __HOMEWARD_MESSAGES__ */, so these are globals there.
declare const MSG: typeof import("../static/js/sw-messages.js").MSG;
declare const OUTBOX_SYNC_TAG: typeof import("../static/js/sw-messages.js").OUTBOX_SYNC_TAG;

interface ServiceWorkerGlobalScope {
  // Set by sw.js for tests that drive the worker directly (tests/e2e/test_push_worker.py).
  openFromNotification?: (path: unknown) => Promise<WindowClient | null>;
}

// Background Sync (Chromium): not in TypeScript's WebWorker library yet.
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
}

interface ServiceWorkerGlobalScopeEventMap {
  sync: SyncEvent;
}
