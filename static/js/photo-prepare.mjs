// Photos made for the field, the part without the DOM: settings from the page's data
// attributes, the target size of a resized photo, what to do with a chosen file, and the words
// of a "too large" refusal (the same as the server's, audit/core/sizes.py).

export const DEFAULTS = Object.freeze({ maxBytes: 12 * 1048576, originalMaxBytes: 40 * 1048576, longEdge: 2048, quality: 0.85 });

const MEGABYTE = 1048576;

/** Settings from data-photo-max-bytes / -long-edge / -quality; bad or missing values → defaults. */
export function photoSettings(dataset = {}) {
  const num = (v) => (v === undefined || v === null || v === "" ? NaN : Number(v));
  const maxBytes = num(dataset.photoMaxBytes);
  const originalMaxBytes = num(dataset.photoOriginalMaxBytes);
  const longEdge = num(dataset.photoLongEdge);
  const quality = num(dataset.photoQuality);
  const max = Number.isFinite(maxBytes) && maxBytes > 0 ? Math.floor(maxBytes) : DEFAULTS.maxBytes;
  return {
    maxBytes: max,
    // Never below the upload limit: a file the server would take is always worth a try.
    originalMaxBytes: Math.max(max, Number.isFinite(originalMaxBytes) && originalMaxBytes > 0
      ? Math.floor(originalMaxBytes) : DEFAULTS.originalMaxBytes),
    longEdge: Number.isFinite(longEdge) && longEdge >= 64 ? Math.floor(longEdge) : DEFAULTS.longEdge,
    quality: Number.isFinite(quality) && quality > 0 && quality <= 1 ? quality : DEFAULTS.quality,
  };
}

/** 12582912 → "12 MB", 16567500 → "15.8 MB" (one decimal, none when whole). */
export function megabytes(size) {
  const text = (size / MEGABYTE).toFixed(1);
  return (text.endsWith(".0") ? text.slice(0, -2) : text) + " MB";
}

/** The refusal of a file over the limit, worded as the server words it. */
export function tooLargeMessage(size, limit) {
  if (size === null || size === undefined) return `The file is too large: the limit is ${megabytes(limit)}.`;
  return `The file is too large (${megabytes(size)}): the limit is ${megabytes(limit)}.`;
}

/** The refusal of an original photo over the bound on what the tablet resizes (server's words). */
export function originalTooLargeMessage(size, limit) {
  return `The photo is too large (${megabytes(size)}): the limit for an original photo is ${megabytes(limit)}.`;
}

/** Width and height that fit ``longEdge`` keeping the aspect ratio; never enlarges. */
export function fitWithin(width, height, longEdge) {
  const longest = Math.max(width, height);
  if (!(longest > longEdge)) return { width, height, scaled: false };
  const scale = longEdge / longest;
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
    scaled: true,
  };
}

/** Whether a chosen file is re-encoded on the device (photos) or sent as it is (PDF). */
export function isResizable(type) {
  return ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"].includes(type);
}

/**
 * What to do with a chosen file, before any work: "resize" a photo (the resized copy is checked
 * again with ``checkPrepared``), "send" another file within the limit, or "refuse" with the
 * message. The size comes first: a photo over ``originalMaxBytes`` is refused before anything
 * decodes it (a 60 MB panorama would exhaust a tablet's memory); a photo under it is resized
 * even when over the upload limit; any other file over the upload limit is refused.
 */
export function planUpload(file, settings) {
  if (!file || !file.size) return { action: "refuse", message: "The file is empty." };
  if (isResizable(file.type)) {
    return file.size > settings.originalMaxBytes
      ? { action: "refuse", message: originalTooLargeMessage(file.size, settings.originalMaxBytes) }
      : { action: "resize" };
  }
  if (file.size > settings.maxBytes) return { action: "refuse", message: tooLargeMessage(file.size, settings.maxBytes) };
  return { action: "send" };
}

/** After resizing: the copy to send, or a refusal when even the copy is over the limit. */
export function checkPrepared(size, settings) {
  return size > settings.maxBytes
    ? { action: "refuse", message: tooLargeMessage(size, settings.maxBytes) }
    : { action: "send" };
}

/** The name of the re-encoded file: the original's stem with .jpg. */
export function jpegName(name) {
  const stem = String(name || "photo").replace(/\.[^./\\]*$/, "") || "photo";
  return stem + ".jpg";
}
