// Unit tests of findings raised offline (static/js/finding-queue.mjs, sent by checklist-sync.mjs): queued with their
// idempotency key, sent once in order after the photos, kept on refusal, never sent by another person.
import { test } from "node:test";
import assert from "node:assert/strict";

import { findingBody, queuedDefaults, queueFinding, queuedFindings } from "../../static/js/finding-queue.mjs";
import { makeSyncer, memoryStore, scriptedServer } from "./helpers.mjs";

const FORM = { grade: "minor", statement: " Work instruction WI-7 is not at the station. ", evidence: "Station 3 " };
const raised = (id, ref = "F-1") => ({ status: 201, json: { finding: { id, reference: ref, question_id: 11 }, replayed: false } });

test("findingBody cleans the form and refuses a missing statement or an unknown grade", () => {
  assert.deepEqual(findingBody(FORM).body,
    { grade: "minor", statement: "Work instruction WI-7 is not at the station.", evidence: "Station 3" });
  assert.equal(findingBody({ ...FORM, evidence: " " }).field, "evidence");  // an NC needs evidence (server rule)
  assert.equal(findingBody({ ...FORM, grade: "ofi", evidence: "" }).body.evidence, null);
  assert.deepEqual(findingBody({ ...FORM, statement: "  " }), { error: "State the finding.", field: "statement" });
  assert.deepEqual(findingBody({ ...FORM, grade: "catastrophic" }), { error: "Choose a grade.", field: "grade" });
  assert.equal(findingBody({ ...FORM, evidence: "x".repeat(5001) }).field, "evidence");
});

test("a queued finding keeps the form's key, is sent once and leaves the queue when raised", async () => {
  const server = scriptedServer(raised(5));
  const { syncer, store, events } = makeSyncer({ server });
  const entry = await queueFinding(syncer, 11, FORM, "form-key-1");
  assert.equal(entry.id, "form-key-1");
  assert.equal(entry.state, "pending");
  await syncer.flush();
  await syncer.flush();  // nothing left: a second flush sends nothing
  assert.equal(server.sent.length, 1);
  assert.equal(server.sent[0].kind, "finding");
  assert.equal(server.sent[0].id, "form-key-1");
  assert.equal(store.rows.size, 0);
  assert.deepEqual(events, [{ event: "accepted", question: 11, detail: { id: 5, reference: "F-1", question_id: 11 } }]);
});

test("the same form submitted twice offline queues one finding", async () => {
  const { syncer, store } = makeSyncer();
  const a = await queueFinding(syncer, 11, FORM, "form-key-2");
  const b = await queueFinding(syncer, 11, FORM, "form-key-2");
  assert.equal(a.seq, b.seq);
  assert.equal(store.rows.size, 1);
});

test("an incomplete form is refused on the tablet and nothing is queued", async () => {
  const { syncer, store } = makeSyncer();
  await assert.rejects(queueFinding(syncer, 11, { grade: "minor", statement: "" }, "k"), { message: "State the finding.", field: "statement" });
  assert.equal(store.rows.size, 0);
});

test("photos queued before the finding are sent first, so the finding cites them", async () => {
  const server = scriptedServer({ status: 201, json: { evidence: { id: 9 } } }, raised(5));
  const { syncer } = makeSyncer({ server });
  await syncer.queueEvidence(11, "blob", "photo.jpg", "2026-11-30T09:59:00Z");
  await queueFinding(syncer, 11, FORM, "form-key-3");
  await syncer.flush();
  assert.deepEqual(server.sent.map((i) => i.kind), ["evidence", "finding"]);
});

test("offline: the finding stays queued and is sent with the same key when the network returns", async () => {
  const store = memoryStore();
  const server = scriptedServer("offline", raised(5));
  const { syncer } = makeSyncer({ store, server });
  await queueFinding(syncer, 11, FORM, "form-key-4");
  await syncer.flush();
  assert.equal(store.rows.size, 1);
  assert.equal((await syncer.summary(true)).kind, "offline");
  // A reload: a new syncer over the same store.
  const again = makeSyncer({ store, server }).syncer;
  await again.flush();
  assert.deepEqual(server.sent.map((i) => i.id), ["form-key-4", "form-key-4"]);
  assert.equal(store.rows.size, 0);
});

test("a refused finding (e.g. issued report) stays on the tablet with the reason until dismissed", async () => {
  const server = scriptedServer({ status: 423, json: { error: "frozen", message: "The report is issued." } });
  const { syncer, events } = makeSyncer({ server });
  const entry = await queueFinding(syncer, 11, FORM, "form-key-5");
  await syncer.flush();
  const [kept] = await queuedFindings(syncer);
  assert.equal(kept.state, "refused");
  assert.equal(kept.reason, "The report is issued.");
  assert.deepEqual(events.map((e) => e.event), ["refused"]);
  assert.equal((await syncer.summary(true)).text, "1 change needs you");
  assert.equal(await syncer.dismiss(entry.seq), null);
  assert.equal((await queuedFindings(syncer)).length, 0);
});

test("another person's queued finding is not sent under my session", async () => {
  const store = memoryStore();
  const server = scriptedServer();
  await queueFinding(makeSyncer({ store, server, userId: 4 }).syncer, 11, FORM, "theirs");
  const mine = makeSyncer({ store, server }).syncer;
  await mine.flush();
  assert.equal(server.sent.length, 0);
  assert.equal(store.rows.size, 1);
});

test("the form proposes grade and evidence from the question's answer still waiting in the queue", async () => {
  const { syncer } = makeSyncer();
  await syncer.queueAnswer(11, { verdict: "conforming" }, { version: 0 });
  await syncer.queueAnswer(11, { verdict: "major_nc", note: "No calibration records" }, { version: 0 });
  await syncer.queueAnswer(12, { verdict: "ofi" }, { version: 0 });
  const entries = await syncer.mine();
  assert.deepEqual(queuedDefaults(entries, 11), { grade: "major", evidence: "No calibration records" });
  assert.deepEqual(queuedDefaults(entries, 12), { grade: "ofi" });
  assert.deepEqual(queuedDefaults(entries, 13), {});
  entries[0].state = "refused";  // a refused answer is not what the screen shows: no proposal
  assert.deepEqual(queuedDefaults(entries, 11), {});
});
