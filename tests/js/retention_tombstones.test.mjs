// A record deleted on the server (retention's deletion, a reallocation) reaches the phone as a
// tombstone in a pull: the field client removes it from the device store, and keeps the rest.
// The real SyncClient against a stubbed fetch and an in-memory store (no IndexedDB in node).
import assert from "node:assert/strict";
import { test } from "node:test";

import { SyncClient } from "../../static/js/sync/client.js";

function memoryStore(records) {
  const meta = new Map();
  return {
    records,
    async getMeta(key) {
      return meta.has(key) ? meta.get(key) : null;
    },
    async setMeta(key, value) {
      meta.set(key, value);
    },
    async deleteRecord(type, id) {
      records.delete(`${type}:${id}`);
    },
    async putRecord(type, id, version, value) {
      records.set(`${type}:${id}`, { version, value });
    },
    async replaceAll() {
      throw new Error("not a full copy");
    },
  };
}

function answer(body) {
  return { status: 200, json: async () => body };
}

test("a tombstone in a pull deletes the record from the device store", async () => {
  const store = memoryStore(
    new Map([
      ["interview:i-1", { version: 3, value: { answers: { why: "kept on the phone" } } }],
      ["child:c-1", { version: 2, value: {} }],
      ["child:c-2", { version: 5, value: {} }],
    ]),
  );
  await store.setMeta("cursor", "c0");
  const asked = [];
  globalThis.fetch = async (url) => {
    asked.push(String(url));
    return answer({
      reset: false,
      has_more: false,
      cursor: "c1",
      changes: [
        { record_type: "interview", record_id: "i-1", version: 0, deleted: true, payload: null },
        { record_type: "child", record_id: "c-1", version: 0, deleted: true, payload: null },
        { record_type: "child", record_id: "c-2", version: 6, deleted: false, payload: { n: 1 } },
      ],
    });
  };
  const client = new SyncClient({ store });
  assert.equal(await client._pull(), "done");
  assert.deepEqual([...store.records.keys()].sort(), ["child:c-2"]);
  assert.equal(store.records.get("child:c-2").version, 6);
  assert.equal(await store.getMeta("cursor"), "c1");
  assert.match(asked[0], /\/api\/v1\/sync\/pull\?.*cursor=c0/);
});
