// The browser modules that cannot run under Node (they need the DOM or IndexedDB) must at least
// parse as ES modules: a syntax error there silently disables the whole tablet page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

for (const name of ["checklist.js", "offline-queue.js", "relogin.js", "raise-finding.js"]) {
  test(`static/js/${name} parses as an ES module`, () => {
    const copy = join(mkdtempSync(join(tmpdir(), "audit-js-")), name.replace(/\.js$/, ".mjs"));
    copyFileSync(new URL(`../../static/js/${name}`, import.meta.url), copy);
    const run = spawnSync(process.execPath, ["--check", copy], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
  });
}
