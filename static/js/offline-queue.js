// A persistent, ordered queue of changes waiting for the server, kept in IndexedDB so it
// survives reloads and closed tabs. Entries: {seq, audit, kind: "answer"|"evidence", id, ...}.
const DB_NAME = "audit-offline";
const STORE = "mutations";

let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        store.createIndex("audit", "audit");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

function run(mode, fn) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  }));
}

/** Append an entry; resolves with its sequence number. */
export function enqueue(entry) {
  return run("readwrite", (store) => store.add(entry));
}

/** Replace a stored entry (same seq). */
export function update(entry) {
  return run("readwrite", (store) => store.put(entry));
}

/** Remove an entry once the server has answered it. */
export function remove(seq) {
  return run("readwrite", (store) => store.delete(seq));
}

/** Every waiting entry of one audit, oldest first. */
export function pending(auditId) {
  return run("readonly", (store) => store.index("audit").getAll(auditId))
    .then((rows) => (rows || []).sort((a, b) => a.seq - b.seq));
}

/** A random client-generated id for idempotent replays. */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
