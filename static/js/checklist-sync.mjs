// The tablet checklist's queue logic, without the DOM: what is sent, in which order, and what
// each server answer means for a queued change. The storage (IndexedDB in the browser, memory in
// tests) and the transport (fetch) are injected, so Node's test runner covers every path
// (tests/js/). The DOM module (checklist.js) only wires this to the page.
//
// The screen must show the truth: a change leaves the queue only when the server accepted it or
// a person resolved it. A conflict or a refusal stays in the queue (state "conflict"/"refused")
// and so survives reloads; only "pending" entries are sent.
//
// Queue entry (answer): {seq, audit, user, kind: "answer", question, id, state, base_version,
//   base: {verdict, value, note} (the server's answer the change was made on), body: {...},
//   current?: the server's answer on a conflict, conflicts?: [field], reason?: text}.
// Queue entry (evidence): {seq, audit, user, kind: "evidence", question, id, state, blob, ...}.
// Queue entry (finding): {seq, audit, user, kind: "finding", question, id, state, body} — see
//   finding-queue.mjs; sent in order, so photos queued before it are cited.

/** The answer fields merged one by one (evidence is appended, so it never conflicts). */
export const FIELDS = ["verdict", "value", "note"];

const EMPTY = Object.freeze({ verdict: null, value: null, note: null });

function norm(v) {
  if (v === undefined || v === null) return null;
  const text = String(v).trim();
  return text === "" ? null : text;
}

/** The fields of an answer only (null for missing or blank). */
export function fieldsOf(answer) {
  const a = answer || EMPTY;
  return { verdict: norm(a.verdict), value: norm(a.value), note: norm(a.note) };
}

/** The fields where ``body`` differs from ``base``. */
export function changedFields(base, body) {
  const b = fieldsOf(base);
  const m = fieldsOf(body);
  return FIELDS.filter((f) => b[f] !== m[f]);
}

/**
 * Three-way merge of one answer, field by field: a field only one side changed takes that side's
 * value; a field both changed differently is a conflict (``merged`` keeps mine there).
 */
export function mergeAnswer(base, mine, theirs) {
  const b = fieldsOf(base);
  const m = fieldsOf(mine);
  const t = fieldsOf(theirs);
  const merged = {};
  const conflicts = [];
  for (const f of FIELDS) {
    if (m[f] === b[f]) merged[f] = t[f];
    else if (t[f] === b[f] || t[f] === m[f]) merged[f] = m[f];
    else { merged[f] = m[f]; conflicts.push(f); }
  }
  return { merged, conflicts };
}

/** The error kind of an API error body: tolerant of ``{error}`` and problem details ``{type|code}``. */
export function errorKind(json) {
  if (!json || typeof json !== "object") return "";
  const raw = json.error || json.code || json.type || "";
  // Problem-details types are URIs: the kind is the last path segment.
  return String(raw).split(/[/#]/).filter(Boolean).pop() || "";
}

/** The human reason of an API error body (``message`` or problem details' ``detail``/``title``). */
export function errorMessage(json, status) {
  if (json && typeof json === "object") {
    const text = json.message || json.detail || json.title;
    if (text) return String(text);
  }
  return `Not saved (${status})`;
}

const isPending = (item) => !item.state || item.state === "pending";
const needsPerson = (item) => item.state === "conflict" || item.state === "refused";

/** What the header pill says, from the queue and the connection: ``{kind, text, needYou, waiting}``. */
export function summarise(items, { online = true, problem = null, others = 0 } = {}) {
  const waiting = items.length;
  const needYou = items.filter(needsPerson).length;
  const sending = waiting - needYou;
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const needText = `${plural(needYou, "change")} need${needYou === 1 ? "s" : ""} you`;
  let kind;
  let text;
  if (!online) {
    kind = "offline";  // said even with nothing queued: new changes will wait on this tablet
    text = `Offline — ${plural(waiting, "change")} kept on this tablet`;
  } else if (problem) {
    kind = "error";
    text = waiting ? `${problem} (${waiting} waiting)` : problem;
  } else if (sending) {
    kind = "pending";
    text = `Saving… ${sending} waiting` + (needYou ? ` · ${needText}` : "");
  } else if (needYou) {
    kind = "conflict";
    text = needText;
  } else {
    kind = "saved";
    text = "All changes saved";
  }
  if (others) text += ` · ${plural(others, "change")} by another person wait on this tablet for them to sign in`;
  return { kind, text, needYou, waiting };
}

/**
 * The queue of one audit for one person. ``store``: {enqueue, update, remove, pending(audit)};
 * ``send(item)``: resolves ``{status, json}`` or rejects when the network is unreachable;
 * ``listener(event, item, detail)`` hears "accepted", "merged", "conflict", "refused".
 */
export class Syncer {
  constructor({ store, send, auditId, userId, newId, listener = () => {}, now = () => new Date() }) {
    Object.assign(this, { store, send, auditId, userId, newId, listener, now });
    this.flushing = false;
    this.running = null;   // the sender under way, if any
    this.again = false;    // a flush was asked for while sending
    this.needsLogin = false;
    this.inflight = null;
    this.problem = null;   // why sending stopped (login, another person, server): shown in the pill
    this.offline = false;  // the last attempt could not reach the server
  }

  /** This person's entries of this audit, oldest first (others' wait for their author). */
  async mine() {
    return (await this.store.pending(this.auditId)).filter((r) => r.user === this.userId);
  }

  /** How many entries other people left on this tablet for this audit. */
  async othersWaiting() {
    return (await this.store.pending(this.auditId)).filter((r) => r.user !== this.userId).length;
  }

  /** The unsent answer entry of a question (not the one on the wire), if any. */
  async openEntry(question) {
    const items = await this.mine();
    return items.filter((i) => i.kind === "answer" && i.question === question && i.seq !== this.inflight).pop();
  }

  /**
   * Queue the screen's answer of a question. ``server`` is the server's answer the screen shows
   * it over ({version, verdict, value, note}). An unsent change of the same question is replaced
   * (a new id, so a lost earlier response cannot shadow it); a conflict keeps waiting for its
   * person with the new "mine"; a new change after a refusal is a fresh attempt.
   */
  async queueAnswer(question, body, server) {
    const open = await this.openEntry(question);
    // The device's time of the latest change: offline answers reach the server much later.
    const answeredAt = this.now().toISOString();
    if (open && open.state === "conflict") {
      open.body = fieldsOf(body);
      open.answered_at = answeredAt;
      await this.store.update(open);
      return open;
    }
    if (open) {
      open.body = fieldsOf(body);
      open.answered_at = answeredAt;
      open.id = this.newId();
      open.state = "pending";
      delete open.reason;
      await this.store.update(open);
      return open;
    }
    const entry = {
      audit: this.auditId, user: this.userId, kind: "answer", question, id: this.newId(),
      state: "pending", base_version: (server && server.version) || 0, base: fieldsOf(server),
      body: fieldsOf(body), created: answeredAt, answered_at: answeredAt,
    };
    entry.seq = await this.store.enqueue(entry);
    return entry;
  }

  /** Queue a photo or PDF; resolves with the entry (its ``seq`` names the waiting thumbnail). */
  async queueEvidence(question, blob, filename, takenAt, originalSize) {
    const entry = {
      audit: this.auditId, user: this.userId, kind: "evidence", question, id: this.newId(),
      state: "pending", blob, filename, taken_at: takenAt, created: this.now().toISOString(),
    };
    // The size of the file the person chose (before resizing): the server checks its bound too.
    if (originalSize) entry.original_size = originalSize;
    entry.seq = await this.store.enqueue(entry);
    return entry;
  }

  /**
   * Send every pending entry in order until the queue is empty or sending must stop. A call
   * while sending is under way does not start a second sender: it makes the running one go
   * round once more (it may carry news, e.g. a fresh login) and resolves when that one ends.
   */
  flush() {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.flushing = true;
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.sendAll();
        } while (this.again);
      } finally {
        this.flushing = false;
        this.running = null;
      }
    })();
    return this.running;
  }

  async sendAll() {
    // Each round re-learns why sending stops: the pill and the login box show the latest truth.
    this.problem = null;
    this.needsLogin = false;
    const merges = new Map();
    for (;;) {
      const item = (await this.mine()).find(isPending);
      if (!item) break;
      this.inflight = item.seq;
      let response;
      try {
        response = await this.send(item);
      } catch (e) {
        this.offline = true;
        break; // unreachable: keep the order, try again when the connection returns
      } finally {
        this.inflight = null;
      }
      this.offline = false;
      const count = (merges.get(item.seq) || 0) + 1;
      merges.set(item.seq, count);
      if (count > 5) { this.problem = "The answer keeps changing on the server; retrying"; break; }
      if (!(await this.handle(item, response.status, response.json || {}))) break;
    }
  }

  /** Apply one server answer to its entry; false when sending must stop for now. */
  async handle(item, status, json) {
    if (status >= 200 && status < 300) {
      await this.store.remove(item.seq);
      if (item.kind === "answer") await this.rebase(item.question, json.answer);
      this.listener("accepted", item, json[item.kind] || null);
      return true;
    }
    const kind = errorKind(json);
    if (status === 409 && item.kind === "answer" && json.current) {
      await this.conflict(item, json.current);
      return true;
    }
    // A lost session shows as 401, or as a 400 about the CSRF token when the session cookie (and
    // the token's secret in it) is gone: both keep the queue and need a login, not a refusal.
    if (status === 401 || (status === 400 && /csrf/i.test(`${kind} ${errorMessage(json, status)}`))) {
      this.problem = "Log in again to save (changes are kept on this tablet)";
      this.needsLogin = true;
      return false;
    }
    if (status === 403 && kind === "other_author") {
      this.problem = "Signed in as someone else: these changes wait for their author";
      return false;
    }
    if (status >= 500 || status === 0 || status === 429) {
      this.problem = "The server had a problem; retrying";
      return false;
    }
    // Refused for good (invalid, frozen, forbidden): kept until the person has seen why.
    item.state = "refused";
    item.reason = errorMessage(json, status);
    item.status = status;
    await this.store.update(item);
    this.listener("refused", item, item.reason);
    return true;
  }

  /** Later entries of a question were made on top of the accepted one: move their base. */
  async rebase(question, answer) {
    for (const later of await this.mine()) {
      if (later.kind === "answer" && later.question === question && isPending(later)) {
        later.base_version = answer.version;
        later.base = fieldsOf(answer);
        await this.store.update(later);
      }
    }
  }

  /** A 409: merge field by field; only a field both sides changed waits for a person. */
  async conflict(item, current) {
    // A change made while this one was on the wire is the person's latest intent: fold it in.
    const later = (await this.mine()).filter((i) => i.kind === "answer" && i.question === item.question && i.seq !== item.seq);
    for (const l of later) {
      item.body = l.body;
      await this.store.remove(l.seq);
    }
    const { merged, conflicts } = mergeAnswer(item.base, item.body, current);
    item.base = fieldsOf(current);
    item.base_version = current.version;
    item.body = merged;
    item.id = this.newId();
    if (!conflicts.length) {
      if (!changedFields(item.base, item.body).length) {
        await this.store.remove(item.seq);
        this.listener("accepted", item, current);
      } else {
        item.state = "pending";
        await this.store.update(item);
        this.listener("merged", item, current);
      }
      return;
    }
    item.state = "conflict";
    item.current = current;
    item.conflicts = conflicts;
    await this.store.update(item);
    this.listener("conflict", item, current);
  }

  /**
   * A person chose on a conflict: "mine" keeps my value of each conflicting field, "theirs" takes
   * the server's; either way only the fields I changed are sent, over the server's answer.
   * Resolves with the answer the screen should now show.
   */
  async resolve(question, choice) {
    const item = (await this.mine()).find((i) => i.kind === "answer" && i.question === question && i.state === "conflict");
    if (!item) return null;
    const body = fieldsOf(item.body);
    if (choice === "theirs") for (const f of item.conflicts || FIELDS) body[f] = item.base[f];
    item.body = body;
    item.state = "pending";
    item.id = this.newId();
    delete item.current;
    delete item.conflicts;
    if (!changedFields(item.base, body).length) {
      await this.store.remove(item.seq);
      return Object.assign({ version: item.base_version }, item.base);
    }
    await this.store.update(item);
    return Object.assign({ version: item.base_version }, body);
  }

  /** A person has read why a change was refused: drop it; resolves with the server's answer. */
  async dismiss(seq) {
    const item = (await this.mine()).find((i) => i.seq === seq && i.state === "refused");
    if (!item) return null;
    await this.store.remove(item.seq);
    return item.kind === "answer" ? Object.assign({ version: item.base_version }, item.base) : null;
  }

  /** The header pill for this person's queue. */
  async summary(online) {
    return summarise(await this.mine(), {
      online: online && !this.offline, problem: this.problem, others: await this.othersWaiting(),
    });
  }
}

/**
 * The periodic refresh of the other auditors' answers, asking only whether anything changed:
 * the ETag of the last answers taken in goes back in If-None-Match, and an unchanged checklist
 * answers 304 without a body (headers only, instead of every answer each minute).
 *
 * ``refresh(apply)`` resolves with null when the request failed (offline, error: nothing known),
 * ``{ changed: false }`` on 304, or ``{ changed: true, data }`` after calling ``apply(data)``.
 * ``apply`` returns false when it left some answers out (the person was typing there, or has a
 * change of their own queued): the ETag is then forgotten, so the next refresh brings them again
 * instead of a 304 that would hide them for good.
 */
export class AnswersRefresh {
  constructor({ fetch, url }) {
    this.fetch = fetch;
    this.url = url;
    this.etag = null;
  }

  async refresh(apply) {
    const headers = { Accept: "application/json" };
    if (this.etag) headers["If-None-Match"] = this.etag;
    let response;
    try {
      // no-store: the browser's HTTP cache must not answer the 304 for us with an old body.
      response = await this.fetch(this.url, { credentials: "same-origin", cache: "no-store", headers });
    } catch (e) {
      return null;
    }
    if (response.status === 304) return { changed: false };
    if (!response.ok) return null;
    let data;
    try { data = await response.json(); } catch (e) { return null; }
    const etag = response.headers.get("ETag");
    const complete = (await apply(data)) !== false;
    this.etag = complete && etag ? etag : null;
    return { changed: true, data };
  }
}
