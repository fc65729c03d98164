// Test doubles for the checklist queue: a store that copies entries in and out like IndexedDB
// does (so a test cannot pass by sharing objects the browser would not share), and a scripted
// server that answers each request in turn and records what was sent.
import { Syncer } from "../../static/js/checklist-sync.mjs";

/** An in-memory stand-in for offline-queue.js (same four functions); survives "reloads". */
export function memoryStore() {
  const rows = new Map();
  let next = 1;
  const copy = (x) => structuredClone(x);
  return {
    rows,
    async enqueue(entry) { const seq = next++; rows.set(seq, copy({ ...entry, seq })); return seq; },
    async update(entry) { if (!rows.has(entry.seq)) throw new Error("no such entry"); rows.set(entry.seq, copy(entry)); },
    async remove(seq) { rows.delete(seq); },
    async pending(audit) {
      return [...rows.values()].filter((r) => r.audit === audit).sort((a, b) => a.seq - b.seq).map(copy);
    },
  };
}

/** A server that answers with the scripted responses in order; "offline" makes the send fail. */
export function scriptedServer(...replies) {
  const sent = [];
  const send = async (item) => {
    sent.push(structuredClone(item));
    const reply = replies.shift();
    if (reply === undefined) throw new Error("unexpected request for " + JSON.stringify(item));
    if (reply === "offline") throw new TypeError("Failed to fetch");
    return typeof reply === "function" ? reply(item) : reply;
  };
  return { send, sent, replies };
}

let counter = 0;
/** A syncer for audit 7, user 3 (unless overridden), recording the events it emits. */
export function makeSyncer({ store = memoryStore(), server = scriptedServer(), ...rest } = {}) {
  const events = [];
  const syncer = new Syncer({
    store, send: server.send, auditId: 7, userId: 3, newId: () => `id-${++counter}`,
    now: () => new Date("2026-11-30T10:00:00Z"),
    listener: (event, item, detail) => events.push({ event, question: item.question, detail }),
    ...rest,
  });
  return { syncer, store, server, events };
}

/** The JSON the answers API returns for a saved answer. */
export function answer(question, version, fields = {}, by = "Lena Lead") {
  return { question_id: question, version, verdict: null, value: null, note: null, answered_by: by, ...fields };
}
