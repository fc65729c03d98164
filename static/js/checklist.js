// The tablet checklist: one-tap answers saved in the background through an ordered offline
// queue (IndexedDB), photo evidence, conditional questions, progress, and conflict resolution.
// Every change is queued first and sent in order; the server de-duplicates replays by id.
import * as queue from "./offline-queue.js";

const PAGE_CACHE = "audit-pages-v1";
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
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const syncEl = root.querySelector("[data-sync]");
  const knownKey = "audit-answers-" + auditId;
  const noteTimers = new Map();
  let flushing = false;
  let inflight = null;
  let problem = null;

  registerServiceWorker();

  const mine = () => queue.pending(auditId).then((rows) => rows.filter((r) => r.user === userId));
  const othersWaiting = () => queue.pending(auditId).then((rows) => rows.filter((r) => r.user !== userId).length);
  const article = (qid) => root.querySelector(`[data-question="${qid}"]`);
  const articles = () => Array.from(root.querySelectorAll("[data-question]"));

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

  function applyServer(art, answer) {
    art.dataset.version = String(answer.version);
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

  // --- the remembered server answers (an offline reload shows what was already saved) ----------
  function remember(answer) {
    try {
      const known = JSON.parse(localStorage.getItem(knownKey) || "{}");
      known[answer.question_id] = answer;
      localStorage.setItem(knownKey, JSON.stringify(known));
    } catch (e) { /* private mode: the page still works online */ }
  }

  function restoreKnown() {
    let known = {};
    try { known = JSON.parse(localStorage.getItem(knownKey) || "{}"); } catch (e) { known = {}; }
    Object.values(known).forEach((answer) => {
      const art = article(answer.question_id);
      if (art && answer.version > Number(art.dataset.version)) applyServer(art, answer);
    });
  }

  // --- queueing ---------------------------------------------------------------------------------
  async function queueAnswer(art) {
    const qid = Number(art.dataset.question);
    const body = bodyOf(art);
    const items = await mine();
    const last = items.filter((i) => i.kind === "answer" && i.question === qid).pop();
    if (last && last.seq !== inflight) {
      // Not sent yet: replace it (a new id, so a lost earlier response cannot shadow it).
      last.body = body;
      last.id = queue.newId();
      await queue.update(last);
    } else {
      await queue.enqueue({ audit: auditId, user: userId, kind: "answer", question: qid, id: queue.newId(),
        base_version: Number(art.dataset.version), body, created: new Date().toISOString() });
    }
    setStatus(art, "Waiting to save", "pending");
    flush();
  }

  async function queuePhoto(art, file) {
    const entry = { audit: auditId, user: userId, kind: "evidence", question: Number(art.dataset.question),
      id: queue.newId(), blob: file, filename: file.name || "photo.jpg",
      taken_at: new Date(file.lastModified || Date.now()).toISOString(), created: new Date().toISOString() };
    const seq = await queue.enqueue(entry);
    showPreview(art, file, seq);
    setStatus(art, "Photo waiting to upload", "pending");
    flush();
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
    if (item.kind === "evidence") {
      const form = new FormData();
      form.append("file", item.blob, item.filename);
      form.append("question_id", String(item.question));
      form.append("client_id", item.id);
      form.append("taken_at", item.taken_at);
      return fetch(evidenceApi, { method: "POST", body: form, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "X-Audit-Author": String(item.user), Accept: "application/json" } });
    }
    const payload = Object.assign({}, item.body, { base_version: item.base_version, mutation_id: item.id });
    return fetch(`${answersApi}/${item.question}`, { method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "X-Audit-Author": String(item.user),
        Accept: "application/json" },
      body: JSON.stringify(payload) });
  }

  async function rebase(qid, from, to) {
    const items = await mine();
    for (const later of items) {
      if (later.kind === "answer" && later.question === qid && later.base_version === from) {
        later.base_version = to;
        await queue.update(later);
      }
    }
  }

  async function dropLater(qid) {
    const items = await mine();
    for (const later of items) {
      if (later.kind === "answer" && later.question === qid) await queue.remove(later.seq);
    }
  }

  async function handle(item, response) {
    const art = article(item.question);
    let json = {};
    try { json = await response.json(); } catch (e) { json = {}; }
    if (response.ok) {
      await queue.remove(item.seq);
      if (item.kind === "answer") {
        remember(json.answer);
        await rebase(item.question, item.base_version, json.answer.version);
        if (art) {
          art.dataset.version = String(json.answer.version);
          const stillPending = (await mine())
            .some((i) => i.kind === "answer" && i.question === item.question);
          if (!stillPending) setStatus(art, "Saved", "saved");
        }
      } else if (art) {
        const span = art.querySelector(`[data-pending-seq="${item.seq}"]`);
        if (span) { span.classList.remove("pending"); span.dataset.evidenceId = String(json.evidence.id); }
        setStatus(art, "Photo saved", "saved");
      }
      return true;
    }
    if (response.status === 409 && item.kind === "answer") {
      await queue.remove(item.seq);
      await dropLater(item.question);
      if (art) showConflict(art, json.current);
      return true;
    }
    if (response.status === 403 && json.code === "other_author") {
      // Someone else signed in on this tablet meanwhile: keep the change for its author.
      problem = "Signed in as someone else: these changes wait for their author";
      return false;
    }
    if (response.status === 401) {
      problem = "Log in again to save (changes are kept on this tablet)";
      return false;
    }
    if (response.status >= 500 || response.status === 0) {
      problem = "The server had a problem; retrying";
      return false;
    }
    // Refused for good (invalid, forbidden, frozen): tell the user, drop it from the queue.
    await queue.remove(item.seq);
    if (art) setStatus(art, json.detail || `Not saved (${response.status})`, "error");
    problem = json.detail || "A change was refused";
    return true;
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    problem = null;
    try {
      for (;;) {
        const items = await mine();
        if (!items.length) break;
        const item = items[0];
        inflight = item.seq;
        let response;
        try {
          response = await send(item);
        } catch (e) {
          problem = null;
          break; // offline: keep the order, try again when the connection returns
        } finally {
          inflight = null;
        }
        if (!(await handle(item, response))) break;
      }
    } finally {
      flushing = false;
      await updateSync();
    }
  }

  async function updateSync() {
    const waiting = (await mine()).length;
    const conflicts = root.querySelectorAll(".q.conflict").length;
    let text = "All changes saved";
    let kind = "saved";
    if (conflicts) { text = `${conflicts} conflict${conflicts > 1 ? "s" : ""} to resolve`; kind = "conflict"; }
    if (waiting) {
      kind = navigator.onLine ? "pending" : "offline";
      text = navigator.onLine ? `Saving… ${waiting} waiting` : `Offline: ${waiting} change${waiting > 1 ? "s" : ""} kept on this tablet`;
    }
    if (problem && waiting) { kind = "error"; text = `${problem} (${waiting} waiting)`; }
    else if (problem) { kind = "error"; text = problem; }
    const others = await othersWaiting();
    if (others) text += ` · ${others} change${others > 1 ? "s" : ""} by another person wait on this tablet for them to sign in`;
    if (canAnswer && syncEl) { syncEl.textContent = text; syncEl.dataset.sync = kind; }
  }

  // --- other auditors' answers: pulled now and then so tablets see each other's work ------------
  async function pull() {
    if (!navigator.onLine || flushing) return;
    let data;
    try {
      const response = await fetch(answersApi, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      data = await response.json();
    } catch (e) {
      return;
    }
    const waiting = new Set((await mine()).map((i) => i.question));
    data.answers.forEach((answer) => {
      const art = article(answer.question_id);
      if (!art || waiting.has(answer.question_id) || art.classList.contains("conflict")) return;
      const typing = document.activeElement && document.activeElement.matches("textarea, input") &&
        art.contains(document.activeElement);
      if (typing || answer.version <= Number(art.dataset.version)) return;
      applyServer(art, answer);
      remember(answer);
      setStatus(art, `Updated by ${answer.answered_by || "a colleague"}`, "saved");
    });
    refresh();
  }

  // --- conflicts --------------------------------------------------------------------------------
  function label(answer) {
    const art = article(answer.question_id);
    const value = answer.verdict || answer.value;
    const button = art && value ? art.querySelector(`[data-set="${CSS.escape(value)}"]`) : null;
    return (button ? button.textContent : value || "no answer") + (answer.note ? ` — ${answer.note}` : "");
  }

  function showConflict(art, current) {
    const mine = Object.assign({ question_id: Number(art.dataset.question) }, bodyOf(art));
    let panel = art.querySelector("[data-conflict]");
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "q-conflict";
      panel.dataset.conflict = "";
      art.appendChild(panel);
    }
    panel.replaceChildren();
    const title = document.createElement("p");
    title.innerHTML = "<b></b>";
    title.firstChild.textContent = `${current.answered_by || "Someone"} changed this answer meanwhile.`;
    const theirs = document.createElement("p");
    theirs.textContent = `Theirs: ${label(current)}`;
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
    keep.addEventListener("click", () => resolve(art, current, "mine"));
    take.addEventListener("click", () => resolve(art, current, "theirs"));
  }

  function resolve(art, current, choice) {
    const panel = art.querySelector("[data-conflict]");
    panel.hidden = true;
    art.classList.remove("conflict");
    art.dataset.version = String(current.version);
    if (choice === "theirs") {
      applyServer(art, current);
      remember(current);
      setStatus(art, "Saved", "saved");
      refresh();
      updateSync();
    } else {
      queueAnswer(art);
    }
  }

  // --- events -----------------------------------------------------------------------------------
  if (canAnswer) {
    root.addEventListener("click", (event) => {
      const button = event.target.closest("[data-set]");
      if (!button) return;
      const art = button.closest("[data-question]");
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
  mine().then((items) => {
    items.forEach((item) => {
      const art = article(item.question);
      if (!art) return;
      if (item.kind === "answer") {
        showState(art, item.body.verdict || item.body.value, item.body.note);
        setStatus(art, "Waiting to save", "pending");
      } else {
        showPreview(art, item.blob, item.seq);
      }
    });
    refresh();
    if (canAnswer) flush(); else updateSync();
  }).catch(() => refresh());
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const first = !navigator.serviceWorker.controller;
  navigator.serviceWorker.register("/sw.js", { scope: "/" })
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      // The very first visit was not fetched through the worker: keep a copy for offline reloads.
      if (first && window.caches) return caches.open(PAGE_CACHE).then((c) => c.add(location.pathname));
      return null;
    })
    .catch(() => { /* no offline support in this browser: the page still works online */ });
}
