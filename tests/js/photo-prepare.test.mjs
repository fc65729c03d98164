// Unit tests of the photo preparation rules (static/js/photo-prepare.mjs): settings, resize
// target, what happens to a chosen file, and the "too large" wording shared with the server.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  DEFAULTS, checkPrepared, fitWithin, jpegName, megabytes, photoSettings, planUpload, tooLargeMessage,
} from "../../static/js/photo-prepare.mjs";

const MB = 1048576;

test("settings come from the data attributes, with defaults for missing or bad values", () => {
  assert.deepEqual(photoSettings({}), { ...DEFAULTS });
  assert.deepEqual(photoSettings({ photoMaxBytes: "5242880", photoLongEdge: "1600", photoQuality: "0.7" }),
    { maxBytes: 5 * MB, originalMaxBytes: 40 * MB, longEdge: 1600, quality: 0.7 });
  assert.deepEqual(photoSettings({ photoMaxBytes: "x", photoLongEdge: "10", photoQuality: "3" }), { ...DEFAULTS });
  assert.equal(DEFAULTS.longEdge, 2048);
  assert.equal(DEFAULTS.quality, 0.85);
});

test("the long edge is fitted keeping the aspect ratio, and a small photo is never enlarged", () => {
  assert.deepEqual(fitWithin(4000, 3000, 2048), { width: 2048, height: 1536, scaled: true });
  assert.deepEqual(fitWithin(3000, 4000, 2048), { width: 1536, height: 2048, scaled: true });
  assert.deepEqual(fitWithin(1024, 768, 2048), { width: 1024, height: 768, scaled: false });
  assert.deepEqual(fitWithin(9000, 10, 2048), { width: 2048, height: 2, scaled: true });
});

test("sizes read as the server writes them: one decimal, none when whole", () => {
  assert.equal(megabytes(12 * MB), "12 MB");
  assert.equal(megabytes(Math.round(15.8 * MB)), "15.8 MB");
  assert.equal(tooLargeMessage(Math.round(19.5 * MB), 12 * MB), "The file is too large (19.5 MB): the limit is 12 MB.");
  assert.equal(tooLargeMessage(null, 12 * MB), "The file is too large: the limit is 12 MB.");
});

test("a photo is resized whatever its size; a PDF over the limit is refused before upload", () => {
  const settings = photoSettings({});
  assert.deepEqual(planUpload({ size: 20 * MB, type: "image/jpeg" }, settings), { action: "resize" });
  assert.deepEqual(planUpload({ size: 2 * MB, type: "application/pdf" }, settings), { action: "send" });
  const refused = planUpload({ size: Math.round(15.8 * MB), type: "application/pdf" }, settings);
  assert.equal(refused.action, "refuse");
  assert.equal(refused.message, "The file is too large (15.8 MB): the limit is 12 MB.");
  assert.equal(planUpload({ size: 0, type: "image/jpeg" }, settings).message, "The file is empty.");
});

test("a resized copy still over the limit is refused with the same words", () => {
  const settings = photoSettings({ photoMaxBytes: String(MB) });
  assert.deepEqual(checkPrepared(MB, settings), { action: "send" });
  assert.equal(checkPrepared(2 * MB, settings).message, "The file is too large (2 MB): the limit is 1 MB.");
});

test("the re-encoded file is named after the original with .jpg", () => {
  assert.equal(jpegName("IMG_0001.HEIC"), "IMG_0001.jpg");
  assert.equal(jpegName("scan.v2.png"), "scan.v2.jpg");
  assert.equal(jpegName(""), "photo.jpg");
});

test("an original photo over its bound is refused by size before any resizing, with its size", () => {
  const settings = photoSettings({ photoOriginalMaxBytes: String(40 * MB) });
  assert.equal(settings.originalMaxBytes, 40 * MB);
  const refused = planUpload({ size: Math.round(45.2 * MB), type: "image/jpeg" }, settings);
  assert.deepEqual(refused, { action: "refuse",
    message: "The photo is too large (45.2 MB): the limit for an original photo is 40 MB." });
  // Under the bound (though over the 12 MB upload limit): resized, then checked again.
  assert.deepEqual(planUpload({ size: Math.round(15.8 * MB), type: "image/jpeg" }, settings), { action: "resize" });
  assert.deepEqual(planUpload({ size: 40 * MB, type: "image/heic" }, settings), { action: "resize" });
});

test("the bound on originals defaults to 40 MB and never sits below the upload limit", () => {
  assert.equal(photoSettings({}).originalMaxBytes, 40 * MB);
  assert.equal(photoSettings({ photoMaxBytes: String(50 * MB), photoOriginalMaxBytes: String(20 * MB) }).originalMaxBytes, 50 * MB);
  assert.equal(photoSettings({ photoOriginalMaxBytes: "nonsense" }).originalMaxBytes, 40 * MB);
});
