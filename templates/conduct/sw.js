// Service worker: keeps the checklist pages and their assets available offline.
// Static assets: served from the cache, refreshed in the background.
// Checklist pages and evidence thumbnails: network first, the cached copy when offline.
// The JSON API is never cached: the page's own queue (IndexedDB) handles offline writes.
// Rendered by audit/conduct/offline.py: the version is a hash of the cached assets and of this
// file, computed once when the app starts, so a changed asset can never hide behind an old cache.
const VERSION = {{ version|tojson }};
const STATIC_CACHE = "audit-static-" + VERSION;
const PAGE_CACHE = {{ page_cache|tojson }};
const PRECACHE = {{ precache|tojson }};
const OFFLINE_PAGES = [/^\/audits\/\d+\/checklist$/, /^\/evidence\/\d+\/thumbnail$/];

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
    return fresh;
  }));
}

function networkFirst(request) {
  return fetch(request).then((response) => {
    if (response.ok && !response.redirected) {
      const copy = response.clone();
      caches.open(PAGE_CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch(() => caches.match(request, { ignoreVary: true }).then((cached) => cached || new Response(
    "<!doctype html><title>Offline</title><p>You are offline and this page was not opened before.</p>",
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } })));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate" && url.pathname === "/login") {
    // Someone (maybe someone else) is logging in: drop the previous user's cached pages.
    event.waitUntil(caches.delete(PAGE_CACHE));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(staleWhileRevalidate(request));
  } else if (OFFLINE_PAGES.some((re) => re.test(url.pathname))) {
    event.respondWith(networkFirst(request));
  }
});
