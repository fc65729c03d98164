// Service worker: keeps the tablet's pages and their assets available offline.
// Static assets: served from the cache, refreshed in the background.
// Pages (the start page, audit pages, checklists, raise-finding forms, evidence thumbnails):
// network first, the cached copy when offline. The JSON API is never cached: the pages' own
// queue (IndexedDB) handles offline writes.
// The page cache holds one person's pages only: a page is cached only when the server names its
// signed-in user (USER_HEADER), and the cache is emptied when that user changes, on logout and
// on the login page — so a shared tablet never shows one person's cached pages to another.
// Rendered by audit/conduct/offline.py: the version is a hash of the cached assets and of this
// file, computed once when the app starts, so a changed asset can never hide behind an old cache.
const VERSION = {{ version|tojson }};
const STATIC_CACHE = "audit-static-" + VERSION;
const PAGE_CACHE = {{ page_cache|tojson }};
const PRECACHE = {{ precache|tojson }};
const USER_HEADER = {{ user_header|tojson }};
const MAX_PAGES = {{ max_pages|tojson }};
const OWNER_KEY = "/__offline-owner";  // a synthetic entry: whose pages the cache holds
const OFFLINE_PAGES = [
  /^\/$/,
  /^\/audits\/\d+$/,
  /^\/audits\/\d+\/checklist$/,
  /^\/audits\/\d+\/checklist\/questions\/\d+\/finding$/,
  /^\/evidence\/\d+\/thumbnail$/,
];
const isOfflinePage = (pathname) => OFFLINE_PAGES.some((re) => re.test(pathname));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys
        .filter((k) => k.startsWith("audit-static-") && k !== STATIC_CACHE)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function staleWhileRevalidate(request) {
  return caches.open(STATIC_CACHE).then((cache) => cache.match(request).then((cached) => {
    const fresh = fetch(request).then((response) => {
      if (response.ok) cache.put(request, response.clone());
      return response;
    });
    if (cached) {
      fresh.catch(() => null);
      return cached;
    }
    // Offline, a page kept from an earlier release names its assets by their old hashes
    // (?v=...): the current version of the same file serves it.
    return fresh.catch((error) => cache.match(request, { ignoreSearch: true })
      .then((current) => current || Promise.reject(error)));
  }));
}

// Writes to the page cache run one after another: an owner change must not interleave a put.
let pageWrites = Promise.resolve();
// Bumped whenever the page cache is emptied (logout, login): a page fetched before that, still on
// its way, belongs to the session that ended and is not kept.
let generation = 0;

function clearPages() {
  generation += 1;
  return serially(() => caches.delete(PAGE_CACHE));
}
function serially(fn) {
  pageWrites = pageWrites.then(fn, fn);
  return pageWrites;
}

async function owner(cache) {
  const hit = await cache.match(OWNER_KEY);
  return hit ? hit.text() : null;
}

/** Drop the oldest pages beyond MAX_PAGES (the start page and the owner entry stay). */
async function trim(cache) {
  const keys = await cache.keys();
  const pages = keys.filter((k) => { const p = new URL(k.url).pathname; return p !== "/" && p !== OWNER_KEY; });
  const extra = pages.length - (MAX_PAGES - 1);
  for (let i = 0; i < extra; i++) await cache.delete(pages[i]);
}

/**
 * Keep ``response`` for ``request`` under its user; a page of another user than the cache's
 * owner empties the cache first. Pages without a user (logged out, errors) are never kept.
 */
function keep(request, response, since) {
  const user = response.headers.get(USER_HEADER);
  if (!response.ok || response.redirected || (!user && !/\/thumbnail$/.test(new URL(request.url).pathname))) {
    return Promise.resolve(false);
  }
  return serially(async () => {
    if (since !== generation) return false;
    let cache = await caches.open(PAGE_CACHE);
    const current = await owner(cache);
    if (user && current !== user) {
      await caches.delete(PAGE_CACHE);
      cache = await caches.open(PAGE_CACHE);
      await cache.put(OWNER_KEY, new Response(user));
    } else if (!user && current === null) {
      return false;  // a thumbnail with no known owner: nothing to key it by
    }
    await cache.delete(request);  // re-adding moves the page to the newest end
    await cache.put(request, response);
    await trim(cache);
    return true;
  });
}

/** The start page of the signed-in person, kept as soon as any of their pages is. */
async function precacheStart() {
  const cache = await caches.open(PAGE_CACHE);
  if (await cache.match("/")) return;
  const since = generation;
  try {
    const response = await fetch("/", { credentials: "same-origin", redirect: "manual" });
    await keep(new Request("/"), response, since);
  } catch (e) { /* offline: next time */ }
}

/**
 * The pages that come with a kept page, so "opened online" is enough: an audit page brings its
 * checklist, a checklist the raise-finding forms of its questions (only those still missing).
 */
async function follow(path, response) {
  let paths = [];
  if (/^\/audits\/\d+$/.test(path)) paths = [path + "/checklist"];
  else if (/^\/audits\/\d+\/checklist$/.test(path)) {
    const html = await response.text();
    paths = Array.from(html.matchAll(/href="(\/audits\/\d+\/checklist\/questions\/\d+\/finding)"/g), (m) => m[1]);
  }
  if (paths.length) await warm(paths, true);
}

/** Keep a fetched page, then the start page and the pages that come with it. */
async function keepAndFollow(request, response, since) {
  const path = new URL(request.url).pathname;
  if (!(await keep(request, response.clone(), since))) return;
  await precacheStart();
  await follow(path, response);
}

function networkFirst(event, request) {
  const since = generation;
  return fetch(request).then((response) => {
    if (response.ok && !response.redirected) event.waitUntil(keepAndFollow(request, response.clone(), since).catch(() => null));
    return response;
  }).catch(() => caches.match(request, { cacheName: PAGE_CACHE, ignoreVary: true }).then((cached) => cached || new Response(
    "<!doctype html><title>Offline</title><p>You are offline and this page was not opened before.</p>",
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } })));
}

/**
 * Fetch and keep pages (a page's own first visit, the pages that come with a kept one).
 * Stops as soon as the session it started in is over — someone logged in or out, or the server
 * answers "log in first" — so a shared tablet's next person is never raced by the last one's
 * background fetches (a redirect to the login page would replace their session cookie).
 */
async function warm(paths, onlyMissing) {
  const since = generation;
  for (const path of paths) {
    if (since !== generation) return;
    if (!isOfflinePage(path)) continue;
    const cache = await caches.open(PAGE_CACHE);
    if (onlyMissing && await cache.match(path)) continue;
    try {
      const response = await fetch(path, { credentials: "same-origin", redirect: "manual" });
      if (response.status === 401 || response.type === "opaqueredirect") return;  // signed out
      await keepAndFollow(new Request(path), response, since);
    } catch (e) { return; }  // offline: stop, the next online visit asks again
  }
}

/**
 * Keep a page its own tab handed over (its HTML as parsed, before any script changed it): the
 * first visit, made before the worker was active, is kept without downloading the page again.
 * Kept only under the user the page names, so the owner rule of ``keep`` applies as to any page.
 */
async function keepSnapshot(path, html, user) {
  if (!isOfflinePage(path) || !/^\d+$/.test(user)) return;
  const headers = { "Content-Type": "text/html; charset=utf-8" };
  headers[USER_HEADER] = user;
  await keepAndFollow(new Request(path), new Response(html, { headers }), generation);
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "warm" && Array.isArray(data.paths)) event.waitUntil(warm(data.paths.map(String), Boolean(data.onlyMissing)));
  if (data.type === "keep" && typeof data.html === "string") {
    event.waitUntil(keepSnapshot(String(data.path), data.html, String(data.user)));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate" && (url.pathname === "/login" || url.pathname === "/logout")) {
    // Someone (maybe someone else) logs in or out: drop the previous person's cached pages.
    event.waitUntil(clearPages());
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(staleWhileRevalidate(request));
  } else if (isOfflinePage(url.pathname)) {
    event.respondWith(networkFirst(event, request));
  }
});
