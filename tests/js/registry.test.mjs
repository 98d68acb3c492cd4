// A record type plugs in by registering itself: the example below needs no change to the store,
// the outbox or the sync client, which only ever see its name.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { createRegistry } from "../../static/js/records/registry.js";
import { validateAnswers } from "../../static/js/records/validate.js";

// A carer's note of a child's return, as a later issue might add it.
const careNoteSections = [{ slug: "note", title: "Note", questions: [
  { name: "home_by", label: "Home by", kind: "datetime", choices: [], max_length: 200 },
  { name: "note", label: "Note", kind: "short", choices: [], max_length: 200 },
] }];
const careNote = {
  name: "care_note",
  title: "My notes",
  listLabel: "Notes on this device",
  empty: "No notes yet.",
  listItem: (record) => ({ text: record.value.note }),
  form: (record) => ({ form: record.id }),
  read: () => ({ answers: {} }),
  validate: (payload) => validateAnswers(payload.answers, careNoteSections),
};

test("a type registers, is found by name, and says its own rules", () => {
  const registry = createRegistry();
  registry.register(careNote);
  const type = registry.get("care_note");
  assert.equal(type.title, "My notes");
  assert.deepEqual(type.validate({ answers: { note: "x".repeat(201) } }).map((p) => p.name), ["note"]);
  assert.deepEqual(registry.all().map((t) => t.name), ["care_note"]);
});

test("the server says which roles keep which types", () => {
  const registry = createRegistry();
  registry.register(careNote);
  registry.register({ ...careNote, name: "interview" });
  const byRole = { worker: ["interview"], carer: ["care_note"] };
  assert.deepEqual(registry.forRole(byRole, "carer").map((t) => t.name), ["care_note"]);
  assert.deepEqual(registry.forRole(byRole, "dsl"), []);
  assert.deepEqual(registry.forRole(byRole, null), []);
});

test("a type without its screens or rules, or registered twice, is refused", () => {
  const registry = createRegistry();
  assert.throws(() => registry.register({ ...careNote, name: "two words" }), TypeError);
  assert.throws(() => registry.register({ ...careNote, validate: undefined }), /validate/);
  // Field mode reads every form it saves through its type: a type without read() is refused at
  // registration, not when someone first saves.
  assert.throws(() => registry.register({ ...careNote, read: undefined }), /read/);
  registry.register(careNote);
  assert.throws(() => registry.register(careNote), /already/);
});

test("the store, the outbox and the sync client do not know any type by name", () => {
  for (const file of ["store/db.js", "store/device.js", "store/records.js", "store/outbox.js",
    "store/conflicts.js", "sync/client.js"]) {
    const source = readFileSync(new URL(`../../static/js/${file}`, import.meta.url), "utf8");
    assert.doesNotMatch(source.replace(/\/\/.*$/gm, ""), /["'`]interview["'`]/, file);
  }
});
