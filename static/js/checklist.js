// The tablet checklist page: wires the queue logic (checklist-sync.mjs, no DOM) and the
// IndexedDB queue (offline-queue.js) to the page — one-tap answers, notes, photos, conditional
// questions, progress, conflicts and refusals; relogin.js renews a lost session in place.
import * as queue from "./offline-queue.js";
import { AnswersRefresh, Syncer } from "./checklist-sync.mjs";
import { loginBox, renewToken } from "./relogin.js";
import { checkPrepared, fitWithin, jpegName, photoSettings, planUpload, tooLargeMessage } from "./photo-prepare.mjs";

const root = document.getElementById("checklist");
if (root) init(root);

function init(root) {
  const auditId = Number(root.dataset.audit);
  // Queued changes belong to the person who made them: on a shared tablet, another person's
  // session must never send them (they wait until their author signs in again).
  const userId = Number(root.dataset.user);
  const answersApi = root.dataset.api;
  const evidenceApi = root.dataset.evidenceApi;
  const canAnswer = root.dataset.canAnswer === "1";
  const photo = photoSettings(root.dataset);
  let csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const syncEl = root.querySelector("[data-sync]");
  const knownKey = "audit-answers-" + auditId;
  const noteTimers = new Map();
  const server = new Map();  // question id → the server's answer the screen is based on


  // The verdict and yes/no buttons come once per page (<template>): each question gets a copy,
  // the answered one pressed. Done first, before anything reads or shows a question's state.
  root.querySelectorAll("[data-buttons]").forEach((box) => {
    const template = document.getElementById(`buttons-${box.dataset.buttons}`);
    if (!template || box.querySelector("[data-set]")) return;
    box.append(template.content.cloneNode(true));
    const state = box.closest("[data-question]").dataset.state || "";
    box.querySelectorAll("[data-set]").forEach((b) => b.setAttribute("aria-pressed", b.dataset.set === state ? "true" : "false"));
  });

  const article = (qid) => root.querySelector(`[data-question="${qid}"]`);
  const articles = () => Array.from(root.querySelectorAll("[data-question]"));

  const syncer = new Syncer({
    store: queue, auditId, userId, newId: queue.newId,
    send: (item) => send(item).then(async (response) => {
      let json = {};
      try { json = await response.json(); } catch (e) { json = {}; }
      return { status: response.status, json };
    }),
    listener: onSyncEvent,
  });

  // --- local state of one question ------------------------------------------------------------
  function bodyOf(art) {
    const state = art.dataset.state || null;
    const note = art.querySelector("[data-note]").value.trim() || null;
    return art.dataset.type === "verdict"
      ? { verdict: state, value: null, note }
      : { verdict: null, value: state, note };
  }

  function showState(art, state, note) {
    art.dataset.state = state || "";
    art.querySelectorAll("[data-set]").forEach((b) => {
      b.setAttribute("aria-pressed", b.dataset.set === state ? "true" : "false");
    });
    const input = art.querySelector("[data-value-input]");
    if (input && document.activeElement !== input) input.value = state || "";
    if (note !== undefined) {
      const area = art.querySelector("[data-note]");
      if (document.activeElement !== area) area.value = note || "";
    }
    art.classList.toggle("answered", Boolean(state));
  }

  function showAnswer(art, answer) {
    showState(art, answer.verdict || answer.value, answer.note);
  }

  function setStatus(art, text, kind) {
    const el = art.querySelector("[data-q-status]");
    el.textContent = text;
    el.dataset.kind = kind || "";
  }

  // --- conditions and progress ------------------------------------------------------------------
  function refresh() {
    const states = {};
    articles().forEach((a) => { states[a.dataset.key] = a.dataset.state || ""; });
    articles().forEach((a) => {
      if (a.dataset.conditionKey) a.hidden = states[a.dataset.conditionKey] !== a.dataset.conditionValue;
    });
    let done = 0;
    let total = 0;
    root.querySelectorAll("[data-section]").forEach((section) => {
      const visible = Array.from(section.querySelectorAll("[data-question]")).filter((a) => !a.hidden);
      const answered = visible.filter((a) => a.dataset.state).length;
      done += answered;
      total += visible.length;
      const label = root.querySelector(`[data-section-progress="${section.dataset.section}"]`);
      if (label) label.textContent = `${answered}/${visible.length}`;
    });
    root.querySelector("[data-done]").textContent = done;
    root.querySelector("[data-total]").textContent = total;
    const bar = root.querySelector("[data-progress]");
    bar.max = Math.max(total, 1);
    bar.value = done;
  }

  // --- the server's answers (remembered, so an offline reload shows what was already saved) -----
  function remember(answer) {
    if (!answer) return;
    server.set(answer.question_id, answer);
    const art = article(answer.question_id);
    if (art) art.dataset.version = String(answer.version);
    try {
      const known = JSON.parse(localStorage.getItem(knownKey) || "{}");
      known[answer.question_id] = answer;
      localStorage.setItem(knownKey, JSON.stringify(known));
    } catch (e) { /* private mode: the page still works online */ }
  }

  function restoreKnown() {
    let known = {};
    try { known = JSON.parse(localStorage.getItem(knownKey) || "{}"); } catch (e) { known = {}; }
    articles().forEach((art) => {
      const state = art.dataset.state || null;
      const verdict = art.dataset.type === "verdict";
      server.set(Number(art.dataset.question), {
        question_id: Number(art.dataset.question), version: Number(art.dataset.version),
        verdict: verdict ? state : null, value: verdict ? null : state,
        note: art.querySelector("[data-note]").value.trim() || null });
    });
    Object.values(known).forEach((answer) => {
      const art = article(answer.question_id);
      if (art && answer.version > Number(art.dataset.version)) { remember(answer); showAnswer(art, answer); }
    });
  }

  // --- showing a queued entry on its question -------------------------------------------------
  function showEntry(item) {
    const art = article(item.question);
    if (!art) return;
    if (item.kind === "finding") {
      if (item.state === "refused") showRefused(art, item);
      else setStatus(art, "Finding kept on this tablet, raised when online", "pending");
      return;
    }
    if (item.kind === "evidence") {
      if (!art.querySelector(`[data-pending-seq="${item.seq}"]`)) showPreview(art, item.blob, item.seq);
      if (item.state === "refused") showRefused(art, item);
      return;
    }
    if (item.state === "refused") {
      showAnswer(art, item.base);
      showRefused(art, item);
    } else {
      showAnswer(art, item.body);
      if (item.state === "conflict") showConflict(art, item);
      else setStatus(art, "Waiting to save", "pending");
    }
  }

  function showRefused(art, item) {
    const what = { evidence: "Photo not saved", finding: "Finding not raised" }[item.kind] || "Not saved";
    setStatus(art, `${what}: ${item.reason}`, "error");
    const ok = document.createElement("button");
    ok.type = "button"; ok.className = "button"; ok.textContent = "OK";
    ok.dataset.dismiss = String(item.seq);
    art.querySelector("[data-q-status]").append(" ", ok);
    if (item.kind === "evidence") markRefused(art.querySelector(`[data-pending-seq="${item.seq}"]`), item.reason);
  }

  // A refused photo's thumbnail says why, instead of still looking like it waits to upload.
  function markRefused(thumb, reason) {
    if (!thumb) return;
    thumb.classList.remove("pending");
    thumb.classList.add("refused");
    thumb.title = reason;
    const img = thumb.querySelector("img");
    if (img) img.alt = `Photo not saved: ${reason}`;
    if (!thumb.querySelector(".thumb-reason")) {
      const text = document.createElement("small");
      text.className = "thumb-reason";
      text.textContent = reason;
      thumb.appendChild(text);
    }
  }

  async function dismiss(art, seq) {
    const answer = await syncer.dismiss(seq);
    if (answer) showAnswer(art, answer);
    const thumb = art.querySelector(`[data-pending-seq="${seq}"]`);
    if (thumb && thumb.classList.contains("refused")) thumb.remove();
    setStatus(art, "", "");
    refresh();
    updateSync();
  }

  function onSyncEvent(event, item, detail) {
    const art = article(item.question);
    if (event === "accepted" && item.kind === "evidence") {
      const span = art && art.querySelector(`[data-pending-seq="${item.seq}"]`);
      if (span) { span.classList.remove("pending"); span.dataset.evidenceId = String(detail.id); }
      if (art) setStatus(art, "Photo saved", "saved");
      return;
    }
    if (event === "accepted" && item.kind === "finding") {
      if (art && detail) {
        const tag = document.createElement("span");
        tag.className = "tag bad";
        tag.textContent = detail.reference;
        art.querySelector(".q-actions").insertBefore(tag, art.querySelector("[data-q-status]"));
        setStatus(art, `Finding ${detail.reference} raised`, "saved");
      }
      return;
    }
    if (item.kind === "answer") remember(detail);
    if (!art) return;
    if (event === "accepted") {
      syncer.openEntry(item.question).then((open) => {
        if (open) return;
        showAnswer(art, detail);  // after a merge this is more than what was typed here
        refresh();
        setStatus(art, "Saved", "saved");
      });
    } else if (event === "merged") {
      showAnswer(art, item.body);
      refresh();
      setStatus(art, `Merged with ${detail.answered_by || "a colleague"}'s change; saving`, "pending");
    } else if (event === "conflict") {
      showAnswer(art, item.body);
      showConflict(art, item);
    } else if (event === "refused") {
      if (item.kind === "answer") { showAnswer(art, item.base); refresh(); }
      showRefused(art, item);
    }
  }

  // --- queueing ---------------------------------------------------------------------------------
  async function queueAnswer(art) {
    const qid = Number(art.dataset.question);
    const item = await syncer.queueAnswer(qid, bodyOf(art), server.get(qid));
    if (item.state === "conflict") showConflict(art, item);
    else setStatus(art, "Waiting to save", "pending");
    flush();
  }

  async function queuePhoto(art, file) {
    const takenAt = new Date(file.lastModified || Date.now()).toISOString();
    let blob = file;
    let plan = planUpload(file, photo);
    if (plan.action === "resize") {
      setStatus(art, "Preparing photo", "pending");
      try {
        blob = await resizePhoto(file);
        plan = checkPrepared(blob.size, photo);
      } catch (e) {
        // The device cannot decode it (e.g. HEIC on some browsers): send the original if it fits.
        blob = file;
        plan = file.size > photo.maxBytes
          ? { action: "refuse", message: tooLargeMessage(file.size, photo.maxBytes) } : { action: "send" };
      }
    }
    if (plan.action === "refuse") {
      const seq = `local-${Date.now()}`;
      showPreview(art, file, seq);
      markRefused(art.querySelector(`[data-pending-seq="${seq}"]`), plan.message);
      setStatus(art, `Photo not saved: ${plan.message}`, "error");
      return;
    }
    const name = blob === file ? (file.name || "photo.jpg") : jpegName(file.name);
    const item = await syncer.queueEvidence(Number(art.dataset.question), blob, name, takenAt, file.size);
    showPreview(art, blob, item.seq);
    setStatus(art, "Photo waiting to upload", "pending");
    flush();
  }

  // Draw through an ImageBitmap with the EXIF orientation applied, at most photo.longEdge on
  // the long side, re-encoded as JPEG: the re-encode also drops EXIF (location included).
  async function resizePhoto(file) {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    try {
      const size = fitWithin(bitmap.width, bitmap.height, photo.longEdge);
      const canvas = document.createElement("canvas");
      canvas.width = size.width;
      canvas.height = size.height;
      canvas.getContext("2d").drawImage(bitmap, 0, 0, size.width, size.height);
      const out = await new Promise((resolve, reject) => canvas.toBlob(
        (b) => (b ? resolve(b) : reject(new Error("JPEG encoding failed"))), "image/jpeg", photo.quality));
      return out;
    } finally {
      bitmap.close();
    }
  }

  function showPreview(art, blob, seq) {
    const box = art.querySelector("[data-evidence]");
    const span = document.createElement("span");
    span.className = "thumb pending";
    span.dataset.pendingSeq = String(seq);
    if (blob.type && blob.type.startsWith("image/")) {
      const img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.alt = "Photo waiting to upload";
      img.width = 80;
      img.height = 80;
      span.appendChild(img);
    } else {
      span.textContent = "PDF";
    }
    box.appendChild(span);
  }

  // --- sending ----------------------------------------------------------------------------------
  function send(item) {
    const headers = { "X-CSRFToken": csrf, "X-Audit-Author": String(item.user), Accept: "application/json" };
    if (item.kind === "evidence") {
      const form = new FormData();
      form.append("file", item.blob, item.filename);
      form.append("question_id", String(item.question));
      form.append("client_id", item.id);
      form.append("taken_at", item.taken_at);
      if (item.original_size) form.append("original_size", String(item.original_size));
      return fetch(evidenceApi, { method: "POST", body: form, credentials: "same-origin", headers });
    }
    if (item.kind === "finding") {
      return fetch(`/api/audits/${auditId}/questions/${item.question}/findings`, { method: "POST", credentials: "same-origin",
        headers: Object.assign({ "Content-Type": "application/json" }, headers),
        body: JSON.stringify(Object.assign({}, item.body, { mutation_id: item.id })) });
    }
    const payload = Object.assign({}, item.body, { base_version: item.base_version, mutation_id: item.id,
      answered_at: item.answered_at || item.created });
    return fetch(`${answersApi}/${item.question}`, { method: "PUT", credentials: "same-origin",
      headers: Object.assign({ "Content-Type": "application/json" }, headers), body: JSON.stringify(payload) });
  }

  async function flush() {
    await syncer.flush();
    // The session may be fine and only this page's CSRF token stale: fetch a fresh one first.
    if (syncer.needsLogin) {
      const fresh = await renewToken(userId);
      if (fresh) { csrf = fresh; await syncer.flush(); }
    }
    await updateSync();
  }

  // Logging in again in place: the queue stays, and is sent only under the same person.
  const relogin = loginBox(syncEl, {
    loginUrl: root.dataset.login, email: root.dataset.userEmail || "", userId,
    onToken: (fresh) => { csrf = fresh; return flush(); },  // a new session has a new CSRF secret
  });

  async function updateSync() {
    const { text, kind } = await syncer.summary(navigator.onLine);
    if (canAnswer && syncEl) { syncEl.textContent = text; syncEl.dataset.sync = kind; }
    if (canAnswer) relogin.show(syncer.needsLogin && navigator.onLine);
  }

  // --- other auditors' answers: pulled now and then so tablets see each other's work ------------
  const answersRefresh = new AnswersRefresh({ fetch: (...args) => fetch(...args), url: answersApi });

  async function pull() {
    if (!navigator.onLine || syncer.flushing) return;
    const result = await answersRefresh.refresh(async (data) => {
      const waiting = new Set((await syncer.mine()).map((i) => i.question));
      let complete = true;
      data.answers.forEach((answer) => {
        const art = article(answer.question_id);
        if (!art) return;
        const typing = document.activeElement && document.activeElement.matches("textarea, input") &&
          art.contains(document.activeElement);
        if (answer.version <= Number(art.dataset.version)) return;
        // Left out for now: taken in by a later refresh (the ETag is not kept, see AnswersRefresh).
        if (typing || waiting.has(answer.question_id)) { complete = false; return; }
        remember(answer);
        showAnswer(art, answer);
        setStatus(art, `Updated by ${answer.answered_by || "a colleague"}`, "saved");
      });
      return complete;
    });
    if (result === null) return;
    syncer.offline = false;
    if (result.changed) refresh();
    updateSync();
  }

  // --- conflicts --------------------------------------------------------------------------------
  function label(answer) {
    const art = article(answer.question_id);
    const value = answer.verdict || answer.value;
    const button = art && value ? art.querySelector(`[data-set="${CSS.escape(value)}"]`) : null;
    return (button ? button.textContent : value || "no answer") + (answer.note ? ` — ${answer.note}` : "");
  }

  function showConflict(art, item) {
    const current = item.current;
    const mine = Object.assign({ question_id: item.question }, item.body);
    let panel = art.querySelector("[data-conflict]");
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "q-conflict";
      panel.dataset.conflict = "";
      art.appendChild(panel);
    }
    panel.replaceChildren();
    const title = document.createElement("p");
    const bold = document.createElement("b");
    const fields = (item.conflicts || []).map((f) => (f === "note" ? "note" : "answer")).filter((f, i, a) => a.indexOf(f) === i);
    bold.textContent = `${current.answered_by || "Someone"} changed this ${fields.join(" and ") || "answer"} meanwhile.`;
    title.append(bold);
    const theirs = document.createElement("p");
    theirs.textContent = `Theirs: ${label(Object.assign({ question_id: item.question }, current))}`;
    const yours = document.createElement("p");
    yours.textContent = `Yours: ${label(mine)}`;
    const keep = document.createElement("button");
    keep.type = "button"; keep.className = "button primary"; keep.textContent = "Keep mine";
    keep.dataset.resolve = "mine";
    const take = document.createElement("button");
    take.type = "button"; take.className = "button"; take.textContent = "Take theirs";
    take.dataset.resolve = "theirs";
    panel.append(title, theirs, yours, keep, take);
    panel.hidden = false;
    art.classList.add("conflict");
    setStatus(art, "Conflict: choose which answer to keep", "conflict");
  }

  async function resolve(art, choice) {
    const answer = await syncer.resolve(Number(art.dataset.question), choice);
    const panel = art.querySelector("[data-conflict]");
    panel.hidden = true;
    art.classList.remove("conflict");
    if (answer) showAnswer(art, answer);
    refresh();
    const open = await syncer.openEntry(Number(art.dataset.question));
    setStatus(art, open ? "Waiting to save" : "Saved", open ? "pending" : "saved");
    flush();
  }

  // --- events -----------------------------------------------------------------------------------
  if (canAnswer) {
    root.addEventListener("click", (event) => {
      const art = event.target.closest("[data-question]");
      const choice = event.target.closest("[data-resolve]");
      if (choice && art) { resolve(art, choice.dataset.resolve); return; }
      const ok = event.target.closest("[data-dismiss]");
      if (ok && art) { dismiss(art, Number(ok.dataset.dismiss)); return; }
      const button = event.target.closest("[data-set]");
      if (!button) return;
      const value = button.dataset.set;
      showState(art, art.dataset.state === value ? null : value);
      refresh();
      queueAnswer(art);
    });
    root.addEventListener("change", (event) => {
      const art = event.target.closest("[data-question]");
      if (!art) return;
      if (event.target.matches("[data-value-input]")) {
        showState(art, event.target.value);
        refresh();
        queueAnswer(art);
      } else if (event.target.matches("[data-photo]") && event.target.files.length) {
        Array.from(event.target.files).forEach((file) => queuePhoto(art, file));
        event.target.value = "";
      }
    });
    root.addEventListener("input", (event) => {
      if (!event.target.matches("[data-note]")) return;
      const art = event.target.closest("[data-question]");
      clearTimeout(noteTimers.get(art));
      setStatus(art, "Typing…", "pending");
      noteTimers.set(art, setTimeout(() => { noteTimers.delete(art); queueAnswer(art); }, 800));
    });
    root.addEventListener("focusout", (event) => {
      if (!event.target.matches("[data-note]")) return;
      const art = event.target.closest("[data-question]");
      if (noteTimers.has(art)) {
        clearTimeout(noteTimers.get(art));
        noteTimers.delete(art);
        queueAnswer(art);
      }
    });
    window.addEventListener("online", () => flush());
    window.addEventListener("offline", () => updateSync());
    setInterval(() => { if (navigator.onLine) flush(); }, 5000);
    setInterval(pull, 60000);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") pull(); });
  }

  // --- start: show what the server already has, then what is still queued -----------------------
  restoreKnown();
  syncer.mine().then((items) => {
    items.forEach(showEntry);
    refresh();
    if (canAnswer) flush(); else updateSync();
  }).catch(() => refresh());
}
