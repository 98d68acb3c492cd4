// @ts-check
// Field mode: records to work on with no signal. Renders only from the encrypted device store.
//
// Life of a session: boot -> (setup | unlock) -> list <-> record. Locks after 5 minutes idle
// or 2 minutes hidden; the key then exists nowhere but wrapped on disk. Screens are history
// entries (../router.js), so the phone's back button moves between them, and what was typed is
// saved before any screen goes. The record types (../records/) say what each screen shows; this
// file neither opens IndexedDB (../store/) nor calls the network (../api.js, ../sync/client.js).

import * as api from "../api.js";
import * as vault from "../crypto/vault.js";
import * as push from "../push.js";
import { registry } from "../records/index.js";
import { createRouter } from "../router.js";
import { DeviceStore } from "../store/device.js";
import * as bridge from "../sw-bridge.js";
import { fetchSession, SyncClient } from "../sync/client.js";
import * as v from "./views.js";

/** @typedef {import("../records/registry.js").RecordType} RecordType */
/** @typedef {import("../router.js").Route} Route */
/** @typedef {import("../store/records.js").StoredRecord} StoredRecord */
/** @typedef {import("../store/outbox.js").Mutation} Mutation */
/** @typedef {import("../sync/client.js").Session} Session */
/**
 * The question set and settings field mode works from (GET /api/v1/schema/interview, precached).
 *
 * @typedef {object} Schema
 * @property {import("../records/validate.js").Section[]} sections
 * @property {{due_soon_hours: number, rhi_hours?: number}} [thresholds] the server's configuration
 * @property {Record<string, string[]>} record_types the record types each role keeps on a phone
 */
/**
 * The record on screen, being edited.
 *
 * @typedef {object} Editing
 * @property {string} type
 * @property {string} id
 * @property {string | undefined} section the screen of the record on show
 * @property {Record<string, any>} payload the record's editable part as last saved
 * @property {ReturnType<typeof setTimeout> | null} timer the autosave waiting to run
 * @property {StoredRecord} record
 * @property {number | null} base the version these edits build on
 * @property {Record<string, StoredRecord[]>} records every record the screen was drawn from
 */

const IDLE_LOCK_MS = 5 * 60 * 1000;
const HIDDEN_LOCK_MS = 2 * 60 * 1000;
const AUTOSAVE_MS = 800;
const SCHEMA_URL = "/api/v1/schema/interview";

const root = document.getElementById("hw-field-view");
const statusEl = document.getElementById("hw-field-status");

/**
 * @type {{store: DeviceStore | null, client: SyncClient | null, schema: Schema | null,
 *   thresholds: {dueSoonHours: number}, types: RecordType[], session: Session | null,
 *   userId: string | null, status: import("./views.js").StatusBarState, current: Editing | null,
 *   idleTimer: ReturnType<typeof setTimeout> | null, hiddenAt: number | null,
 *   updateReady: ServiceWorker | null}}
 */
const app = {
  store: null,
  client: null,
  schema: null,
  thresholds: { dueSoonHours: 24 },
  types: [], // the record types this role keeps on the phone
  session: null,
  userId: null,
  status: { online: navigator.onLine, phase: "idle", pending: 0, attention: 0 },
  current: null, // the record being edited: { type, id, section, payload, timer, record, base }
  idleTimer: null,
  hiddenAt: null,
  updateReady: null,
};

const router = createRouter({ show: showRoute, leave: () => flushAutosave() });

/** @param {Node} node the screen */
function render(node) {
  root.replaceChildren(node);
  const heading = root.querySelector("h1");
  // querySelector types a class selector as any Element; ours is always an HTML element (a div).
  const summary = /** @type {HTMLElement | null} */ (root.querySelector(".govuk-error-summary"));
  (summary || heading)?.setAttribute("tabindex", "-1");
  (summary || heading)?.focus({ preventScroll: false });
}

/** @param {Partial<import("./views.js").StatusBarState>} [patch] */
async function refreshStatus(patch = {}) {
  Object.assign(app.status, patch, { online: navigator.onLine });
  if (app.store) Object.assign(app.status, await app.store.counts());
  app.status.storage = await storageUse();
  statusEl.replaceChildren(v.statusBar({
    ...app.status,
    unlocked: app.store && app.store.isUnlocked,
    onLock: lock,
    updateReady: Boolean(app.updateReady),
    onUpdate: () => bridge.post(app.updateReady, bridge.MSG.SKIP_WAITING),
  }));
}

// How much this origin keeps on the device, so a worker can see it before the phone runs out.
async function storageUse() {
  const estimate = app.store ? await app.store.estimate() : null;
  if (!estimate) return null;
  const mb = (estimate.usage || 0) / (1024 * 1024);
  return `${mb < 0.1 ? "under 0.1" : mb.toFixed(1)} MB used on this device`;
}

// ------------------------------------------------------------------ boot

async function boot() {
  registerServiceWorker();
  // The schema is part of the precached shell, so it answers with no signal too.
  app.schema = (await api.request(SCHEMA_URL)).data;
  if (app.schema && app.schema.thresholds) {
    app.thresholds = { dueSoonHours: app.schema.thresholds.due_soon_hours };
  }
  app.session = (await fetchSession()).session;
  app.userId = (app.session && app.session.user_id) || (await DeviceStore.localUserIds())[0] || null;
  if (!app.userId) {
    render(v.setupView({ online: false }));
    return;
  }
  if (app.session) {
    app.types = registry.forRole(app.schema.record_types, app.session.role);
    if (!app.types.length) {
      // Nothing of this role's would be kept here: do not invite them to set up a phone.
      render(v.nothingHereView());
      return;
    }
  }
  app.store = await DeviceStore.open(app.userId);
  if (app.session) {
    await app.store.setMeta("role", app.session.role);
  } else {
    // Offline start: the role this store was set up for (an older store: every type).
    const role = await app.store.getMeta("role");
    app.types = role ? registry.forRole(app.schema.record_types, role) : registry.all();
  }
  app.client = new SyncClient({
    store: app.store,
    types: registry,
    onStatus: (s) => refreshStatus(s),
    onWipe: () => wipe("revoked"),
    onChanges: () => {
      const route = router.current();
      if (!app.current && route.screen === "list") showList();
      // A screen that only shows (no form being typed) is drawn again with what arrived.
      else if (route.screen === "record" && !route.section && registry.get(route.type)?.live) showRecord(route);
    },
    // Our own accepted change moves the open form's base on, as rebase() does for the outbox;
    // a change from elsewhere does not, so the next save still clashes with it (never a silent
    // overwrite).
    onApplied: (type, id, fromBase, toVersion) => {
      if (app.current && app.current.type === type && app.current.id === id && app.current.base === fromBase) {
        app.current.base = toVersion;
      }
    },
  });
  if (app.session) {
    app.client.signedIn = true;
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

/** @param {Record<string, string>} [errors] */
function showSetup(errors = {}) {
  render(v.setupView({ online: Boolean(app.session), errors, onSubmit: setup }));
}

/** @param {FormData} form */
async function setup(form) {
  const pass = String(form.get("passphrase") || "");
  /** @type {Record<string, string>} */
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

/**
 * @param {string | null} [error]
 * @param {boolean} [busy]
 */
function showUnlock(error = null, busy = false) {
  app.store.counts().then((counts) => {
    render(v.unlockView({
      error, busy, counts, online: navigator.onLine,
      onSubmit: unlock,
      onRecover: recover,
    }));
  });
}

/** @param {FormData} form */
async function unlock(form) {
  showUnlock(null, true);
  try {
    const record = await app.store.loadVault();
    const pass = String(form.get("passphrase") || "");
    const dataKey = await vault.unlockVault(record, pass);
    if (vault.needsUpgrade(record)) {
      await app.store.saveVault(await vault.upgradeVault(record, pass));
    }
    app.store.setKey(dataKey);
    startSession();
  } catch (err) {
    showUnlock(err instanceof vault.WrongPassphraseError ? err.message : "Field mode could not be unlocked.");
  }
}

/** @returns {Promise<string | null>} */
async function fetchRecoveryKey() {
  try {
    const result = await api.request("/api/v1/devices/recovery-key");
    if (result.ok) return result.data.key;
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
      const pass = String(form.get("passphrase") || "");
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
  // Unlocking always opens on the list (as it did before there were routes), whatever screen
  // the address still names from before a reload or the idle lock.
  router.go({ screen: "list" }, { replace: true });
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

// ------------------------------------------------------------------ screens

/** @param {Route} route */
function showRoute(route) {
  if (!app.store || !app.store.isUnlocked) return; // the unlock screen stays until unlocked
  if (route.screen === "record" && registry.get(route.type)) return showRecord(route);
  if (route.screen === "conflict") return showConflictById(route.id);
  return showList();
}

async function pendingByRecord() {
  const all = await app.store.pendingMutations();
  /** @type {Map<string, Mutation>} the newest queued change of each record */
  const map = new Map();
  for (const m of all) map.set(`${m.recordType}:${m.recordId}`, m);
  return { map, attention: all.filter((m) => m.attention) };
}

// Screens are drawn after reading the store, so two asked for in quick succession (a save that
// moves to the list, then a tap on a list item) can finish out of order: only the latest asked
// for may draw, or a tap would be undone by the slower list drawn over it.
let drawing = 0;

async function showList() {
  if (!app.store.isUnlocked) return;
  const turn = ++drawing;
  app.current = null;
  const [{ map, attention }, conflicts] = await Promise.all([pendingByRecord(), app.store.listConflicts()]);
  const all = await allRecords(map);
  const groups = [];
  const lookup = lookupIn(all);
  for (const type of app.types) {
    if (type.listed === false) continue; // shown on another record's screen
    const records = (type.records ? type.records(all) : all[type.name]).filter((r) => !type.shown || type.shown(r, { records: all, lookup }));
    if (type.sort) records.sort(type.sort);
    groups.push({
      title: type.title, label: type.listLabel, empty: type.empty,
      items: records.map((record) => type.listItem(record, {
        records: all,
        lookup,
        thresholds: app.thresholds,
        pending: map.get(`${type.name}:${record.id}`),
        problem: attention.find((m) => m.recordType === type.name && m.recordId === record.id),
        onOpen: (/** @type {string | undefined} */ section) => router.go({ screen: "record", type: type.name, id: record.id, section }),
      })),
    });
  }
  if (turn !== drawing) return;
  render(v.listView({
    groups, conflicts,
    onConflict: (c) => router.go({ screen: "conflict", id: c.conflictId }),
  }));
  refreshStatus();
}

/**
 * Every record this role keeps on the phone, by type: a screen may show another type's records
 * (a child's screen shows the child's reports).
 *
 * @param {Map<string, Mutation>} [pending] the unsent changes, when the caller has them
 * @returns {Promise<Record<string, StoredRecord[]>>}
 */
async function allRecords(pending) {
  const map = pending || (await pendingByRecord()).map;
  /** @type {Record<string, StoredRecord[]>} */
  const all = {};
  for (const type of app.types) {
    // Shown as they will be once the server has them: a child reported back with no signal is
    // back on this phone too, not still "not back" until the next sync.
    all[type.name] = (await app.store.listRecords(type.name)).map((record) => {
      const draft = map.get(`${type.name}:${record.id}`);
      return draft && type.accepted ? { ...record, value: type.accepted(record.value, draft.payload) } : record;
    });
  }
  return all;
}

/** @param {Record<string, StoredRecord[]>} all */
const lookupIn = (all) => (/** @type {string} */ type, /** @type {string} */ id) =>
  ((all[type] || []).find((r) => r.id === id) || { value: undefined }).value;

/**
 * @param {{type: string, id: string, section?: string}} route
 * @param {{savedAt?: number | null}} [options]
 */
async function showRecord({ type: typeName, id, section }, { savedAt = null } = {}) {
  const turn = ++drawing;
  const type = registry.get(typeName);
  const { map } = await pendingByRecord();
  const all = await allRecords(map);
  const record = (await app.store.getRecord(typeName, id))
    || (type.records ? type.records(all).find((r) => r.id === id) || null : null);
  if (!record) return router.go({ screen: "list" }, { replace: true });
  if (turn !== drawing) return;
  const draft = map.get(`${typeName}:${id}`);
  // What the screen shows: the copy we were given with any unsent change over it.
  const payload = type.current ? type.current(record, draft ? draft.payload : null) : { ...record.value };
  // The version these edits build on: an unsent draft's, else the copy we were given.
  const base = draft ? draft.baseVersion : record.version;
  // The records the screen was drawn from: what a change is checked against (a report, its
  // child), without decrypting every record again at each autosave.
  app.current = { type: typeName, id, section, payload, timer: null, record, base, records: all };
  render(type.form(record, {
    current: payload, answers: payload.answers, section, records: all, lookup: lookupIn(all),
    schema: app.schema, thresholds: app.thresholds, savedAt,
    problem: draft && draft.attention ? draft.lastError : null,
    formatClock: v.formatClock,
    onChange: onAnswer, onSubmit: submitRecord,
    onBack: () => router.back(),
    go: (/** @type {Route} */ route) => router.go(route),
    create: createRecord,
    createMany: createRecords,
    discard: discardRecord,
    pending: map,
    keepDraft,
  }));
  if (section) document.getElementById(`s-${section}`)?.focus();
}

/**
 * @param {Record<string, any>} a
 * @param {Record<string, any>} b
 */
function samePayload(a, b) {
  /** @param {any} x */
  const canonical = (x) => JSON.stringify(x, (_k, val) => (val && typeof val === "object" && !Array.isArray(val)
    ? Object.fromEntries(Object.keys(val).sort().map((k) => [k, val[k]])) : val));
  return canonical(a) === canonical(b);
}

/**
 * A record made on this phone (a carer's report): checked, kept, queued, then shown.
 *
 * @param {string} typeName
 * @param {Record<string, any>} payload
 * @param {string} [id] the draft's id when it was kept while being typed
 */
async function createRecord(typeName, payload, id = crypto.randomUUID()) {
  const type = registry.get(typeName);
  const all = await allRecords();
  const problems = type.validate(payload, { schema: app.schema, lookup: lookupIn(all), records: all });
  showProblems(problems);
  if (problems.length) return;
  clearTimeout(newDraft.timer); // the draft becomes the record itself
  newDraft.timer = null;
  newDraft.write = null;
  // Shown at once as the server will show it; the server's own copy replaces it at the next pull.
  // Version 0: no server version yet (the create itself builds on none, base null).
  await app.store.putRecord(typeName, id, 0, type.local ? type.local(payload) : payload);
  await app.client.save({ recordType: typeName, recordId: id, baseVersion: null, payload });
  refreshStatus();
  const stored = await app.store.getRecord(typeName, id);
  router.go(type.after ? type.after(stored) : { screen: "list" }, { replace: true });
}

/**
 * Several records made on this phone at once (a register's rows): every one is checked first,
 * and if any has a problem none is kept (the screen names each); otherwise all are kept, queued
 * in order, and the screen moves on once.
 *
 * @param {string} typeName
 * @param {Array<Record<string, any>>} payloads
 * @param {Route} after
 * @param {(payload: Record<string, any>, problem: {name: string, message: string}) => {name: string, message: string}} [name]
 *   how a problem of one row is named on the screen (default: as it is)
 */
async function createRecords(typeName, payloads, after, name = (_p, problem) => problem) {
  const type = registry.get(typeName);
  const all = await allRecords();
  const ctx = { schema: app.schema, lookup: lookupIn(all), records: all };
  const problems = payloads.flatMap((p) => type.validate(p, ctx).map((problem) => name(p, problem)));
  showProblems(problems);
  if (problems.length) return;
  for (const payload of payloads) {
    const id = crypto.randomUUID();
    await app.store.putRecord(typeName, id, 0, type.local ? type.local(payload) : payload);
    await app.client.save({ recordType: typeName, recordId: id, baseVersion: null, payload });
  }
  refreshStatus();
  router.go(after, { replace: true });
}

/**
 * Let go of a change the server refused (and the record made for it on this phone): what the
 * person decided after reading the server's reason.
 *
 * @param {string} typeName
 * @param {string} id
 */
async function discardRecord(typeName, id) {
  for (const m of await app.store.pendingMutations()) {
    if (m.recordType === typeName && m.recordId === id) await app.store.ack(m.mutationId);
  }
  await app.store.deleteRecord(typeName, id);
  refreshStatus();
  showRoute(router.current());
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
  if (newDraft.timer) {
    clearTimeout(newDraft.timer);
    newDraft.timer = null;
    const write = newDraft.write;
    newDraft.write = null;
    if (write) return write();
  }
  if (app.current && app.current.timer) {
    clearTimeout(app.current.timer);
    app.current.timer = null;
    return saveDraft(false);
  }
  return Promise.resolve();
}

/**
 * A record being made on the phone (a carer's report) is kept as it is typed, encrypted, as a
 * draft only this phone knows (not queued): leaving the screen, the idle lock or a reload
 * loses nothing, and sending it makes the same record.
 *
 * @type {{timer: ReturnType<typeof setTimeout> | null, write: (() => Promise<unknown>) | null}}
 */
const newDraft = { timer: null, write: null };

/**
 * @param {string} typeName
 * @param {string} id
 * @param {Record<string, any>} payload
 */
function keepDraft(typeName, id, payload) {
  clearTimeout(newDraft.timer);
  newDraft.write = () => (app.store && app.store.isUnlocked
    ? app.store.putRecord(typeName, id, 0, { ...payload, draft: true })
    : Promise.resolve());
  newDraft.timer = setTimeout(() => {
    newDraft.timer = null;
    const write = newDraft.write;
    newDraft.write = null;
    if (write) write();
  }, AUTOSAVE_MS);
}

/** @param {Array<{name: string, message: string}>} problems */
function showProblems(problems) {
  const holder = document.getElementById("hw-field-problems");
  if (!holder) return;
  holder.replaceChildren(v.errorSummary(problems.map((p) => ({ id: p.name, message: p.message }))) || "");
}

// Returns false when the change was not queued (the form shows why; what was typed stays).
/**
 * @param {boolean} submit send for authorisation, not only save
 * @returns {Promise<boolean>}
 */
async function saveDraft(submit) {
  if (!app.current || !app.store.isUnlocked) return true;
  const { type: typeName, id, base } = app.current;
  const type = registry.get(typeName);
  // getElementById types any element; this id is the record screen's <form>.
  const form = /** @type {HTMLFormElement | null} */ (document.getElementById("hw-field-form"));
  if (!form) return true;
  const payload = await type.read(form, { schema: app.schema, current: app.current.payload, section: app.current.section });
  // Nothing changed since the last save (a blur, leaving the form): nothing to send.
  if (!submit && samePayload(payload, app.current.payload)) return true;
  // Checked as the server will check it, so nothing is queued that would only come back refused.
  const body = type.submits ? { ...payload, submit } : payload;
  const problems = type.validate(body, { schema: app.schema, lookup: lookupIn(app.current.records) });
  showProblems(problems);
  if (problems.length) return false;
  app.current.payload = payload;
  await app.client.save({ recordType: typeName, recordId: id, baseVersion: base, payload: body });
  const saved = document.getElementById("hw-field-saved");
  if (saved) saved.textContent = `Saved on this device at ${v.formatClock(Date.now())}`;
  refreshStatus();
  return true;
}

async function submitRecord() {
  clearTimeout(app.current && app.current.timer);
  if (app.current) app.current.timer = null;
  const { type: typeName, record } = app.current || {};
  if (await saveDraft(true)) {
    app.current = null; // saved: nothing left for leaving the screen to save
    const type = registry.get(typeName);
    const stored = type && record ? await app.store.getRecord(typeName, record.id) : null;
    router.go(type && type.after && stored ? type.after(stored) : { screen: "list" });
  }
}

// ------------------------------------------------------------------ conflicts

/** @param {string} conflictId */
async function showConflictById(conflictId) {
  const conflict = (await app.store.listConflicts()).find((c) => c.conflictId === conflictId);
  if (!conflict) return router.go({ screen: "list" }, { replace: true });
  app.current = null;
  const done = () => router.go({ screen: "list" }, { replace: true });
  const type = registry.get(conflict.recordType);
  render(v.conflictView({
    conflict, schema: app.schema,
    onBack: () => router.back(),
    onKeepMine: async () => {
      await app.client.save({
        recordType: conflict.recordType, recordId: conflict.recordId,
        baseVersion: conflict.serverVersion,
        payload: type && type.submits ? { ...conflict.local, submit: false } : conflict.local,
      });
      await app.store.deleteConflict(conflict.conflictId);
      done();
    },
    onKeepServer: async () => {
      await app.store.deleteConflict(conflict.conflictId);
      done();
    },
  }));
}

// ------------------------------------------------------------------ wipe

/** @param {string} reason "revoked" when the organisation removed this device */
async function wipe(reason) {
  app.current = null;
  clearTimeout(app.idleTimer);
  if (app.client) app.client.stop();
  if (app.store) app.store.lock();
  app.store = null; // nothing may touch the store from here: it is being deleted
  await DeviceStore.wipe(app.userId);
  for (const name of await caches.keys()) await caches.delete(name);
  // Best effort: the server already knows it asked.
  await api.request("/api/v1/devices/wiped", { method: "POST" }).catch(() => {});
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
  bridge.register((worker) => {
    app.updateReady = worker;
    refreshStatus();
  });
  let reloading = false;
  bridge.onControllerChange(async () => {
    if (reloading || !app.updateReady) return;
    reloading = true;
    // What was typed in the last moment is saved (encrypted) before the page goes away.
    await flushAutosave().catch(() => {});
    window.location.reload();
  });
  bridge.onMessage(bridge.MSG.FLUSH_OUTBOX, () => app.client && app.client.sync("background-sync"));
}

function connectionChanged() {
  refreshStatus();
  v.showConnection(navigator.onLine);
}

// The time left on a screen (the plan's police deadline, the 72-hour clock) is counted on the
// phone: redraw each minute, unless something is being typed there.
setInterval(() => {
  if (!app.store || !app.store.isUnlocked) return;
  if (document.getElementById("hw-field-form") || document.getElementById("hw-field-new")) return;
  const route = router.current();
  if (route.screen === "list" || route.screen === "record") showRoute(route);
}, 60 * 1000);

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
