// Hero's service worker: the runner's Today, week and plan pages (and the files they use) open
// with no signal, as last synced. It keeps nothing else: coach pages, the API and every other
// page go to the network untouched. Pages live in their own cache, emptied at logout
// (static/js/offline.js asks for it) so nobody else's plan stays on a shared phone.
"use strict";

const VERSION = "v1";
const PAGES = "hero-pages-" + VERSION;
const FILES = "hero-files-" + VERSION;
// The runner's own pages that work offline: Today, a day, the week, the whole plan.
const OFFLINE_PAGES = /^\/portal(\/(week|plan|day\/\d{4}-\d{2}-\d{2}))?\/?$/;
// Files the pages load (CSS, JS, icons); their URLs come from the pages themselves.
// Exercise drawings too (strength days).
const FILE_PREFIXES = ["/static/", "/bootstrap/static/", "/strength/drawings/"];
// The coach's exercise photos and video posters; not the videos (phones fetch them in ranges).
const EXERCISE_PICTURE = /^\/strength\/media\/[0-9a-f]{32}\.jpg$/;
// A page is the same page whatever Vary says: the cache holds one runner's pages at a time.
const MATCH_PAGES = { cacheName: PAGES, ignoreVary: true };
const MATCH_FILES = { cacheName: FILES, ignoreVary: true };

function isFile(url) {
  return (
    FILE_PREFIXES.some((prefix) => url.pathname.startsWith(prefix)) ||
    EXERCISE_PICTURE.test(url.pathname)
  );
}

function isOfflinePage(url) {
  return OFFLINE_PAGES.test(url.pathname);
}

self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names
            .filter((name) => name.startsWith("hero-") && name !== PAGES && name !== FILES)
            .map((name) => caches.delete(name)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

// A page is kept only when it is the runner's own, fresh and whole (not a redirect to login).
function keepable(response) {
  return response && response.ok && !response.redirected && response.type === "basic";
}

// Set at logout: a fetch still on its way must not refill the caches just emptied.
let forgotten = false;

async function keep(cacheName, request, response) {
  if (forgotten || !keepable(response)) return;
  const cache = await caches.open(cacheName);
  await cache.put(request, response);
}

// Pages: the network first (the plan adapts); the last synced copy without signal.
async function page(request) {
  try {
    const response = await fetch(request);
    await keep(PAGES, request, response.clone());
    return response;
  } catch (err) {
    const cached = await caches.match(request, MATCH_PAGES);
    if (cached) return cached;
    const today = await caches.match("/portal", MATCH_PAGES);
    if (today) return today;
    return new Response(
      "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
        "<title>No signal · 0 to 5K Hero</title><main style='font-family:sans-serif;padding:1rem'>" +
        "<h1>No signal</h1><p>This page hasn't been saved on your phone yet. " +
        "Open Today once with signal and it will be here next time.</p></main>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } },
    );
  }
}

// Files: the saved copy at once, refreshed behind it for next time; fetched and kept otherwise.
async function file(event, request) {
  const cached = await caches.match(request, MATCH_FILES);
  const network = fetch(request).then(async (response) => {
    await keep(FILES, request, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(network.catch(() => undefined));
    return cached;
  }
  return network;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isFile(url)) {
    event.respondWith(file(event, request));
  } else if (request.mode === "navigate" && isOfflinePage(url)) {
    event.respondWith(page(request));
  }
  // Anything else: the network, as if there were no service worker.
});

// Pre-fetch what the runner may open next without signal (this week, her plan, the files).
async function warm(urls) {
  await Promise.all(
    urls.map(async (raw) => {
      const url = new URL(raw, self.location.origin);
      if (url.origin !== self.location.origin) return;
      const cacheName = isFile(url) ? FILES : isOfflinePage(url) ? PAGES : null;
      if (!cacheName) return;
      if (cacheName === FILES && (await caches.match(url.href, MATCH_FILES))) return;
      try {
        const response = await fetch(url.href, { credentials: "same-origin" });
        await keep(cacheName, url.href, response);
      } catch (err) {
        // No signal right now: the next page view tries again.
      }
    }),
  );
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "warm" && Array.isArray(data.urls)) {
    event.waitUntil(warm(data.urls.slice(0, 40)));
  } else if (data.type === "forget") {
    forgotten = true;
    event.waitUntil(
      caches
        .keys()
        .then((names) =>
          Promise.all(names.filter((n) => n.startsWith("hero-")).map((n) => caches.delete(n))),
        ),
    );
  }
});
