"""Read back everything a page's origin keeps in the browser (IndexedDB, Web Storage, Cache
Storage) and look for a phrase in it, in clear or inside any base64 string."""

from __future__ import annotations

import base64
import binascii

DUMP = """
const dec = new TextDecoder('utf-8');  // not fatal: ciphertext becomes replacement characters
const latin1 = (u8) => { let s = ''; for (const b of u8) s += String.fromCharCode(b); return s; };
const b64 = (u8) => btoa(latin1(u8));
const utf16 = new TextDecoder('utf-16le');
const ser = (v) => {
  if (v instanceof ArrayBuffer) v = new Uint8Array(v);
  if (ArrayBuffer.isView(v)) {
    const u8 = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return { utf8: dec.decode(u8), utf16le: utf16.decode(u8.slice(0, u8.length & ~1)),
             latin1: latin1(u8), base64: b64(u8) };
  }
  if (typeof CryptoKey !== 'undefined' && v instanceof CryptoKey) {
    return { cryptoKey: v.algorithm.name, extractable: v.extractable };
  }
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [ser(k), ser(x)]) };
  if (v instanceof Set) return { set: [...v].map(ser) };
  if (v instanceof Blob) return { blob: v.size };
  if (Array.isArray(v)) return v.map(ser);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = ser(x);
    return o;
  }
  return v;
};
const dumpAll = async () => {
  const out = { indexedDB: [], localStorage: {}, sessionStorage: {}, caches: [] };
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((res, rej) => {
      const rq = indexedDB.open(info.name);
      rq.onsuccess = () => res(rq.result);
      rq.onerror = () => rej(rq.error);
    });
    const stores = {};
    for (const name of db.objectStoreNames) {
      const tx = db.transaction(name, 'readonly');
      const os = tx.objectStore(name);
      const get = (rq) => new Promise((res, rej) => {
        rq.onsuccess = () => res(rq.result);
        rq.onerror = () => rej(rq.error);
      });
      const [keys, values] = await Promise.all([get(os.getAllKeys()), get(os.getAll())]);
      stores[name] = { indexes: [...os.indexNames], keys: ser(keys), values: ser(values) };
    }
    out.indexedDB.push({ name: info.name, stores });
    db.close();
  }
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i); out.localStorage[k] = localStorage.getItem(k);
  }
  for (let i = 0; i < sessionStorage.length; i++) {
    const k = sessionStorage.key(i); out.sessionStorage[k] = sessionStorage.getItem(k);
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    out.caches.push({ name, urls: (await cache.keys()).map((r) => r.url) });
  }
  return out;
};
"""


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def found(dump, needle: str) -> list[str]:
    """Every place the needle shows up, also inside any string that is valid base64."""
    needle = needle.lower()
    hits = []
    for s in _strings(dump):
        if needle in s.lower():
            hits.append(s[:200])
            continue
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(s + "=" * (-len(s) % 4))
            except (binascii.Error, ValueError):
                continue
            for enc in ("utf-8", "utf-16-le", "latin-1"):
                if needle in raw.decode(enc, errors="ignore").lower():
                    hits.append(s[:200])
    return hits


def readable(page, phrase: str) -> list[str]:
    """Where `phrase` can be read in anything the page's origin keeps (see DUMP and found)."""
    return found(page.evaluate(f"async () => {{ {DUMP}\n return await dumpAll(); }}"), phrase)
