// Field mode: return interviews with no signal. Renders only from the encrypted device store.
//
// Life of a session: boot -> (setup | unlock) -> list <-> interview. Locks after 5 minutes idle
// or 2 minutes hidden; the key then exists nowhere but wrapped on disk.

import * as vault from "../crypto/vault.js";
import * as push from "../push.js";
import { DeviceStore } from "../store/db.js";
import { SyncClient } from "../sync/client.js";
import * as v from "./views.js";

const IDLE_LOCK_MS = 5 * 60 * 1000;
const HIDDEN_LOCK_MS = 2 * 60 * 1000;
const AUTOSAVE_MS = 800;
const SCHEMA_URL = "/api/v1/schema/interview";
const DB_PREFIX = "homeward-u-";

const root = document.getElementById("hw-field-view");
const statusEl = document.getElementById("hw-field-status");

const app = {
  store: null,
  client: null,
  schema: null,
  session: null,
  userId: null,
  status: { online: navigator.onLine, phase: "idle", pending: 0, attention: 0 },
  current: null, // the interview being edited: { id, answers, timer, record, base }
  idleTimer: null,
  hiddenAt: null,
  updateReady: null,
};

function render(node) {
  root.replaceChildren(node);
  const heading = root.querySelector("h1");
  const summary = root.querySelector(".govuk-error-summary");
  (summary || heading)?.setAttribute("tabindex", "-1");
  (summary || heading)?.focus({ preventScroll: false });
}

async function refreshStatus(patch = {}) {
  Object.assign(app.status, patch, { online: navigator.onLine });
  if (app.store) Object.assign(app.status, await app.store.counts());
  app.status.storage = await storageUse();
  statusEl.replaceChildren(v.statusBar({
    ...app.status,
    unlocked: app.store && app.store.isUnlocked,
    onLock: lock,
    updateReady: Boolean(app.updateReady),
    onUpdate: () => app.updateReady.postMessage({ type: "SKIP_WAITING" }),
  }));
}

// How much this origin keeps on the device, so a worker can see it before the phone runs out.
async function storageUse() {
  if (!navigator.storage || !navigator.storage.estimate) return null;
  const { usage = 0 } = await navigator.storage.estimate();
  const mb = usage / (1024 * 1024);
  return `${mb < 0.1 ? "under 0.1" : mb.toFixed(1)} MB used on this device`;
}

async function fetchSchema() {
  const response = await fetch(SCHEMA_URL, { credentials: "same-origin" });
  return response.json();
}

async function localUserId() {
  // Offline start: which user's store is on this device? Database names carry only the opaque id.
  if (!indexedDB.databases) return null;
  const names = (await indexedDB.databases()).map((d) => d.name).filter((n) => n && n.startsWith(DB_PREFIX));
  return names.length ? names[0].slice(DB_PREFIX.length) : null;
}

// ------------------------------------------------------------------ boot

async function boot() {
  registerServiceWorker();
  app.schema = await fetchSchema();
  const probe = new SyncClient({ store: { isUnlocked: false } });
  app.session = await probe.session();
  app.userId = (app.session && app.session.user_id) || (await localUserId());
  if (!app.userId) {
    render(v.setupView({ online: false }));
    return;
  }
  app.store = await DeviceStore.open(app.userId);
  app.client = new SyncClient({
    store: app.store,
    onStatus: (s) => refreshStatus(s),
    onWipe: () => wipe("revoked"),
    onChanges: () => { if (!app.current) showList(); },
    // Our own accepted change moves the open form's base on, as rebase() does for the outbox;
    // a change from elsewhere does not, so the next save still clashes with it (never a silent
    // overwrite).
    onApplied: (type, id, fromBase, toVersion) => {
      if (app.current && type === "interview" && app.current.id === id && app.current.base === fromBase) {
        app.current.base = toVersion;
      }
    },
  });
  if (app.session) {
    app.client.csrf = app.session.csrf_token;
    // Field mode is a start of the app too: keep this device's push subscription current.
    push.refresh(app.session.csrf_token).catch(() => {});
  }
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist();
  await refreshStatus();
  if (app.session && app.session.device && app.session.device.revoked) {
    const { pending } = await app.store.counts();
    if (!pending) return wipe("revoked");
  }
  if (!(await app.store.hasVault())) {
    showSetup();
  } else {
    showUnlock();
  }
}

// ------------------------------------------------------------------ setup and unlock

function showSetup(errors = {}) {
  render(v.setupView({ online: Boolean(app.session), errors, onSubmit: setup }));
}

async function setup(form) {
  const pass = form.get("passphrase") || "";
  const errors = {};
  const problem = vault.validatePassphrase(pass);
  if (problem) errors.passphrase = problem;
  else if (pass !== form.get("confirm")) errors.confirm = "The passphrases do not match";
  if (Object.keys(errors).length) return showSetup(errors);
  const recoveryKey = await fetchRecoveryKey();
  const { vault: record, dataKey } = await vault.createVault(pass, { recoveryKey });
  await app.store.saveVault(record);
  app.store.setKey(dataKey);
  startSession();
}

function showUnlock(error = null, busy = false) {
  app.store.counts().then((counts) => {
    render(v.unlockView({
      error, busy, counts, online: navigator.onLine,
      onSubmit: unlock,
      onRecover: recover,
    }));
  });
}

async function unlock(form) {
  showUnlock(null, true);
  try {
    const record = await app.store.loadVault();
    const dataKey = await vault.unlockVault(record, form.get("passphrase") || "");
    if (vault.needsUpgrade(record)) {
      await app.store.saveVault(await vault.upgradeVault(record, form.get("passphrase")));
    }
    app.store.setKey(dataKey);
    startSession();
  } catch (err) {
    showUnlock(err instanceof vault.WrongPassphraseError ? err.message : "Field mode could not be unlocked.");
  }
}

async function fetchRecoveryKey() {
  try {
    const response = await fetch("/api/v1/devices/recovery-key", { credentials: "same-origin", cache: "no-store" });
    if (response.ok) return (await response.json()).key;
  } catch (_) { /* offline: the vault is created without a recovery wrapping */ }
  return null;
}

async function recover() {
  // Forgotten passphrase: the server's recovery key (only for a signed-in user on a device that
  // is not revoked) unwraps the data key, so unsent work survives; then a new passphrase.
  const key = await fetchRecoveryKey();
  if (!key) {
    showUnlock("Sign in to Homeward online on this device first, then try again.");
    return;
  }
  const record = await app.store.loadVault();
  let dataKey;
  try {
    dataKey = await vault.unlockWithRecovery(record, key);
  } catch (_) {
    showUnlock("This device's data cannot be recovered. Ask your manager for help.");
    return;
  }
  render(v.setupView({
    online: true, errors: {},
    onSubmit: async (form) => {
      const pass = form.get("passphrase") || "";
      const problem = vault.validatePassphrase(pass) || (pass !== form.get("confirm") ? "The passphrases do not match" : null);
      if (problem) return showUnlock(problem);
      await app.store.saveVault(await vault.resetPassphrase(record, key, pass));
      app.store.setKey(dataKey);
      startSession();
    },
  }));
}

function startSession() {
  armIdleLock();
  showList();
  app.client.sync("unlock");
}

// ------------------------------------------------------------------ locking

function lock() {
  flushAutosave();
  app.current = null;
  app.store.lock();
  refreshStatus();
  showUnlock();
}

function armIdleLock() {
  clearTimeout(app.idleTimer);
  if (app.store && app.store.isUnlocked) app.idleTimer = setTimeout(lock, IDLE_LOCK_MS);
}

for (const ev of ["pointerdown", "keydown", "input", "scroll"]) {
  document.addEventListener(ev, armIdleLock, { passive: true });
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") {
    app.hiddenAt = Date.now();
    flushAutosave();
  } else {
    if (app.hiddenAt && Date.now() - app.hiddenAt > HIDDEN_LOCK_MS && app.store && app.store.isUnlocked) lock();
    app.hiddenAt = null;
    if (app.client) app.client.sync("visible");
  }
});

// ------------------------------------------------------------------ the list

async function pendingByRecord() {
  const all = await app.store.pendingMutations();
  const map = new Map();
  for (const m of all) map.set(m.recordId, m);
  return { map, attention: all.filter((m) => m.status === "attention") };
}

async function showList() {
  if (!app.store.isUnlocked) return;
  app.current = null;
  const [interviews, { map, attention }, conflicts] = await Promise.all([
    app.store.listRecords("interview"), pendingByRecord(), app.store.listConflicts(),
  ]);
  render(v.listView({
    interviews, pendingByRecord: map, attention, conflicts,
    onOpen: showInterview, onConflict: showConflict,
  }));
  refreshStatus();
}

// ------------------------------------------------------------------ an interview

async function showInterview(id, { savedAt = null } = {}) {
  const record = await app.store.getRecord("interview", id);
  if (!record) return showList();
  const { map } = await pendingByRecord();
  const draft = map.get(id);
  const answers = { ...(record.value.answers || {}), ...((draft && draft.payload.answers) || {}) };
  // The version these edits build on: an unsent draft's, else the copy we were given.
  const base = draft ? draft.baseVersion : record.version;
  app.current = { id, answers, timer: null, record, base };
  render(v.interviewView({
    record, answers, schema: app.schema, savedAt,
    problem: draft && draft.status === "attention" ? draft.lastError : null,
    readOnly: !record.value.editable,
    onChange: onAnswer, onSubmit: submitInterview, onBack: () => { flushAutosave(); showList(); },
  }));
}

function readForm() {
  const form = document.getElementById("hw-field-form");
  const answers = {};
  for (const section of app.schema.sections) {
    for (const q of section.questions) {
      if (q.kind === "checkboxes") {
        answers[q.name] = [...form.querySelectorAll(`input[name="${q.name}"]:checked`)].map((i) => i.value);
      } else if (q.kind === "radios") {
        const checked = form.querySelector(`input[name="${q.name}"]:checked`);
        answers[q.name] = checked ? checked.value : null;
      } else if (q.kind === "datetime") {
        answers[q.name] = v.fromLocalInput(form.elements[q.name].value);
      } else {
        answers[q.name] = form.elements[q.name].value;
      }
    }
  }
  for (const [k, val] of Object.entries(answers)) {
    if (val === null || val === "" || (Array.isArray(val) && !val.length)) delete answers[k];
  }
  return answers;
}

function sameAnswers(a, b) {
  const canonical = (x) => JSON.stringify(Object.keys(x).sort().map((k) => [k, x[k]]));
  return canonical(a) === canonical(b);
}

function onAnswer() {
  if (!app.current) return;
  clearTimeout(app.current.timer);
  app.current.timer = setTimeout(() => {
    if (app.current) app.current.timer = null;
    saveDraft(false);
  }, AUTOSAVE_MS);
}

function flushAutosave() {
  if (app.current && app.current.timer) {
    clearTimeout(app.current.timer);
    app.current.timer = null;
    return saveDraft(false);
  }
  return Promise.resolve();
}

async function saveDraft(submit) {
  if (!app.current || !app.store.isUnlocked) return;
  const { id, base } = app.current;
  const answers = readForm();
  // Nothing changed since the last save (a blur, leaving the form): nothing to send.
  if (!submit && sameAnswers(answers, app.current.answers)) return;
  app.current.answers = answers;
  await app.client.save({
    recordType: "interview", recordId: id, baseVersion: base,
    payload: { answers, submit },
  });
  const saved = document.getElementById("hw-field-saved");
  if (saved) saved.textContent = `Saved on this device at ${v.formatClock(Date.now())}`;
  refreshStatus();
}

async function submitInterview() {
  clearTimeout(app.current && app.current.timer);
  await saveDraft(true);
  showList();
}

// ------------------------------------------------------------------ conflicts

function showConflict(conflict) {
  render(v.conflictView({
    conflict, schema: app.schema,
    onBack: showList,
    onKeepMine: async () => {
      await app.client.save({
        recordType: conflict.recordType, recordId: conflict.recordId,
        baseVersion: conflict.serverVersion, payload: { ...conflict.local, submit: false },
      });
      await app.store.deleteConflict(conflict.conflictId);
      showList();
    },
    onKeepServer: async () => {
      await app.store.deleteConflict(conflict.conflictId);
      showList();
    },
  }));
}

// ------------------------------------------------------------------ wipe

async function wipe(reason) {
  app.current = null;
  clearTimeout(app.idleTimer);
  if (app.client) app.client.stop();
  if (app.store) app.store.lock();
  app.store = null; // nothing may touch the store from here: it is being deleted
  await DeviceStore.wipe(app.userId);
  for (const name of await caches.keys()) await caches.delete(name);
  try {
    await fetch("/api/v1/devices/wiped", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": (app.client && app.client.csrf) || "" },
    });
  } catch (_) { /* best effort: the server already knows it asked */ }
  render(v.h("div", {},
    v.h("h1", { class: "govuk-heading-l" }, "Homeward has been removed from this device"),
    v.h("p", { class: "govuk-body" },
      reason === "revoked"
        ? "Your organisation removed this device. Everything Homeward kept on it has been deleted."
        : "Everything Homeward kept on this device has been deleted.")));
  statusEl.replaceChildren();
}

// ------------------------------------------------------------------ service worker and sync triggers

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then((reg) => {
    const offer = (worker) => {
      app.updateReady = worker;
      refreshStatus();
    };
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      worker && worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) offer(worker);
      });
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", async () => {
    if (reloading || !app.updateReady) return;
    reloading = true;
    // What was typed in the last moment is saved (encrypted) before the page goes away.
    await flushAutosave().catch(() => {});
    window.location.reload();
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "FLUSH_OUTBOX" && app.client) app.client.sync("background-sync");
  });
}

function connectionChanged() {
  refreshStatus();
  v.showConnection(navigator.onLine);
}

window.addEventListener("online", () => { connectionChanged(); app.client && app.client.sync("online"); });
window.addEventListener("offline", connectionChanged);
window.addEventListener("pagehide", flushAutosave);

boot().catch((err) => {
  render(v.h("div", {},
    v.h("h1", { class: "govuk-heading-l" }, "Field mode could not start"),
    v.h("p", { class: "govuk-body" }, "Reload the page. If it keeps happening, tell your manager."),
  ));
  console.error("field mode", err && err.name);
});
