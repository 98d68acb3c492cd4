// @ts-check
// The only code that talks to /api/v1/sync. It moves mutations from the encrypted outbox to the
// server and server changes into the encrypted store, and deletes a local mutation only when the
// server has acknowledged it. Generic over record types: what a type does with an accepted
// change is the type's own business (records/<type>.js, through the registry passed in).

import * as api from "../api.js";
import { dueNow } from "../store/outbox.js";
import { requestOutboxSync } from "../sw-bridge.js";

/** @typedef {import("../store/device.js").DeviceStore} DeviceStore */
/** @typedef {import("../store/outbox.js").Mutation} Mutation */

/**
 * Who is signed in here (GET /api/v1/session: webapp/api/views.py).
 *
 * @typedef {object} Session
 * @property {string} user_id opaque UUID: names the device store
 * @property {string} role
 * @property {string} csrf_token
 * @property {{revoked: boolean}} device
 * @property {number} protocol
 */
/**
 * The server's answer to one mutation (sync/protocol.py: MutationResult). A batch the server
 * could not read at all is answered here too, for its one mutation, with only the id, the
 * action and the error.
 *
 * @typedef {object} MutationResult
 * @property {string} mutation_id
 * @property {"delete_local" | "keep_and_show" | "retry"} client_action what to do with ours
 * @property {"applied" | "replayed" | "conflict" | "rejected"} [status]
 * @property {number} [http_status]
 * @property {string} [record_type]
 * @property {string} [record_id]
 * @property {number|null} [version] after applying, or the server's current one on conflict
 * @property {{code: string, message: string, field?: string|null}|null} [error]
 * @property {string|null} [conflict_id]
 * @property {any} [server_payload] on conflict: the server's copy
 */
/**
 * One record's current state, or a tombstone (sync/protocol.py: Change).
 *
 * @typedef {object} Change
 * @property {string} record_type
 * @property {string} record_id
 * @property {number} version
 * @property {boolean} deleted
 * @property {any} payload null when deleted
 * @property {string} changed_at
 */
/** @typedef {{protocol: number, results: MutationResult[], cursor: string|null}} PushResponse */
/** @typedef {{error?: string, message?: string}} ErrorBody a refusal of the whole request */
/**
 * @typedef {{protocol: number, changes: Change[], cursor: string, has_more: boolean,
 *   reset: boolean}} PullResponse
 */
/**
 * What a sync run is doing, for the status bar (onStatus gets a copy after every change).
 *
 * @typedef {object} SyncState
 * @property {"idle" | "sending" | "waiting"} phase
 * @property {number} sent
 * @property {number} total
 * @property {boolean|null} signedIn null until the server has said
 * @property {string|null} lastError why the last run stopped ("offline", "push", ...)
 * @property {number} [lastSync] ms
 * @property {number} [retryInMs]
 */
/** @typedef {"done" | "retry" | "wipe"} StepResult how a push or pull ended */

const PUSH_BATCH = 50;
// The server refuses a body over 4 MiB (sync/protocol.py MAX_BODY_BYTES): photos make a few
// changes that large, so a batch also stops at this many bytes (always at least one change).
const PUSH_BATCH_BYTES = 3 * 1024 * 1024;

/**
 * Batches of at most PUSH_BATCH changes and about PUSH_BATCH_BYTES of payload, in order, and
 * never two changes to one record in a batch: the second was made on the same version as the
 * first (a change already tried once is frozen, so a later edit queues behind it), and only the
 * first's answer can move it onto the version the server gives the first. Sent together, the
 * server would find the second a version behind and keep it as a clash with itself.
 *
 * @param {Mutation[]} due
 * @returns {Mutation[][]}
 */
export function batchesOf(due) {
  /** @type {Mutation[][]} */
  const out = [];
  let batch = [];
  let bytes = 0;
  const records = new Set();
  for (const m of due) {
    const size = JSON.stringify(m.payload ?? null).length;
    const record = `${m.recordType}\u0000${m.recordId}`;
    if (
      batch.length &&
      (batch.length >= PUSH_BATCH || bytes + size > PUSH_BATCH_BYTES || records.has(record))
    ) {
      out.push(batch);
      batch = [];
      bytes = 0;
      records.clear();
    }
    batch.push(m);
    bytes += size;
    records.add(record);
  }
  if (batch.length) out.push(batch);
  return out;
}
const BACKOFF_BASE_MS = 5000;
const BACKOFF_MAX_MS = 5 * 60 * 1000;
export const PROTOCOL = 1;

function uuid() {
  return crypto.randomUUID();
}

/**
 * @param {string} url
 * @param {{method?: string, body?: any}} [options]
 * @returns {Promise<{status: number, data: any}>}
 */
async function fetchJSON(url, options) {
  // One client for every request (api.js): its timeout, CSRF header and reading of errors.
  const { status, data } = await api.request(url, options);
  return { status, data };
}

// A refusal of the whole batch that sending it again cannot change (not a sign-in, CSRF,
// protocol-version or rate-limit answer, which the caller handles or retries).
/**
 * @param {number} status
 * @param {any} data the body, if it was JSON
 */
function isWholeBatchRefusal(status, data) {
  return (
    status >= 400 &&
    status < 500 &&
    ![401, 408, 410, 429].includes(status) &&
    Boolean(data && data.error) &&
    !["csrf_failed", "protocol_version"].includes(data.error)
  );
}

/**
 * Who is signed in here, from the server (it also gives api.js the CSRF token). Needs no device
 * store, so field mode can ask before it knows whose store to open.
 *
 * @returns {Promise<{status: number, session: Session | null}>} status 0 when there was no answer
 */
export async function fetchSession() {
  try {
    const { status, data } = await fetchJSON("/api/v1/session");
    if (status === 200 && data) {
      api.setCsrf(data.csrf_token);
      return { status, session: data };
    }
    return { status, session: null };
  } catch (_) {
    // offline: navigator.onLine is only a hint, so a failed request is the real answer
    return { status: 0, session: null };
  }
}

export class SyncClient {
  /**
   * @param {object} options
   * @param {DeviceStore} options.store
   * @param {{all: () => Array<{name: string, accepted?: (value: any, payload: any) => any}>,
   *   get: (name: string) => {accepted?: (value: any, payload: any) => any, transient?: boolean} | undefined}} [options.types]
   *   the record-type registry
   * @param {(status: SyncState) => void} [options.onStatus]  UI callback
   * @param {() => void} [options.onWipe]  called when the server says this device was revoked
   * @param {() => void} [options.onChanges]  called after server changes were stored
   * @param {(type: string, id: string, fromBase: ?number, toVersion: number) => void}
   *   [options.onApplied]  the server accepted our change made on fromBase as toVersion
   */
  constructor({ store, types, onStatus, onWipe, onChanges, onApplied }) {
    this.store = store;
    this.types = types || { all: () => [], get: () => undefined };
    this.onApplied = onApplied || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onWipe = onWipe || (() => {});
    this.onChanges = onChanges || (() => {});
    this.failures = 0;
    this.stopped = false;
    this.signedIn = false; // until /api/v1/session says so (it also gives api.js the CSRF token)
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @type {Promise<unknown> | null} */
    this.running = null;
    /** @type {SyncState} */
    this.state = { phase: "idle", sent: 0, total: 0, signedIn: null, lastError: null };
  }

  /** @param {Partial<SyncState>} patch */
  _status(patch) {
    Object.assign(this.state, patch);
    this.onStatus({ ...this.state });
  }

  /**
   * Ask the server who we are (and for a CSRF token). Null when offline or signed out.
   *
   * @returns {Promise<Session | null>}
   */
  async session() {
    const { status, session } = await fetchSession();
    if (session) {
      this.signedIn = true;
      this._status({ signedIn: true });
    } else if (status === 401) {
      this.signedIn = false;
      this._status({ signedIn: false });
    }
    return session;
  }

  /**
   * One sync run at a time; calls during a run are folded into it.
   *
   * @param {string} [reason] what asked (for debugging only)
   */
  sync(reason = "") {
    if (this.running) return this.running;
    this.running = this._run(reason).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** @param {string} _reason */
  async _run(_reason) {
    if (this.stopped || !this.store.isUnlocked) return;
    clearTimeout(this.timer);
    try {
      if (!this.signedIn) {
        const session = await this.session();
        if (!session) return this._retryLater("offline");
        if (session.device && session.device.revoked) {
          await this._push(); // upload first while the user is still authorised
          this.stop();
          return this.onWipe();
        }
      }
      const pushed = await this._push();
      if (pushed === "wipe") return this.stop();
      if (pushed === "retry") return this._retryLater("push");
      const pulled = await this._pull();
      if (pulled === "wipe") return this.stop();
      if (pulled === "retry") return this._retryLater("pull");
      this.failures = 0;
      await this.store.setMeta("lastSync", Date.now());
      this._status({ phase: "idle", lastError: null, lastSync: Date.now() });
    } catch (err) {
      this._retryLater(String(err && err.name === "AbortError" ? "timeout" : "network"));
    }
  }

  /** No more runs: the device is being wiped (or the page is going away). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * @param {string} why
   * @returns {"retry"}
   */
  _retryLater(why) {
    this.failures += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1));
    // Full jitter: fifty phones coming back into signal at once must not retry in lock-step.
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.sync("timer"), delay);
    this._status({ phase: "waiting", lastError: why, retryInMs: delay });
    return "retry";
  }

  /** @returns {Promise<StepResult>} */
  async _push() {
    const due = dueNow(await this.store.pendingMutations(), Date.now());
    if (!due.length) return "done";
    this._status({ phase: "sending", sent: 0, total: due.length });
    let sent = 0;
    // One batch at a time, each read afresh from the outbox: the answers to one batch rebase the
    // changes queued behind it (same record, next version), so a batch built up front would send
    // them on the version they were made on. Each change is sent at most once per run.
    const attempted = new Set();
    /** @type {Mutation[][]} */
    const singles = [];
    for (;;) {
      let batch = singles.shift();
      if (!batch) {
        const left = dueNow(await this.store.pendingMutations(), Date.now()).filter(
          (m) => !attempted.has(m.mutationId),
        );
        if (!left.length) break;
        batch = batchesOf(left)[0];
      }
      for (const m of batch) attempted.add(m.mutationId);
      await this.store.markSending(batch.map((m) => m.mutationId));
      const body = {
        protocol: PROTOCOL,
        device_id: await this._deviceId(),
        mutations: batch.map((m) => ({
          mutation_id: m.mutationId,
          record_type: m.recordType,
          record_id: m.recordId,
          op: m.op,
          base_version: m.baseVersion,
          payload: m.payload,
          client_time: new Date(m.editedAt || m.createdAt).toISOString(),
        })),
      };
      /** @type {{status: number, data: (PushResponse & ErrorBody) | null}} */
      const { status, data } = await fetchJSON("/api/v1/sync/push", { method: "POST", body });
      if (status === 401 || (status === 400 && data && data.error === "csrf_failed")) {
        this.signedIn = false;
        this._status({ signedIn: false });
        await this._unsend(batch);
        return "retry";
      }
      if (status === 410) {
        await this._unsend(batch);
        this.onWipe();
        return "wipe";
      }
      if (isWholeBatchRefusal(status, data)) {
        // The server could not read the batch as a whole (so it answered no mutation). Send the
        // mutations one at a time: the one it cannot read is shown as needing attention and the
        // rest still go, so one bad change never blocks the queue behind it.
        if (batch.length > 1) {
          await this._unsend(batch);
          singles.unshift(...batch.map((m) => [m]));
        } else {
          await this._apply(
            {
              mutation_id: batch[0].mutationId,
              client_action: "keep_and_show",
              error: { code: data.error, message: data.message, field: null },
            },
            batch[0],
          );
          sent += 1;
        }
        continue;
      }
      if (status !== 200 || !data) {
        // 5xx or a proxy page: the server rolled the batch back; send it all again later.
        await this._unsend(batch);
        return "retry";
      }
      for (const result of data.results) {
        sent += 1;
        await this._apply(result, batch.find((m) => m.mutationId === result.mutation_id));
      }
      this._status({ phase: "sending", sent, total: Math.max(due.length, sent) });
    }
    return "done";
  }

  // The server took our change as version V: our copy is now V, and any edit made on this device
  // while it was in flight (same base) continues from V instead of clashing with ourselves.
  /**
   * @param {Mutation} local
   * @param {number} version
   */
  async _applied(local, version) {
    const record = await this.store.getRecord(local.recordType, local.recordId);
    const type = this.types.get(local.recordType);
    if (type && type.transient) {
      // Its effect arrives in another record with the pull that follows this push.
      await this.store.deleteRecord(local.recordType, local.recordId);
    } else if (record && type && type.accepted) {
      const value = type.accepted(record.value, local.payload);
      await this.store.putRecord(local.recordType, local.recordId, version, value);
    }
    await this.store.rebase(local.recordType, local.recordId, local.baseVersion, version);
    this.onApplied(local.recordType, local.recordId, local.baseVersion, version);
  }

  /** @param {Mutation[]} batch */
  async _unsend(batch) {
    for (const m of batch) await this.store.markRetry(m.mutationId, 0);
  }

  /**
   * @param {MutationResult} result
   * @param {Mutation | undefined} local ours, as sent
   */
  async _apply(result, local) {
    if (result.client_action === "delete_local") {
      await this.store.ack(result.mutation_id);
      if (local && result.version) await this._applied(local, result.version);
    } else if (result.status === "conflict") {
      // Both versions are kept: the device's copy and the server's, for the person to choose.
      await this.store.putConflict({
        conflictId: result.conflict_id || uuid(),
        recordType: result.record_type,
        recordId: result.record_id,
        serverVersion: result.version,
        local: local ? local.payload : null,
        server: result.server_payload,
        at: Date.now(),
      });
      await this.store.ack(result.mutation_id);
    } else if (result.client_action === "retry") {
      await this.store.markRetry(result.mutation_id, Date.now() + BACKOFF_BASE_MS);
    } else {
      /** @type {{code?: string, message?: string, field?: string|null}} */
      const error = result.error || {};
      await this.store.markAttention(result.mutation_id, {
        code: error.code || "rejected",
        message: error.message || "The server could not accept this change.",
        field: error.field || null,
      });
    }
  }

  /** @returns {Promise<StepResult>} */
  async _pull() {
    /** @type {string | null} */
    let cursor = await this.store.getMeta("cursor");
    /** @type {Record<string, Change[]>} the changes of a full pull, by record type */
    const full = {};
    let reset = false;
    for (let page = 0; page < 1000; page += 1) {
      const query = new URLSearchParams({ limit: "200" });
      if (cursor) query.set("cursor", cursor);
      /** @type {{status: number, data: (PullResponse & ErrorBody) | null}} */
      const { status, data } = await fetchJSON(`/api/v1/sync/pull?${query}`);
      if (status === 410) {
        this.onWipe();
        return "wipe";
      }
      if (status === 400 && data && data.error === "bad_cursor") {
        // Start again from a full copy. Only server-derived data is replaced: the outbox stays.
        cursor = null;
        await this.store.setMeta("cursor", null);
        continue;
      }
      if (status === 401) {
        this.signedIn = false;
        this._status({ signedIn: false });
        return "retry";
      }
      if (status !== 200 || !data) return "retry";
      reset = reset || data.reset;
      for (const change of data.changes) {
        if (reset) {
          (full[change.record_type] ||= []).push(change);
        } else if (change.deleted) {
          await this.store.deleteRecord(change.record_type, change.record_id);
        } else {
          await this.store.putRecord(change.record_type, change.record_id, change.version,
            change.payload);
        }
      }
      cursor = data.cursor;
      if (!data.has_more) break;
    }
    if (reset) {
      for (const type of new Set([...this.types.all().map((t) => t.name), ...Object.keys(full)])) {
        const items = (full[type] || [])
          .filter((c) => !c.deleted)
          .map((c) => ({ id: c.record_id, version: c.version, value: c.payload }));
        await this.store.replaceAll(type, items);
      }
    }
    await this.store.setMeta("cursor", cursor);
    this.onChanges();
    return "done";
  }

  /** @returns {Promise<string>} */
  async _deviceId() {
    // Only for the protocol envelope; the server trusts its own HttpOnly device cookie.
    let id = await this.store.getMeta("deviceId");
    if (!id) {
      id = uuid();
      await this.store.setMeta("deviceId", id);
    }
    return id;
  }

  /**
   * Queue a change and try to send it straight away.
   *
   * @param {Omit<import("../store/outbox.js").NewMutation, "mutationId">} change
   */
  async save({ recordType, recordId, baseVersion, payload, op = "upsert" }) {
    await this.store.enqueue({ mutationId: uuid(), recordType, recordId, baseVersion, op, payload });
    // Background Sync (Chromium) wakes us to send even if the tab is closed and reopened later.
    requestOutboxSync();
    this.sync("save");
  }
}
