"""The device vault (static/js/crypto/vault.js) and encrypted store (static/js/store/device.js over
the object-store modules beside it, with db.js the only code calling indexedDB), driven
in Debian's Chromium from a real page of the app, with real WebCrypto and IndexedDB.

Most tests use a low PBKDF2 iteration count to stay fast; the first runs at the default.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.e2e.storage import DUMP, found

# Imported afresh in every evaluate: each test runs in its own browser context (its own
# IndexedDB), and the modules are the real files the app serves.
PRELUDE = """
const V = await import('/static/js/crypto/vault.js');
const S = await import('/static/js/store/device.js');
const { DeviceStore } = S;
const FAST = { iterations: 2000 };
const PASS = 'correct horse battery';
const uid = () => crypto.randomUUID();
// "ErrorName: message", or null if the promise resolved.
const failure = async (thunk) => {
  try { await thunk(); return null; } catch (e) { return `${e.name}: ${e.message}`; }
};
const unlockedStore = async () => {
  const { vault, dataKey } = await V.createVault(PASS, FAST);
  const store = await DeviceStore.open(uid());
  await store.saveVault(vault);
  store.setKey(dataKey);
  return { store, vault, dataKey };
};
"""


def js(page, body: str, arg=None):
    return page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body}\n}}", arg)


@pytest.fixture
def page(phone):
    phone.goto("/sign-in")
    yield phone
    assert phone.console_errors == []


# ---------------------------------------------------------------- vault


def test_create_and_unlock_round_trip_at_default_iterations(page):
    r = js(
        page,
        """
        const { vault, dataKey } = await V.createVault(PASS);
        const store = await DeviceStore.open(uid());
        await store.saveVault(vault);
        const stored = await store.loadVault();   // as it comes back from IndexedDB
        const again = await V.unlockVault(stored, PASS);
        const box = await V.encryptJSON(dataKey, { hello: 'world' }, 'test:1');
        return {
          defaults: V.KDF_DEFAULTS,
          v: stored.v,
          kdf: { ...stored.kdf, salt: stored.kdf.salt.constructor.name + stored.kdf.salt.length },
          iv: stored.wrapped.iv.constructor.name + stored.wrapped.iv.length,
          data: stored.wrapped.data.constructor.name + stored.wrapped.data.byteLength,
          createdAt: typeof stored.createdAt,
          created: { extractable: dataKey.extractable, usages: dataKey.usages.sort(),
                     alg: dataKey.algorithm },
          unlocked: { extractable: again.extractable, usages: again.usages.sort() },
          exportCreated: await failure(() => crypto.subtle.exportKey('raw', dataKey)),
          exportUnlocked: await failure(() => crypto.subtle.exportKey('jwk', again)),
          decrypted: await V.decryptJSON(again, box, 'test:1'),
          needsUpgrade: V.needsUpgrade(stored),
          hasVault: await store.hasVault(),
        };
        """,
    )
    assert r["defaults"] == {"name": "PBKDF2", "hash": "SHA-256", "iterations": 600000}
    assert r["v"] == 1
    assert r["kdf"] == {
        "name": "PBKDF2",
        "hash": "SHA-256",
        "iterations": 600000,
        "salt": "Uint8Array16",
    }
    assert r["iv"] == "Uint8Array12"
    assert r["data"] == "ArrayBuffer48"  # 32-byte key + 16-byte GCM tag
    assert r["createdAt"] == "number"
    assert r["created"] == {
        "extractable": False,
        "usages": ["decrypt", "encrypt"],
        "alg": {"name": "AES-GCM", "length": 256},
    }
    assert r["unlocked"] == {"extractable": False, "usages": ["decrypt", "encrypt"]}
    assert r["exportCreated"].startswith("InvalidAccessError")
    assert r["exportUnlocked"].startswith("InvalidAccessError")
    assert r["decrypted"] == {"hello": "world"}
    assert r["needsUpgrade"] is False
    assert r["hasVault"] is True


def test_wrong_passphrase(page):
    r = js(
        page,
        """
        const { vault } = await V.createVault(PASS, FAST);
        const empty = await failure(() => V.unlockVault(vault, ''));
        if (!empty.startsWith('WrongPassphraseError')) return empty;
        try { await V.unlockVault(vault, 'correct horse batterx'); return 'unlocked'; }
        catch (e) {
          return { name: e.name, message: e.message, is: e instanceof V.WrongPassphraseError };
        }
        """,
    )
    assert r == {
        "name": "WrongPassphraseError",
        "message": "That passphrase is not right.",
        "is": True,
    }


def test_validate_passphrase(page):
    r = js(
        page,
        """
        const accented = '\u00e9'.repeat(7);  // 7 characters, 14 UTF-8 bytes
        return ['', 'short', '1234567', '12345678', 'a long passphrase', accented, null]
          .map((p) => V.validatePassphrase(p));
        """,
    )
    assert r[0] == "Enter a passphrase"
    assert r[1] and r[2] and r[5]  # under 8 characters
    assert r[3] is None and r[4] is None
    assert r[6] == "Enter a passphrase"


def test_change_passphrase_keeps_records_readable(page):
    r = js(
        page,
        """
        const { store, vault } = await unlockedStore();
        await store.putRecord('interview', 'i-1', 3, { answers: { q: 'kept' } });
        const next = await V.changePassphrase(vault, PASS, 'a brand new passphrase', FAST);
        await store.saveVault(next);
        store.lock();
        const key = await V.unlockVault(await store.loadVault(), 'a brand new passphrase');
        store.setKey(key);
        return {
          record: await store.getRecord('interview', 'i-1'),
          oldPassOnNew: await failure(() => V.unlockVault(next, PASS)),
          wrongOld: await failure(
            () => V.changePassphrase(vault, 'not the passphrase', 'whatever else')),
          weakNew: await failure(() => V.changePassphrase(vault, PASS, 'short')),
          saltChanged: next.kdf.salt.join() !== vault.kdf.salt.join(),
          createdAtKept: next.createdAt === vault.createdAt,
        };
        """,
    )
    assert r["record"] == {
        "type": "interview",
        "id": "i-1",
        "version": 3,
        "value": {"answers": {"q": "kept"}},
    }
    assert r["oldPassOnNew"] == "WrongPassphraseError: That passphrase is not right."
    assert r["wrongOld"] == "WrongPassphraseError: That passphrase is not right."
    assert r["weakNew"].startswith("TypeError")
    assert r["saltChanged"] and r["createdAtKept"]


def test_needs_upgrade_and_upgrade(page):
    r = js(
        page,
        """
        const { vault, dataKey } = await V.createVault(PASS, FAST);
        const box = await V.encryptJSON(dataKey, ['before upgrade'], 'test:up');
        const before = V.needsUpgrade(vault);
        const upgraded = await V.upgradeVault(vault, PASS);
        const key = await V.unlockVault(upgraded, PASS);
        return {
          before,
          after: V.needsUpgrade(upgraded),
          iterations: upgraded.kdf.iterations,
          readable: await V.decryptJSON(key, box, 'test:up'),
          wrong: await failure(() => V.upgradeVault(vault, 'not the passphrase')),
          tooFew: await failure(() => V.createVault(PASS, { iterations: 10 })),
        };
        """,
    )
    assert r["before"] is True
    assert r["after"] is False
    assert r["iterations"] == 600000
    assert r["readable"] == ["before upgrade"]
    assert r["wrong"].startswith("WrongPassphraseError")
    assert r["tooFew"].startswith("RangeError")


def test_recovery_key_unwraps_and_resets(page):
    recovery = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
    other = base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
    r = js(
        page,
        """
        const [recoveryKey, other] = arg;
        const { vault, dataKey } = await V.createVault(PASS, { ...FAST, recoveryKey });
        const box = await V.encryptJSON(dataKey, 'unsent work', 'test:rec');
        const viaRecovery = await V.unlockWithRecovery(vault, recoveryKey);
        const reset = await V.resetPassphrase(vault, recoveryKey, 'the new passphrase', FAST);
        const changed = await V.changePassphrase(reset, 'the new passphrase', 'another one!', FAST);
        const { vault: bare } = await V.createVault(PASS, FAST);
        return {
          extractable: viaRecovery.extractable,
          viaRecovery: await V.decryptJSON(viaRecovery, box, 'test:rec'),
          afterReset: await V.decryptJSON(
            await V.unlockVault(reset, 'the new passphrase'), box, 'test:rec'),
          recoveryKeptOnChange: await V.decryptJSON(
            await V.unlockWithRecovery(changed, recoveryKey), box, 'test:rec'),
          wrongKey: await failure(() => V.unlockWithRecovery(vault, other)),
          noRecovery: await failure(() => V.unlockWithRecovery(bare, recoveryKey)),
        };
        """,
        [recovery, other],
    )
    assert r["extractable"] is False
    assert r["viaRecovery"] == r["afterReset"] == r["recoveryKeptOnChange"] == "unsent work"
    assert r["wrongKey"].startswith("RecoveryError")
    assert r["noRecovery"].startswith("RecoveryError")


def test_encrypt_uses_a_fresh_iv_every_time(page):
    r = js(
        page,
        """
        const { dataKey } = await V.createVault(PASS, FAST);
        const boxes = [];
        for (let i = 0; i < 50; i++) {
          boxes.push(await V.encryptJSON(dataKey, { same: 'value' }, 'a:b:1'));
        }
        const hex = (b) => [...new Uint8Array(b.buffer || b)]
          .map((x) => x.toString(16).padStart(2, '0')).join('');
        return {
          ivLengths: [...new Set(boxes.map((b) => b.iv.length))],
          ivTypes: [...new Set(boxes.map(
            (b) => b.iv.constructor.name + '/' + b.ct.constructor.name))],
          distinctIvs: new Set(boxes.map((b) => hex(b.iv))).size,
          distinctCts: new Set(boxes.map((b) => hex(b.ct))).size,
        };
        """,
    )
    assert r == {
        "ivLengths": [12],
        "ivTypes": ["Uint8Array/ArrayBuffer"],
        "distinctIvs": 50,
        "distinctCts": 50,
    }


def test_tampering_wrong_aad_and_wrong_key_fail_with_decrypt_error(page):
    r = js(
        page,
        """
        const { dataKey } = await V.createVault(PASS, FAST);
        const { dataKey: otherKey } = await V.createVault(PASS, FAST);
        const aad = 'records:interview:i-1:2';
        const box = await V.encryptJSON(dataKey, { answers: { q: 'x' } }, aad);
        const flipCt = new Uint8Array(box.ct.slice(0)); flipCt[0] ^= 1;
        const flipTag = new Uint8Array(box.ct.slice(0)); flipTag[flipTag.length - 1] ^= 0x80;
        const flipIv = box.iv.slice(); flipIv[5] ^= 1;
        const asError = async (thunk) => {
          try { await thunk(); return 'decrypted'; }
          catch (e) { return e instanceof V.DecryptError ? e.name : 'other ' + e.name; }
        };
        return {
          ok: await V.decryptJSON(dataKey, box, aad),
          ct: await asError(() => V.decryptJSON(dataKey, { iv: box.iv, ct: flipCt.buffer }, aad)),
          tag: await asError(() => V.decryptJSON(dataKey, { iv: box.iv, ct: flipTag.buffer }, aad)),
          iv: await asError(() => V.decryptJSON(dataKey, { iv: flipIv, ct: box.ct }, aad)),
          truncated: await asError(
            () => V.decryptJSON(dataKey, { iv: box.iv, ct: box.ct.slice(0, 10) }, aad)),
          aadVersion: await asError(() => V.decryptJSON(dataKey, box, 'records:interview:i-1:3')),
          aadId: await asError(() => V.decryptJSON(dataKey, box, 'records:interview:i-2:2')),
          key: await asError(() => V.decryptJSON(otherKey, box, aad)),
          noAad: await failure(() => V.encryptJSON(dataKey, 1)),
        };
        """,
    )
    assert r["ok"] == {"answers": {"q": "x"}}
    for k in ("ct", "tag", "iv", "truncated", "aadVersion", "aadId", "key"):
        assert r[k] == "DecryptError", k
    assert r["noAad"].startswith("TypeError")


# ---------------------------------------------------------------- device store


def test_records_and_outbox_round_trip(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        await store.putRecord('interview', 'b', 1, { n: 'B' });
        await store.putRecord('interview', 'a', 2, { n: 'A', nested: [1, { x: null }] });
        await store.putRecord('child', 'c', 7, { n: 'C' });
        await store.putRecord('interview', 'a', 3, { n: 'A3' });  // replaces
        const one = await store.getRecord('interview', 'a');
        const missing = await store.getRecord('interview', 'zzz');
        const list = await store.listRecords('interview');
        await store.deleteRecord('interview', 'b');
        const afterDelete = (await store.listRecords('interview')).map((x) => x.id);

        const q = [];
        q.push(await store.enqueue({ mutationId: 'm1', recordType: 'interview', recordId: 'a',
                                     baseVersion: 3, op: 'upsert',
                                     payload: { answers: { q: 1 } } }));
        q.push(await store.enqueue({ mutationId: 'm2', recordType: 'interview', recordId: 'b',
                                     baseVersion: null, payload: { answers: { q: 2 } } }));
        q.push(await store.enqueue({ mutationId: 'm3', recordType: 'child', recordId: 'c',
                                     baseVersion: 7, op: 'delete', payload: null }));
        const pending = await store.pendingMutations();
        await store.setMeta('cursor', 'abc');
        return {
          one, missing, list, afterDelete, q, pending,
          counts: await store.counts(),
          meta: [await store.getMeta('cursor'), await store.getMeta('nothing')],
          estimate: typeof (await store.estimate()).quota,
        };
        """,
    )
    assert r["one"] == {"type": "interview", "id": "a", "version": 3, "value": {"n": "A3"}}
    assert r["missing"] is None
    assert [(x["id"], x["version"], x["value"]) for x in r["list"]] == [
        ("a", 3, {"n": "A3"}),
        ("b", 1, {"n": "B"}),
    ]
    assert r["afterDelete"] == ["a"]
    assert [(x["mutationId"], x["coalesced"]) for x in r["q"]] == [
        ("m1", False),
        ("m2", False),
        ("m3", False),
    ]
    seqs = [x["seq"] for x in r["q"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    p = r["pending"]
    assert [m["mutationId"] for m in p] == ["m1", "m2", "m3"]
    assert p[0]["recordType"] == "interview" and p[0]["recordId"] == "a"
    assert p[0]["baseVersion"] == 3 and p[0]["op"] == "upsert"
    assert p[0]["payload"] == {"answers": {"q": 1}}
    assert p[0]["status"] == "pending" and p[0]["attempts"] == 0 and p[0]["attention"] is False
    assert p[0]["lastError"] is None and "box" not in p[0]
    assert p[1]["op"] == "upsert" and p[1]["baseVersion"] is None
    assert p[2]["op"] == "delete" and p[2]["payload"] is None
    assert r["counts"] == {"pending": 3, "attention": 0}
    assert r["meta"] == ["abc", None]
    assert r["estimate"] == "number"


def test_locked_store_throws_but_counts_work(page):
    r = js(
        page,
        """
        const { store, vault } = await unlockedStore();
        await store.putRecord('interview', 'a', 1, { n: 1 });
        await store.enqueue({ mutationId: 'm1', recordType: 'interview', recordId: 'a',
                              baseVersion: 1, payload: {} });
        await store.enqueue({ mutationId: 'm2', recordType: 'interview', recordId: 'b',
                              baseVersion: 1, payload: {} });
        await store.markAttention('m2', { code: 'invalid', message: 'Check the answers.' });
        store.lock();
        const calls = {
          putRecord: () => store.putRecord('interview', 'a', 2, {}),
          getRecord: () => store.getRecord('interview', 'a'),
          listRecords: () => store.listRecords('interview'),
          deleteRecord: () => store.deleteRecord('interview', 'a'),
          replaceAll: () => store.replaceAll('interview', []),
          enqueue: () => store.enqueue({ mutationId: 'm9', recordType: 'interview', recordId: 'a',
                                         baseVersion: 1, payload: {} }),
          pendingMutations: () => store.pendingMutations(),
          rebase: () => store.rebase('interview', 'a', 1, 2),
          putConflict: () => store.putConflict(
            { conflictId: 'c', recordType: 'interview', recordId: 'a' }),
          listConflicts: () => store.listConflicts(),
          deleteConflict: () => store.deleteConflict('c'),
        };
        const errors = {};
        for (const [name, call] of Object.entries(calls)) errors[name] = await failure(call);
        // A store opened afresh (the unlock screen after a reload) never had a key.
        const fresh = await DeviceStore.open(store.userId);
        return {
          isUnlocked: store.isUnlocked,
          errors,
          lockedIs: await (async () => { try { await store.listRecords('interview'); }
                                          catch (e) { return e instanceof S.LockedError; } })(),
          counts: await store.counts(),
          freshUnlocked: fresh.isUnlocked,
          freshCounts: await fresh.counts(),
          freshHasVault: await fresh.hasVault(),
          extractableRefused: await failure(async () =>
            store.setKey(await crypto.subtle.generateKey(
              { name: 'AES-GCM', length: 256 }, true, ['encrypt']))),
          unlockedAgain: await (async () => {
            store.setKey(await V.unlockVault(vault, PASS));
            return (await store.getRecord('interview', 'a')).value;
          })(),
        };
        """,
    )
    assert r["isUnlocked"] is False
    locked = "LockedError: Homeward is locked on this device."
    assert r["errors"] == {k: locked for k in r["errors"]}
    assert len(r["errors"]) == 11
    assert r["lockedIs"] is True
    assert r["counts"] == {"pending": 1, "attention": 1}
    assert r["freshUnlocked"] is False
    assert r["freshCounts"] == {"pending": 1, "attention": 1}
    assert r["freshHasVault"] is True
    assert r["extractableRefused"].startswith("TypeError")
    assert r["unlockedAgain"] == {"n": 1}


def test_enqueue_coalesces_a_pending_mutation_never_sent(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        const save = (mutationId, answers, baseVersion = 4) => store.enqueue({
          mutationId, recordType: 'interview', recordId: 'a', baseVersion, payload: { answers } });
        const other = await store.enqueue({ mutationId: 'o1', recordType: 'interview',
                                            recordId: 'z', baseVersion: 1,
                                            payload: { answers: { z: 1 } } });
        const steps = {};
        steps.first = await save('m1', { q: 'a' });
        // Autosave fires again and again: still one mutation, the latest payload, the first id.
        for (let i = 0; i < 30; i++) await save(`auto-${i}`, { q: 'ab'.repeat(i) });
        steps.auto = await save('m2', { q: 'final draft' }, 5);
        const afterAutosave = await store.pendingMutations();

        // Once handed to the server it must not change: a new edit queues behind it...
        await store.markSending(['m1']);
        steps.whileSending = await save('m3', { q: 'edited while sending' });
        steps.coalescesIntoNew = await save('m4', { q: 'edited again' });
        // ...and it stays untouchable when it comes back for a retry (the server may have it).
        await store.markRetry('m1', 0);
        steps.afterRetry = await save('m5', { q: 'third edit' });
        const afterSending = await store.pendingMutations();
        return { other, steps, afterAutosave, afterSending, counts: await store.counts() };
        """,
    )
    s = r["steps"]
    assert s["first"]["mutationId"] == "m1" and s["first"]["coalesced"] is False
    assert s["auto"] == {"mutationId": "m1", "seq": s["first"]["seq"], "coalesced": True}
    mine = [m for m in r["afterAutosave"] if m["recordId"] == "a"]
    assert len(mine) == 1
    assert mine[0]["mutationId"] == "m1"
    assert mine[0]["payload"] == {"answers": {"q": "final draft"}}
    assert mine[0]["baseVersion"] == 4  # the base of the first unsent edit is kept
    assert [m["mutationId"] for m in r["afterAutosave"]] == ["o1", "m1"]

    assert s["whileSending"]["mutationId"] == "m3" and s["whileSending"]["coalesced"] is False
    assert s["coalescesIntoNew"] == {
        "mutationId": "m3",
        "seq": s["whileSending"]["seq"],
        "coalesced": True,
    }
    assert s["afterRetry"]["mutationId"] == "m3" and s["afterRetry"]["coalesced"] is True
    by_id = {m["mutationId"]: m for m in r["afterSending"]}
    assert [m["mutationId"] for m in r["afterSending"]] == ["o1", "m1", "m3"]
    assert by_id["m1"]["payload"] == {"answers": {"q": "final draft"}}
    assert by_id["m1"]["status"] == "pending" and by_id["m1"]["attempts"] == 1
    assert by_id["m3"]["payload"] == {"answers": {"q": "third edit"}}
    assert r["counts"] == {"pending": 3, "attention": 0}


def test_concurrent_autosaves_still_make_one_mutation_per_record(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        const saves = [];
        for (let i = 0; i < 20; i++) {
          for (const rec of ['a', 'b']) {
            saves.push(store.enqueue({ mutationId: `${rec}-${i}`, recordType: 'interview',
                                       recordId: rec, baseVersion: 1, payload: { i } }));
          }
        }
        await Promise.all(saves);
        const all = await store.pendingMutations();
        return all.map((m) => [m.mutationId, m.recordId, m.payload.i]);
        """,
    )
    assert r == [["a-0", "a", 19], ["b-0", "b", 19]]


def test_a_retried_mutation_is_not_coalesced(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        const save = (mutationId, q) => store.enqueue({
          mutationId, recordType: 'interview', recordId: 'a', baseVersion: 1, payload: { q } });
        await save('m1', 'one');
        await store.markSending(['m1']);
        await store.markRetry('m1', Date.now() + 60000);  // e.g. the request timed out
        const second = await save('m2', 'two');
        const all = await store.pendingMutations();
        return {
          second,
          all: all.map((m) => [m.mutationId, m.status, m.payload.q, m.nextAttemptAt > 0]),
        };
        """,
    )
    assert r["second"]["mutationId"] == "m2" and r["second"]["coalesced"] is False
    assert r["all"] == [["m1", "pending", "one", True], ["m2", "pending", "two", False]]


def test_ack_deletes_and_mark_attention_keeps(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        for (const [id, rec] of [['m1', 'a'], ['m2', 'b'], ['m3', 'c']]) {
          await store.enqueue({ mutationId: id, recordType: 'interview', recordId: rec,
                                baseVersion: 1, payload: { rec } });
        }
        await store.markSending(['m1', 'm2', 'm3']);
        await store.ack('m1');
        await store.markAttention('m2', { code: 'validation', message: 'An answer is missing.',
                                          field: 'risk_factors' });
        await store.markRetry('m3', 0);
        const afterReplies = await store.pendingMutations();
        const counts = await store.counts();
        // A later edit to the record that needs attention is queued separately, not merged.
        const edit = await store.enqueue({ mutationId: 'm4', recordType: 'interview', recordId: 'b',
                                           baseVersion: 1, payload: { rec: 'b2' } });
        // An ack for something already gone is harmless.
        await store.ack('m1');
        return {
          afterReplies: afterReplies.map(({ mutationId, status, attention, lastError, attempts }) =>
            ({ mutationId, status, attention, lastError, attempts })),
          counts,
          edit,
          countsAfterEdit: await store.counts(),
        };
        """,
    )
    assert r["afterReplies"] == [
        {
            "mutationId": "m2",
            "status": "attention",
            "attention": True,
            "lastError": {
                "code": "validation",
                "message": "An answer is missing.",
                "field": "risk_factors",
            },
            "attempts": 1,
        },
        {
            "mutationId": "m3",
            "status": "pending",
            "attention": False,
            "lastError": None,
            "attempts": 1,
        },
    ]
    assert r["counts"] == {"pending": 1, "attention": 1}
    assert r["edit"]["mutationId"] == "m4" and r["edit"]["coalesced"] is False
    assert r["countsAfterEdit"] == {"pending": 2, "attention": 1}


def test_rebase_moves_queued_edits_onto_the_accepted_version(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        await store.enqueue({ mutationId: 'm1', recordType: 'interview', recordId: 'a',
                              baseVersion: 4, payload: { q: 1 } });
        await store.markSending(['m1']);
        await store.enqueue({ mutationId: 'm2', recordType: 'interview', recordId: 'a',
                              baseVersion: 4, payload: { q: 2 } });
        await store.ack('m1');
        const n = await store.rebase('interview', 'a', 4, 5);
        const none = await store.rebase('interview', 'a', 4, 6);
        const after = (await store.pendingMutations())
          .map((m) => [m.mutationId, m.baseVersion, m.payload]);
        return { n, none, after };
        """,
    )
    assert r["n"] == 1 and r["none"] == 0
    assert r["after"] == [["m2", 5, {"q": 2}]]


def test_conflicts_round_trip(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        await store.putConflict({ conflictId: 'c2', recordType: 'interview', recordId: 'a',
                                  serverVersion: 6, local: { answers: { q: 'mine' } },
                                  server: { answers: { q: 'theirs' } }, at: 2000 });
        await store.putConflict({ conflictId: 'c1', recordType: 'interview', recordId: 'b',
                                  serverVersion: 2, local: null, server: { answers: {} },
                                  at: 1000 });
        const listed = await store.listConflicts();
        await store.deleteConflict('c1');
        return { listed, after: (await store.listConflicts()).map((c) => c.conflictId) };
        """,
    )
    assert r["listed"] == [
        {
            "conflictId": "c1",
            "recordType": "interview",
            "recordId": "b",
            "serverVersion": 2,
            "at": 1000,
            "local": None,
            "server": {"answers": {}},
        },
        {
            "conflictId": "c2",
            "recordType": "interview",
            "recordId": "a",
            "serverVersion": 6,
            "at": 2000,
            "local": {"answers": {"q": "mine"}},
            "server": {"answers": {"q": "theirs"}},
        },
    ]
    assert r["after"] == ["c2"]


def test_replace_all(page):
    r = js(
        page,
        """
        const { store } = await unlockedStore();
        for (const id of ['a', 'b', 'c']) {
          await store.putRecord('interview', id, 1, { id, old: true });
        }
        await store.putRecord('child', 'x', 1, { keep: true });
        await store.enqueue({ mutationId: 'm1', recordType: 'interview', recordId: 'a',
                              baseVersion: 1, payload: { draft: true } });
        await store.replaceAll('interview', [
          { id: 'b', version: 2, value: { id: 'b', old: false } },
          { id: 'd', version: 1, value: { id: 'd', old: false } },
        ]);
        const afterFull = await store.listRecords('interview');
        await store.replaceAll('interview', []);
        return {
          afterFull: afterFull.map((x) => [x.id, x.version, x.value]),
          emptied: await store.listRecords('interview'),
          child: await store.getRecord('child', 'x'),
          outbox: (await store.pendingMutations()).map((m) => m.mutationId),
        };
        """,
    )
    assert r["afterFull"] == [
        ["b", 2, {"id": "b", "old": False}],
        ["d", 1, {"id": "d", "old": False}],
    ]
    assert r["emptied"] == []
    assert r["child"]["value"] == {"keep": True}
    assert r["outbox"] == ["m1"]  # a full pull never touches unsent work


def test_open_refuses_anything_but_an_opaque_id(page):
    r = js(
        page,
        """
        return {
          email: await failure(() => DeviceStore.open('leah.marsh@example.org')),
          name: await failure(() => DeviceStore.wipe('Leah Marsh')),
        };
        """,
    )
    assert r["email"].startswith("TypeError") and r["name"].startswith("TypeError")


def test_wipe_removes_the_database(page):
    r = js(
        page,
        """
        const names = async () => (await indexedDB.databases()).map((d) => d.name).sort();
        const { store } = await unlockedStore();
        const userId = store.userId;
        await store.putRecord('interview', 'a', 1, { n: 1 });
        // A second connection in this tab, as if another module had opened it too.
        const second = await DeviceStore.open(userId);
        const before = await names();
        await DeviceStore.wipe(userId);
        const after = await names();
        const reopened = await DeviceStore.open(userId);

        // Another user's store, a store closed by someone else's wipe, and an unrelated database.
        const { store: other } = await unlockedStore();
        const unrelated = await new Promise((res, rej) => {
          const rq = indexedDB.open('not-homeward', 1);
          rq.onsuccess = () => { rq.result.close(); res(true); };
          rq.onerror = () => rej(rq.error);
        });
        const wiped = await DeviceStore.wipeAll();
        return {
          name: `homeward-u-${userId}`,
          before, after,
          secondClosed: await failure(() => second.counts()),
          storeLocked: store.isUnlocked,
          reopenedHasVault: await reopened.hasVault().catch((e) => e.name),
          wiped: wiped.sort(),
          otherName: `homeward-u-${other.userId}`,
          afterAll: await names(),
          unrelated,
        };
        """,
    )
    assert r["name"] in r["before"]
    assert r["name"] not in r["after"]
    assert r["secondClosed"].startswith("StoreClosedError")
    assert r["storeLocked"] is False
    # wipeAll closed the reopened (empty) store and every other Homeward database.
    assert r["reopenedHasVault"] == "StoreClosedError"
    assert r["otherName"] in r["wiped"] and r["name"] in r["wiped"]
    assert r["afterAll"] == ["not-homeward"]


def test_wipe_is_not_blocked_by_another_tab(page):
    other_tab = page.context.new_page()
    other_tab.goto("/sign-in")
    user_id = js(
        other_tab,
        """
        const { store } = await unlockedStore();
        window.keepOpen = store;  // this tab keeps its connection
        return store.userId;
        """,
    )
    r = js(
        page,
        """
        await DeviceStore.wipe(arg);
        return (await indexedDB.databases()).map((d) => d.name);
        """,
        user_id,
    )
    assert f"homeward-u-{user_id}" not in r
    # The other tab let go when asked (versionchange), so its store is closed, not half-working.
    assert js(other_tab, "return await failure(() => window.keepOpen.counts());").startswith(
        "StoreClosedError"
    )
    other_tab.close()


# ---------------------------------------------------------------- nothing readable at rest

CANARY = "Canary-Okapi-3317"
CANARY_PASS = "Canary-Passphrase-8841"


def test_canary_appears_nowhere_at_rest(page):
    r = js(
        page,
        DUMP
        + """
        const [canary, pass] = arg;
        const { vault, dataKey } = await V.createVault(pass, FAST);
        const store = await DeviceStore.open(uid());
        await store.saveVault(vault);
        store.setKey(dataKey);
        const answers = { summary: `Said ${canary} was where she stayed`, [canary]: [canary] };
        await store.putRecord('interview', 'i-1', 1, { child: canary, answers });
        await store.replaceAll('child', [{ id: 'c-1', version: 2, value: { name: canary } }]);
        await store.enqueue({ mutationId: 'm1', recordType: 'interview', recordId: 'i-1',
                              baseVersion: 1, payload: { answers } });
        await store.enqueue({ mutationId: 'm2', recordType: 'interview', recordId: 'i-1',
                              baseVersion: 1, payload: { answers, again: canary } });  // coalesced
        await store.enqueue({ mutationId: 'm3', recordType: 'interview', recordId: 'i-2',
                              baseVersion: 1, payload: { note: canary } });
        await store.markSending(['m3']);
        await store.markAttention('m3', { code: 'validation', message: 'Check the answers.' });
        await store.putConflict({ conflictId: 'k1', recordType: 'interview', recordId: 'i-1',
                                  serverVersion: 2, local: answers,
                                  server: { answers: { q: canary } } });
        await store.setMeta('cursor', 'c-123');
        await store.setMeta('lastSync', Date.now());

        // It is all there and readable with the key...
        const readable = JSON.stringify([
          await store.getRecord('interview', 'i-1'), await store.listRecords('child'),
          await store.pendingMutations(), await store.listConflicts(),
        ]);
        // ...and the dump can see a canary when one is there in bytes.
        const control = JSON.stringify(ser({ b: new TextEncoder().encode(canary) }));
        store.lock();
        return {
          readable,
          control,
          dump: await dumpAll(),
          exportable: await failure(() => crypto.subtle.exportKey('raw', dataKey)),
        };
        """,
        [CANARY, CANARY_PASS],
    )
    assert r["readable"].count(CANARY) >= 8
    assert found(json.loads(r["control"]), CANARY)
    dump = r["dump"]
    # The dump is not vacuous: it holds the store's envelope...
    [db] = [d for d in dump["indexedDB"] if d["name"].startswith("homeward-u-")]
    stores = db["stores"]
    assert set(stores) == {"vault", "records", "outbox", "conflicts", "meta"}
    assert len(stores["records"]["values"]) == 2
    assert {v["mutationId"] for v in stores["outbox"]["values"]} == {"m1", "m3"}
    assert stores["outbox"]["indexes"] and "seq" in stores["outbox"]["indexes"]
    assert len(stores["conflicts"]["values"]) == 1
    assert stores["vault"]["keys"] == ["vault"]
    # ...but neither the canary nor the passphrase, in any encoding we can think of.
    assert found(dump, CANARY) == []
    assert found(dump, CANARY_PASS) == []
    assert CANARY.lower() not in json.dumps(dump).lower()
    # Rows hold only the envelope and a box.
    assert all(set(v) == {"type", "id", "version", "box"} for v in stores["records"]["values"])
    assert all(set(v["box"]) == {"iv", "ct"} for v in stores["outbox"]["values"])
    assert r["exportable"].startswith("InvalidAccessError")
