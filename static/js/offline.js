// The runner's phone app (no inline scripts: strict CSP). With no signal, a session log is kept on
// the phone (localStorage) with an id made here, and sent when the signal returns: the server
// saves a log once per id, so sending twice is harmless. She sees what is waiting. The service
// worker (/sw.js) keeps her Today, week and plan pages; at logout everything kept is forgotten.
(function () {
  "use strict";

  var QUEUE = "hero-offline-logs";
  var SENT = "hero-offline-sent";
  var body = document.body;
  var workerUrl = body.getAttribute("data-offline-app");
  var logsUrl = body.getAttribute("data-offline-logs");
  var user = body.getAttribute("data-offline-user") || "";

  function storage(kind) {
    try {
      return window[kind];
    } catch (e) {
      return null;
    }
  }

  function load() {
    var store = storage("localStorage");
    try {
      var items = JSON.parse((store && store.getItem(QUEUE)) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (e) {
      return [];
    }
  }

  function save(items) {
    var store = storage("localStorage");
    if (!store) return false;
    try {
      store.setItem(QUEUE, JSON.stringify(items));
      return true;
    } catch (e) {
      return false;
    }
  }

  function waiting() {
    return load().filter(function (item) {
      return item.user === user;
    });
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  function csrfToken(fallback) {
    var field = document.querySelector("input[name=csrf_token]");
    return (field && field.value) || fallback || "";
  }

  // What she sees: logs waiting, no signal, or the logs that were just sent.
  var banner = null;
  var bannerKind = "";
  function showBanner(text, tone, kind) {
    bannerKind = text ? kind || "" : "";
    if (!banner) {
      banner = document.createElement("div");
      banner.setAttribute("role", "status");
      banner.setAttribute("data-offline-status", "");
      var main = document.getElementById("main");
      if (!main) return;
      main.insertBefore(banner, main.firstChild);
    }
    banner.className = "alert alert-" + tone;
    banner.textContent = text;
    banner.hidden = !text;
  }

  function render() {
    if (!user) return;
    var count = waiting().length;
    if (count) {
      var logs = count === 1 ? "1 log is" : count + " logs are";
      showBanner(
        logs +
          " waiting on your phone. " +
          (navigator.onLine
            ? "Sending now…"
            : "It will be sent when you have signal again. Keep this page or the app open."),
        "warning",
        "waiting",
      );
    } else if (!navigator.onLine) {
      showBanner(
        "No signal: this is your plan as last synced. You can still log.",
        "info",
        "offline",
      );
    } else if (bannerKind === "waiting" || bannerKind === "offline") {
      showBanner("", "info");
    }
  }

  function problem(data) {
    if (!data.status) return "Tap done, partly or skipped.";
    if (data.status !== "skipped" && (data.effort === null || data.pain_during === null)) {
      return "Tap how hard it was and any pain (0 if none).";
    }
    return "";
  }

  function number(value) {
    return value === null || value === "" ? null : parseInt(value, 10);
  }

  // A log made without signal: kept on the phone instead of a form post that would fail.
  function keepOffline(form) {
    var fields = new FormData(form);
    var id = newId();
    var log = {
      session_date: fields.get("session_date"),
      kind: fields.get("kind") || null,
      status: fields.get("status"),
      effort: number(fields.get("effort")),
      pain_during: number(fields.get("pain_during")),
      note: fields.get("note") || "",
      client_id: id,
    };
    if (log.status === "skipped") {
      log.effort = null;
      log.pain_during = null;
    }
    var message = problem(log);
    var error = form.querySelector("[data-offline-error]");
    if (!error) {
      error = document.createElement("div");
      error.className = "alert alert-danger py-1";
      error.setAttribute("data-offline-error", "");
      error.setAttribute("role", "alert");
      form.insertBefore(error, form.firstChild);
    }
    error.textContent = message;
    error.hidden = !message;
    if (message) return;
    // A newer log for the same session replaces the one waiting.
    var items = load().filter(function (item) {
      return !(
        item.user === user &&
        item.log.session_date === log.session_date &&
        item.log.kind === log.kind
      );
    });
    items.push({ user: user, csrf: fields.get("csrf_token"), log: log });
    if (!save(items)) {
      error.textContent = "Your phone couldn't keep this log. Try again when you have signal.";
      error.hidden = false;
      return;
    }
    var button = form.querySelector("button[type=submit]");
    if (button) button.textContent = "Saved on your phone";
    render();
  }

  var sending = false;
  function send(item) {
    return fetch(logsUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(item.csrf),
      },
      body: JSON.stringify(item.log),
    }).then(
      function (response) {
        if (response.ok) return "sent";
        // The server will never take it (e.g. no session that day any more): don't retry.
        if (response.status === 422) return "refused";
        return "kept"; // signed out, a server error: try again later
      },
      function () {
        return "kept";
      },
    );
  }

  function flush() {
    if (sending || !navigator.onLine || !logsUrl) return;
    var items = waiting();
    if (!items.length) return;
    sending = true;
    render();
    var sent = 0;
    var refused = 0;
    items
      .reduce(function (chain, item) {
        return chain.then(function () {
          return send(item).then(function (outcome) {
            if (outcome === "kept") return;
            if (outcome === "sent") sent += 1;
            else refused += 1;
            save(
              load().filter(function (other) {
                return other.log.client_id !== item.log.client_id;
              }),
            );
          });
        });
      }, Promise.resolve())
      .then(function () {
        sending = false;
        if (sent || refused) {
          var session = storage("sessionStorage");
          if (session) session.setItem(SENT, JSON.stringify({ sent: sent, refused: refused }));
          if (/^\/portal/.test(window.location.pathname)) {
            window.location.reload(); // show the plan as it adapted to her logs
            return;
          }
        }
        render();
      });
  }

  function announceSent() {
    var session = storage("sessionStorage");
    var raw = session && session.getItem(SENT);
    if (!raw) return;
    session.removeItem(SENT);
    var done = JSON.parse(raw);
    var text = "";
    if (done.sent) {
      text = (done.sent === 1 ? "Your log" : done.sent + " logs") + " from offline saved.";
    }
    if (done.refused) {
      text +=
        " " +
        (done.refused === 1 ? "One log" : done.refused + " logs") +
        " couldn't be saved (the session is no longer in your plan).";
    }
    showBanner(text.trim(), done.refused ? "warning" : "success", "sent");
  }

  // Forget what this phone kept for her: at logout, before the form goes.
  function forget() {
    var jobs = [];
    var store = storage("localStorage");
    if (store) store.removeItem(QUEUE);
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "forget" });
    }
    if (window.caches) {
      jobs.push(
        caches.keys().then(function (names) {
          return Promise.all(
            names
              .filter(function (name) {
                return name.indexOf("hero-") === 0;
              })
              .map(function (name) {
                return caches.delete(name);
              }),
          );
        }),
      );
    }
    if (navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
      jobs.push(
        navigator.serviceWorker.getRegistrations().then(function (registrations) {
          return Promise.all(
            registrations.map(function (registration) {
              return registration.unregister();
            }),
          );
        }),
      );
    }
    var timeout = new Promise(function (resolve) {
      setTimeout(resolve, 1500);
    });
    return Promise.race([Promise.all(jobs).catch(function () {}), timeout]);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.matches) return;
    if (form.matches("form[data-logout]")) {
      if (event.defaultPrevented) return;
      var count = waiting().length;
      if (
        count &&
        !window.confirm(
          count + " log(s) made without signal haven't been sent yet. Log out and lose them?",
        )
      ) {
        event.preventDefault();
        return;
      }
      event.preventDefault();
      // Forgetting is best effort; the logout itself always goes, within two seconds at most,
      // whatever the worker and the caches do (or throw).
      var sent = false;
      var leave = function () {
        if (sent) return;
        sent = true;
        form.submit();
      };
      window.setTimeout(leave, 2000);
      try {
        forget().then(leave, leave);
      } catch (e) {
        leave();
      }
    } else if (form.matches("form[data-log-form]") && user && !navigator.onLine) {
      event.preventDefault();
      keepOffline(form);
    }
  });

  // Ask the worker to keep what she may open next without signal.
  function warm() {
    if (!navigator.onLine) return;
    var urls = [window.location.href];
    document.querySelectorAll("link[rel=stylesheet], link[rel=manifest]").forEach(function (l) {
      urls.push(l.href);
    });
    document.querySelectorAll("script[src]").forEach(function (s) {
      urls.push(s.src);
    });
    document.querySelectorAll("a[href^='/portal']").forEach(function (a) {
      urls.push(a.href);
    });
    // A strength day's drawings, photos and video posters (the worker keeps only those).
    document.querySelectorAll("img[src^='/strength/'], video[poster^='/strength/']").forEach(
      function (m) {
        urls.push(m.tagName === "IMG" ? m.src : m.poster);
      }
    );
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ type: "warm", urls: urls });
    });
  }

  if (workerUrl && user && "serviceWorker" in navigator) {
    navigator.serviceWorker
      .register(workerUrl, { scope: "/" })
      .then(warm)
      .catch(function () {
        // No worker (private mode, old phone): the site still works online.
      });
  }
  if (user) {
    window.addEventListener("online", function () {
      render();
      flush();
    });
    window.addEventListener("offline", render);
    announceSent();
    render();
    flush();
  }
})();
