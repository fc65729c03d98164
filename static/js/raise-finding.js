// The raise-finding form on the tablet. Online, the form posts as usual (with its key, so a double
// submit raises one finding). Offline, the finding goes into the device's queue (IndexedDB) under
// the same key and the checklist page, kept by the service worker, sends it once the network is
// back — after any photos queued before it, so they are cited.
import * as queue from "./offline-queue.js";
import { Syncer } from "./checklist-sync.mjs";
import { queueFinding, queuedDefaults } from "./finding-queue.mjs";

const box = document.querySelector("[data-finding-form]");
const form = box && box.querySelector("form");
if (form) init(box, form);

function init(box, form) {
  const auditId = Number(box.dataset.audit);
  const userId = Number(box.dataset.user);
  const question = Number(box.dataset.question);
  const key = form.querySelector('input[name="mutation_id"]');
  if (key && !key.value) key.value = queue.newId();
  // Only the queueing of this syncer is used here: sending happens on the checklist page.
  const syncer = new Syncer({ store: queue, auditId, userId, newId: queue.newId, send: () => Promise.reject(new Error("not here")) });
  // An answer made offline is not in the cached form: propose the grade and evidence from it.
  syncer.mine().then((entries) => {
    const proposed = queuedDefaults(entries, question);
    const grade = form.elements.namedItem("grade");
    const evidence = form.elements.namedItem("evidence");
    if (proposed.grade && grade) grade.value = proposed.grade;
    if (proposed.evidence && evidence && !evidence.value.trim()) evidence.value = proposed.evidence;
  }).catch(() => null);
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  status.className = "muted";
  form.prepend(status);

  let posting = false;
  form.addEventListener("submit", async (event) => {
    if (posting) return;  // the usual form post, after the server was found reachable
    event.preventDefault();
    if (navigator.onLine && await reachable()) {
      posting = true;
      // The server answers: the usual post (errors shown on the page, flash on success). Not
      // form.submit(): the submit button is named "submit" and shadows it.
      HTMLFormElement.prototype.submit.call(form);
      return;
    }
    const value = (name) => (form.elements.namedItem(name) || {}).value || "";
    try {
      await queueFinding(syncer, question, {
        grade: value("grade"), statement: value("statement"), evidence: value("evidence"),
      }, key ? key.value : undefined);
    } catch (e) {
      status.textContent = e.field ? e.message : `Not kept on this tablet: ${e.message}`;
      status.className = "flash flash-error";
      const field = e.field && form.elements.namedItem(e.field);
      if (field && field.focus) field.focus();
      return;
    }
    // Back to the question (its page is kept offline); it shows the finding as waiting.
    location.assign(box.dataset.checklist);
  });
}

/** Whether the server answers at all (a tablet can be "online" on a Wi-Fi that leads nowhere). */
async function reachable() {
  try {
    const response = await fetch("/manifest.webmanifest", { method: "HEAD", cache: "no-store" });
    return response.status > 0;
  } catch (e) {
    return false;
  }
}
