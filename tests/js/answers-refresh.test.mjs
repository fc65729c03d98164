// Unit tests of the answers refresh (AnswersRefresh in static/js/checklist-sync.mjs): a refresh
// with nothing changed is a 304 without a body; answers left out are asked for again.
import { test } from "node:test";
import assert from "node:assert/strict";

import { AnswersRefresh } from "../../static/js/checklist-sync.mjs";

/** A fetch that answers with the scripted replies in turn and records the request headers. */
function scriptedFetch(...replies) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, headers: { ...init.headers }, cache: init.cache });
    const reply = replies.shift();
    if (reply === undefined) throw new Error("unexpected request");
    if (reply === "offline") throw new TypeError("Failed to fetch");
    return {
      status: reply.status,
      ok: reply.status >= 200 && reply.status < 300,
      headers: { get: (name) => (name === "ETag" ? reply.etag || null : null) },
      json: async () => reply.body,
    };
  };
  return { fetch, calls };
}

const body = (n) => ({ audit_id: 1, frozen: false, answers: [{ question_id: 5, version: n }] });

test("the first refresh asks for everything; the next sends the ETag and a 304 changes nothing", async () => {
  const { fetch, calls } = scriptedFetch({ status: 200, etag: 'W/"abc"', body: body(1) }, { status: 304 });
  const refresh = new AnswersRefresh({ fetch, url: "/api/audits/1/answers" });
  const applied = [];
  const first = await refresh.refresh((data) => { applied.push(data); return true; });
  assert.deepEqual(first, { changed: true, data: body(1) });
  assert.equal(calls[0].headers["If-None-Match"], undefined);
  assert.equal(calls[0].cache, "no-store");
  const second = await refresh.refresh((data) => { applied.push(data); return true; });
  assert.deepEqual(second, { changed: false });
  assert.equal(calls[1].headers["If-None-Match"], 'W/"abc"');
  assert.equal(applied.length, 1, "a 304 applies nothing");
});

test("a change brings the new answers and the new ETag", async () => {
  const { fetch, calls } = scriptedFetch(
    { status: 200, etag: '"one"', body: body(1) }, { status: 200, etag: '"two"', body: body(2) },
    { status: 304 });
  const refresh = new AnswersRefresh({ fetch, url: "/a" });
  await refresh.refresh(() => true);
  const changed = await refresh.refresh(() => true);
  assert.equal(changed.data.answers[0].version, 2);
  await refresh.refresh(() => true);
  assert.deepEqual(calls.map((c) => c.headers["If-None-Match"]), [undefined, '"one"', '"two"']);
});

test("answers left out (typing, own change queued) are asked for again: the ETag is forgotten", async () => {
  const { fetch, calls } = scriptedFetch(
    { status: 200, etag: '"one"', body: body(1) }, { status: 200, etag: '"one"', body: body(1) });
  const refresh = new AnswersRefresh({ fetch, url: "/a" });
  await refresh.refresh(async () => false);
  const again = await refresh.refresh(() => true);
  assert.equal(calls[1].headers["If-None-Match"], undefined);
  assert.equal(again.changed, true);
  assert.equal(refresh.etag, '"one"');
});

test("offline or an error: null, and the ETag of the last answers taken in is kept", async () => {
  const { fetch, calls } = scriptedFetch(
    { status: 200, etag: '"one"', body: body(1) }, "offline", { status: 401, body: {} }, { status: 304 });
  const refresh = new AnswersRefresh({ fetch, url: "/a" });
  await refresh.refresh(() => true);
  assert.equal(await refresh.refresh(() => assert.fail("nothing to apply")), null);
  assert.equal(await refresh.refresh(() => assert.fail("nothing to apply")), null);
  assert.deepEqual(await refresh.refresh(() => true), { changed: false });
  assert.equal(calls[3].headers["If-None-Match"], '"one"');
});

test("a response without an ETag is never sent back as one", async () => {
  const { fetch, calls } = scriptedFetch({ status: 200, body: body(1) }, { status: 200, body: body(1) });
  const refresh = new AnswersRefresh({ fetch, url: "/a" });
  await refresh.refresh(() => true);
  await refresh.refresh(() => true);
  assert.equal(calls[1].headers["If-None-Match"], undefined);
});
