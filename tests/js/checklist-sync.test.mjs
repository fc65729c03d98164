// Unit tests of the checklist queue logic (static/js/checklist-sync.mjs), one per queue path:
// accepted, conflict, field merge, refused (422/423/403), offline, reload, re-login.
// Run: node --test tests/js/ (part of `make test`).
import { test } from "node:test";
import assert from "node:assert/strict";

import { changedFields, errorKind, errorMessage, mergeAnswer, summarise } from "../../static/js/checklist-sync.mjs";
import { answer, makeSyncer, memoryStore, scriptedServer } from "./helpers.mjs";

const EMPTY = { version: 0, verdict: null, value: null, note: null };
const ok = (a) => ({ status: 200, json: { answer: a, replayed: false } });
const conflict = (a) => ({ status: 409, json: { error: "conflict", message: "Changed meanwhile", current: a } });

test("accepted: a queued answer is sent with its base version and id, then leaves the queue", async () => {
  const server = scriptedServer(ok(answer(11, 1, { verdict: "conforming" })));
  const { syncer, store, events } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming", value: null, note: null }, EMPTY);
  await syncer.flush();
  assert.equal(server.sent.length, 1);
  assert.equal(server.sent[0].base_version, 0);
  assert.deepEqual(server.sent[0].body, { verdict: "conforming", value: null, note: null });
  assert.match(server.sent[0].id, /^id-/);
  assert.equal(store.rows.size, 0);
  assert.deepEqual(events.map((e) => e.event), ["accepted"]);
  assert.deepEqual(await syncer.summary(true), { kind: "saved", text: "All changes saved", needYou: 0, waiting: 0 });
});

test("an unsent change of the same question is replaced under a new id, not queued twice", async () => {
  const { syncer, store } = makeSyncer();
  const first = await syncer.queueAnswer(11, { verdict: "conforming" }, EMPTY);
  const second = await syncer.queueAnswer(11, { verdict: "minor_nc", note: "WI-7" }, EMPTY);
  assert.equal(store.rows.size, 1);
  assert.equal(second.seq, first.seq);
  assert.notEqual(second.id, first.id);
  assert.deepEqual([...store.rows.values()][0].body, { verdict: "minor_nc", value: null, note: "WI-7" });
});

test("a change made while the previous one is on the wire is rebased on the accepted version", async () => {
  let syncer;
  const server = scriptedServer(
    async () => {
      await syncer.queueAnswer(11, { verdict: "minor_nc" }, EMPTY);  // typed during the request
      return ok(answer(11, 1, { verdict: "conforming" }, "Arne"));
    },
    (item) => ok(answer(11, 2, item.body, "Arne")),
  );
  ({ syncer } = makeSyncer({ server }));
  await syncer.queueAnswer(11, { verdict: "conforming" }, EMPTY);
  await syncer.flush();
  assert.equal(server.sent.length, 2);
  assert.equal(server.sent[1].base_version, 1);
  assert.deepEqual(server.sent[1].base, { verdict: "conforming", value: null, note: null });
  assert.equal((await syncer.mine()).length, 0);
});

test("conflict: both changed the verdict; the change stays queued for a person, nothing is resent", async () => {
  const theirs = answer(11, 1, { verdict: "major_nc" });
  const server = scriptedServer(conflict(theirs));
  const { syncer, events } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming", note: "ok" }, EMPTY);
  await syncer.flush();
  await syncer.flush();  // the retry timer: a conflict is not sent again
  assert.equal(server.sent.length, 1);
  const [item] = await syncer.mine();
  assert.equal(item.state, "conflict");
  assert.deepEqual(item.conflicts, ["verdict"]);
  assert.deepEqual(item.current, theirs);
  assert.deepEqual(events.map((e) => e.event), ["conflict"]);
  const pill = await syncer.summary(true);
  assert.equal(pill.kind, "conflict");
  assert.equal(pill.text, "1 change needs you");
});

test("conflict survives a reload and 'keep mine' sends my fields over the server's version", async () => {
  const store = memoryStore();
  const theirs = answer(11, 1, { verdict: "major_nc" });
  const first = makeSyncer({ store, server: scriptedServer(conflict(theirs)) });
  await first.syncer.queueAnswer(11, { verdict: "conforming", note: "seen at line 2" }, EMPTY);
  await first.syncer.flush();

  const server = scriptedServer((item) => ok(answer(11, 2, item.body, "Arne")));
  const { syncer } = makeSyncer({ store, server });  // the page was reloaded
  const [kept] = await syncer.mine();
  assert.equal(kept.state, "conflict");
  assert.equal((await syncer.summary(true)).text, "1 change needs you");
  const shown = await syncer.resolve(11, "mine");
  assert.deepEqual({ ...shown }, { version: 1, verdict: "conforming", value: null, note: "seen at line 2" });
  await syncer.flush();
  assert.equal(server.sent.length, 1);
  assert.equal(server.sent[0].base_version, 1);
  assert.deepEqual(server.sent[0].body, { verdict: "conforming", value: null, note: "seen at line 2" });
  assert.equal((await syncer.summary(true)).text, "All changes saved");
});

test("'take theirs' drops my conflicting field but still sends the field only I changed", async () => {
  const base = { version: 1, verdict: "conforming", value: null, note: "old" };
  const theirs = answer(11, 2, { verdict: "major_nc", note: "old" });
  const server = scriptedServer(conflict(theirs), (item) => ok(answer(11, 3, item.body)));
  const { syncer } = makeSyncer({ server });
  // Mine: a new verdict and a new note; theirs: a new verdict only.
  await syncer.queueAnswer(11, { verdict: "minor_nc", note: "new note" }, base);
  await syncer.flush();
  assert.deepEqual((await syncer.mine())[0].conflicts, ["verdict"]);
  const shown = await syncer.resolve(11, "theirs");
  assert.equal(shown.verdict, "major_nc");
  assert.equal(shown.note, "new note");
  await syncer.flush();
  assert.deepEqual(server.sent[1].body, { verdict: "major_nc", value: null, note: "new note" });
  assert.equal(server.sent[1].base_version, 2);
});

test("'take theirs' with nothing else changed resolves without a request", async () => {
  const server = scriptedServer(conflict(answer(11, 1, { verdict: "major_nc" })));
  const { syncer, store } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming" }, EMPTY);
  await syncer.flush();
  const shown = await syncer.resolve(11, "theirs");
  assert.equal(shown.verdict, "major_nc");
  assert.equal(store.rows.size, 0);
  await syncer.flush();
  assert.equal(server.sent.length, 1);
});

test("field merge: my note-only edit over a colleague's verdict is merged, not a conflict", async () => {
  const base = { version: 1, verdict: "conforming", value: null, note: null };
  const theirs = answer(11, 2, { verdict: "major_nc" });
  const server = scriptedServer(conflict(theirs), (item) => ok(answer(11, 3, item.body, "Arne")));
  const { syncer, events } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming", note: "photo 4 shows it" }, base);
  await syncer.flush();
  assert.equal(server.sent.length, 2);
  // The colleague's verdict is kept; only my note is new; sent over their version.
  assert.deepEqual(server.sent[1].body, { verdict: "major_nc", value: null, note: "photo 4 shows it" });
  assert.equal(server.sent[1].base_version, 2);
  assert.deepEqual(events.map((e) => e.event), ["merged", "accepted"]);
  assert.equal((await syncer.mine()).length, 0);
});

test("field merge: the same value on both sides is no conflict and needs no request", async () => {
  const server = scriptedServer(conflict(answer(11, 1, { verdict: "conforming" })));
  const { syncer, events, store } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming" }, EMPTY);
  await syncer.flush();
  assert.equal(server.sent.length, 1);
  assert.equal(store.rows.size, 0);
  assert.deepEqual(events.map((e) => e.event), ["accepted"]);
});

test("a conflict keeps only the field both changed: the colleague's other field is taken", async () => {
  const base = { version: 1, verdict: "conforming", value: null, note: "a" };
  const theirs = answer(11, 2, { verdict: "major_nc", note: "b" });
  const server = scriptedServer(conflict(theirs), (item) => ok(answer(11, 3, item.body)));
  const { syncer } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming", note: "c" }, base);
  await syncer.flush();
  assert.deepEqual((await syncer.mine())[0].conflicts, ["note"]);
  await syncer.resolve(11, "mine");
  await syncer.flush();
  assert.deepEqual(server.sent[1].body, { verdict: "major_nc", value: null, note: "c" });
});

test("a new edit during a conflict updates 'mine' and keeps waiting for the person", async () => {
  const server = scriptedServer(conflict(answer(11, 1, { verdict: "major_nc" })));
  const { syncer } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "conforming" }, EMPTY);
  await syncer.flush();
  const item = await syncer.queueAnswer(11, { verdict: "observation" }, EMPTY);
  assert.equal(item.state, "conflict");
  await syncer.flush();
  assert.equal(server.sent.length, 1);
  assert.equal((await syncer.mine())[0].body.verdict, "observation");
});

for (const [status, json] of [
  [422, { error: "invalid", message: "The value must be at most 10.", field: "value" }],
  [423, { error: "frozen", message: "The report was issued: the checklist is read only." }],
  [403, { error: "forbidden", message: "Only the audit team answers." }],
  [423, { type: "https://example.org/problems/frozen", title: "Frozen", detail: "Report issued." }],
]) {
  test(`refused (${status} ${json.error || json.type}): kept with the reason until dismissed; the next change still goes`, async () => {
    const server = scriptedServer({ status, json }, ok(answer(12, 1, { verdict: "conforming" })));
    const store = memoryStore();
    const { syncer, events } = makeSyncer({ server, store });
    const base = { version: 3, verdict: null, value: "7", note: null };
    await syncer.queueAnswer(11, { value: "12" }, base);
    await syncer.queueAnswer(12, { verdict: "conforming" }, EMPTY);
    await syncer.flush();
    assert.equal(server.sent.length, 2);
    assert.deepEqual(events.map((e) => e.event), ["refused", "accepted"]);
    assert.equal(events[0].detail, json.message || json.detail);
    const pill = await syncer.summary(true);
    assert.equal(pill.kind, "conflict");
    assert.equal(pill.text, "1 change needs you");
    // A reload keeps the refusal; dismissing it gives the server's value back to the screen.
    const again = makeSyncer({ store, server: scriptedServer() }).syncer;
    const [refused] = await again.mine();
    assert.equal(refused.state, "refused");
    assert.equal(refused.reason, json.message || json.detail);
    await again.flush();  // not resent
    const shown = await again.dismiss(refused.seq);
    assert.deepEqual({ ...shown }, { version: 3, verdict: null, value: "7", note: null });
    assert.equal((await again.summary(true)).text, "All changes saved");
  });
}

test("a new change after a refusal is a fresh attempt over the server's value", async () => {
  const server = scriptedServer({ status: 422, json: { error: "invalid", message: "Too big" } },
    (item) => ok(answer(11, 4, item.body)));
  const { syncer } = makeSyncer({ server });
  const base = { version: 3, value: "7" };
  await syncer.queueAnswer(11, { value: "12" }, base);
  await syncer.flush();
  await syncer.queueAnswer(11, { value: "9" }, base);
  await syncer.flush();
  assert.equal(server.sent.length, 2);
  assert.equal(server.sent[1].body.value, "9");
  assert.equal(server.sent[1].base_version, 3);
  assert.notEqual(server.sent[1].id, server.sent[0].id);
  assert.equal((await syncer.mine()).length, 0);
});

test("offline: nothing is lost, order is kept and the pill says what the tablet holds", async () => {
  const server = scriptedServer("offline");
  const { syncer, store } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
  await syncer.queueEvidence(11, { bytes: "jpeg" }, "a.jpg", "2026-11-30T09:59:00Z");
  await syncer.flush();
  assert.equal(server.sent.length, 1);  // stops at the first failure: order matters
  assert.equal(store.rows.size, 2);
  assert.equal((await syncer.summary(true)).text, "Offline — 2 changes kept on this tablet");
  assert.equal((await syncer.summary(true)).kind, "offline");
  const empty = makeSyncer().syncer;
  assert.equal((await empty.summary(false)).text, "Offline — 0 changes kept on this tablet");
});

test("reload: a new page finds the queue in storage and sends it in order, exactly as queued", async () => {
  const store = memoryStore();
  const before = makeSyncer({ store, server: scriptedServer("offline") });
  await before.syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
  await before.syncer.queueEvidence(11, { bytes: "jpeg" }, "a.jpg", "2026-11-30T09:59:00Z");
  await before.syncer.queueAnswer(12, { value: "42" }, EMPTY);
  await before.syncer.flush();
  const ids = [...store.rows.values()].map((r) => r.id);

  const server = scriptedServer(ok(answer(11, 1, { verdict: "ofi" })),
    { status: 201, json: { evidence: { id: 5 }, replayed: false } }, ok(answer(12, 1, { value: "42" })));
  const { syncer, events } = makeSyncer({ store, server });
  await syncer.flush();
  assert.deepEqual(server.sent.map((s) => s.id), ids);
  assert.deepEqual(server.sent.map((s) => s.kind), ["answer", "evidence", "answer"]);
  assert.deepEqual(events.map((e) => e.event), ["accepted", "accepted", "accepted"]);
  assert.equal(store.rows.size, 0);
});

test("re-login: a 401 keeps the queue and asks for a login; afterwards the same person's queue is sent", async () => {
  const server = scriptedServer({ status: 401, json: { error: "Unauthorized", message: "Log in first." } },
    ok(answer(11, 1, { verdict: "ofi" })));
  const { syncer, store } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
  await syncer.flush();
  assert.equal(store.rows.size, 1);
  assert.equal(syncer.needsLogin, true);
  const pill = await syncer.summary(true);
  assert.equal(pill.kind, "error");
  assert.match(pill.text, /Log in again/);
  await syncer.flush();  // the page logged in again in place
  assert.equal(server.sent.length, 2);
  assert.equal(server.sent[1].id, server.sent[0].id);  // the same mutation: exactly once
  assert.equal(server.sent[1].user, 3);
  assert.equal(store.rows.size, 0);
});

test("re-login: a 400 about the CSRF token (session cookie gone) keeps the queue and asks for a login", async () => {
  const server = scriptedServer({ status: 400, json: { error: "Bad Request", message: "The CSRF session token is missing." } });
  const { syncer, store } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
  await syncer.flush();
  assert.equal(store.rows.size, 1);
  assert.equal((await syncer.mine())[0].state, "pending");
  assert.equal(syncer.needsLogin, true);
});

test("a flush asked for while sending makes the sender go round again, never a second sender", async () => {
  let syncer;
  let inFlight = 0;
  let most = 0;
  const reply = async (item) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight -= 1;
    return ok(answer(item.question, 1, item.body));
  };
  const server = scriptedServer(
    async (item) => {
      // Sending stopped for a login: a re-login asks for a flush while this one is still busy.
      syncer.flush();
      await syncer.queueAnswer(12, { verdict: "ofi" }, EMPTY);
      return { status: 401, json: {} };
    },
    reply, reply);
  ({ syncer } = makeSyncer({ server }));
  await syncer.queueAnswer(11, { verdict: "conforming" }, EMPTY);
  await syncer.flush();
  assert.deepEqual(server.sent.map((s) => s.question), [11, 11, 12]);
  assert.equal(most, 1);
  assert.equal(syncer.needsLogin, false);
  assert.equal((await syncer.summary(true)).text, "All changes saved");
});

test("another person's queued changes on a shared tablet are never sent, only counted", async () => {
  const store = memoryStore();
  const arne = makeSyncer({ store, server: scriptedServer("offline"), userId: 3 });
  await arne.syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
  const server = scriptedServer();
  const lena = makeSyncer({ store, server, userId: 4 });
  await lena.syncer.flush();
  assert.equal(server.sent.length, 0);
  const pill = await lena.syncer.summary(true);
  assert.match(pill.text, /^All changes saved · 1 change by another person wait/);
});

for (const body of [
  { error: "other_author", message: "Made by another person" },
  { type: "https://audit.example/problems/other_author", title: "Other author" },
  { code: "other_author", detail: "Made by another person" },
]) {
  test(`a 403 other_author (${Object.keys(body)[0]}) stops sending and keeps the change`, async () => {
    const server = scriptedServer({ status: 403, json: body });
    const { syncer, store } = makeSyncer({ server });
    await syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
    await syncer.flush();
    assert.equal(store.rows.size, 1);
    assert.equal((await syncer.mine())[0].state, "pending");
    assert.match((await syncer.summary(true)).text, /someone else/);
  });
}

test("a server error keeps the change pending for the next attempt", async () => {
  const server = scriptedServer({ status: 503, json: {} }, ok(answer(11, 1, { verdict: "ofi" })));
  const { syncer, store } = makeSyncer({ server });
  await syncer.queueAnswer(11, { verdict: "ofi" }, EMPTY);
  await syncer.flush();
  assert.equal(store.rows.size, 1);
  assert.match((await syncer.summary(true)).text, /server had a problem/);
  await syncer.flush();
  assert.equal(store.rows.size, 0);
});

test("a refused photo is kept with its reason, like a refused answer", async () => {
  const server = scriptedServer({ status: 422, json: { error: "invalid", message: "The file is too large (12.0 MB)." } });
  const { syncer, events } = makeSyncer({ server });
  const item = await syncer.queueEvidence(11, { bytes: "x" }, "big.jpg", "2026-11-30T09:59:00Z");
  await syncer.flush();
  assert.equal((await syncer.mine())[0].state, "refused");
  assert.equal(events[0].detail, "The file is too large (12.0 MB).");
  assert.equal(await syncer.dismiss(item.seq), null);
  assert.equal((await syncer.mine()).length, 0);
});

test("merging, changed fields and error parsing are pure functions", () => {
  assert.deepEqual(changedFields({ verdict: "a", note: "" }, { verdict: "a", note: null }), []);
  assert.deepEqual(changedFields(null, { value: 0 }), ["value"]);
  assert.deepEqual(mergeAnswer({ verdict: "a" }, { verdict: "b" }, { verdict: "c" }).conflicts, ["verdict"]);
  assert.deepEqual(mergeAnswer({ verdict: "a" }, { verdict: "a", note: "x" }, { verdict: "c" }),
    { merged: { verdict: "c", value: null, note: "x" }, conflicts: [] });
  assert.equal(errorKind({ error: "frozen" }), "frozen");
  assert.equal(errorKind({ type: "about:blank" }), "about:blank");
  assert.equal(errorKind({ type: "/problems/conflict" }), "conflict");
  assert.equal(errorKind(null), "");
  assert.equal(errorMessage({}, 418), "Not saved (418)");
  assert.equal(summarise([{ state: "pending" }, { state: "conflict" }], {}).text, "Saving… 1 waiting · 1 change needs you");
});

test("an answer carries the device time of its latest change, also after an edit while queued", async () => {
  let clock = new Date("2026-11-30T08:15:00Z");
  const server = scriptedServer("offline", ok(answer(11, 1, { verdict: "minor_nc" })));
  const { syncer } = makeSyncer({ server, now: () => clock });
  await syncer.queueAnswer(11, { verdict: "conforming", value: null, note: null }, EMPTY);
  await syncer.flush();
  assert.equal(server.sent[0].answered_at, "2026-11-30T08:15:00.000Z");
  clock = new Date("2026-11-30T08:20:00Z");
  await syncer.queueAnswer(11, { verdict: "minor_nc", value: null, note: null }, EMPTY);
  clock = new Date("2026-11-30T11:00:00Z");  // back online hours later
  await syncer.flush();
  assert.equal(server.sent[1].answered_at, "2026-11-30T08:20:00.000Z");
});

test("a queued photo keeps the size of the original the person chose, for the server's check", async () => {
  const { syncer, store } = makeSyncer();
  await syncer.queueEvidence(11, { bytes: "jpeg" }, "a.jpg", "2026-11-30T09:59:00Z", 16_567_500);
  assert.equal([...store.rows.values()][0].original_size, 16_567_500);
  await syncer.queueEvidence(12, { bytes: "pdf" }, "b.pdf", "2026-11-30T09:59:00Z");
  assert.equal([...store.rows.values()][1].original_size, undefined);
});
