// Findings raised on the tablet while offline, without the DOM (Node tests: tests/js/). A queued
// finding is an entry of the same queue as answers and photos:
//   {seq, audit, user, kind: "finding", question, id, state, body: {grade, statement, evidence}}
// Its ``id`` is the idempotency key the server keeps (audit/conduct/mutations.py), so a replay
// returns the same finding. The checklist page's Syncer sends it in queue order — after any
// photo queued before it, so the finding cites the photo.

const norm = (v) => {
  if (v === undefined || v === null) return null;
  const text = String(v).trim();
  return text === "" ? null : text;
};

/** The grades a finding may have (as the server names them). */
export const GRADES = ["major", "minor", "observation", "ofi", "good_practice"];

/**
 * The cleaned body of a finding raised on the tablet, or ``{error, field}`` when the server would
 * refuse it anyway (so the person hears it now, not after the sync).
 */
export function findingBody(fields) {
  const f = fields || {};
  const grade = norm(f.grade);
  const statement = norm(f.statement);
  const evidence = norm(f.evidence);
  if (!grade || !GRADES.includes(grade)) return { error: "Choose a grade.", field: "grade" };
  if (!statement) return { error: "State the finding.", field: "statement" };
  if (statement.length > 5000) return { error: "The statement has at most 5000 characters.", field: "statement" };
  if (!evidence && (grade === "major" || grade === "minor")) return { error: "A nonconformity needs its objective evidence.", field: "evidence" };
  if (evidence && evidence.length > 5000) return { error: "The evidence has at most 5000 characters.", field: "evidence" };
  return { body: { grade, statement, evidence } };
}

/**
 * Queue a finding raised from ``question`` in ``syncer``'s queue (its person and audit). ``id`` is
 * the form's key: the same form submitted twice is one entry, and a form posted online before is
 * still one finding on the server. Resolves with the entry; rejects with an Error carrying
 * ``field`` when the form is not complete (nothing is queued).
 */
export async function queueFinding(syncer, question, fields, id) {
  const { body, error, field } = findingBody(fields);
  if (error) throw Object.assign(new Error(error), { field });
  const same = (await syncer.mine()).find((i) => i.kind === "finding" && id && i.id === id);
  if (same) return same;
  const entry = {
    audit: syncer.auditId, user: syncer.userId, kind: "finding", question, id: id || syncer.newId(),
    state: "pending", body, created: syncer.now().toISOString(),
  };
  entry.seq = await syncer.store.enqueue(entry);
  return entry;
}

/** The person's queued findings of the syncer's audit (waiting or refused). */
export async function queuedFindings(syncer) {
  return (await syncer.mine()).filter((i) => i.kind === "finding");
}

/** Verdict of an answer → grade proposed for a finding (as audit/conduct/answers.py proposes). */
export const GRADE_FOR_VERDICT = {
  major_nc: "major", minor_nc: "minor", observation: "observation", ofi: "ofi", conforming: "good_practice",
};

/**
 * What the raise-finding form should propose from an answer still waiting in the queue (made
 * offline, so the cached form does not know it): ``{grade?, evidence?}``, empty when none waits.
 */
export function queuedDefaults(entries, question) {
  const waiting = (entries || []).filter((i) => i.kind === "answer" && i.question === question && i.state !== "refused");
  const last = waiting[waiting.length - 1];
  if (!last || !last.body) return {};
  const out = {};
  const grade = GRADE_FOR_VERDICT[last.body.verdict];
  if (grade) out.grade = grade;
  if (last.body.note) out.evidence = last.body.note;
  return out;
}
