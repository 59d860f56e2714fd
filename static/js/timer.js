// Run/walk interval timer for the Today page. No inline script (strict CSP): the segments come
// from a <script type="application/json"> block inside each [data-timer].
//
// Time is always computed from timestamps (Date.now() minus the start, minus paused time), never
// by counting ticks, so the countdown stays right when the phone sleeps, the tab is throttled
// or the signal drops; the state is kept in localStorage so a reload mid-run carries on.
(function () {
  "use strict";

  var LABELS = { warmup: "Warm-up walk", run: "Run", walk: "Walk", cooldown: "Cool-down walk" };
  var TICK_MS = 250;

  // Shared with the guided strength session: static/js/timer-core.js.
  var core = window.HeroTimer;
  var fmt = core.fmt;
  var storage = core.storage;
  var unlockAudio = core.unlockAudio;
  var cue = core.cue;
  var WakeLock = core.WakeLock;

  // --- the timer -----------------------------------------------------------------------------
  function Timer(root) {
    this.root = root;
    this.segments = JSON.parse(root.querySelector("[data-timer-segments]").textContent);
    this.ends = [];
    var total = 0;
    for (var i = 0; i < this.segments.length; i++) {
      total += this.segments[i].seconds;
      this.ends.push(total);
    }
    this.total = total;
    this.key = "hero-timer-" + root.getAttribute("data-timer-key");
    this.el = {
      phase: root.querySelector("[data-phase]"),
      count: root.querySelector("[data-count]"),
      next: root.querySelector("[data-next]"),
      bar: root.querySelector("[data-bar]"),
      remaining: root.querySelector("[data-remaining]"),
      start: root.querySelector("[data-start]"),
      pause: root.querySelector("[data-pause]"),
      resume: root.querySelector("[data-resume]"),
      reset: root.querySelector("[data-reset]"),
    };
    this.wake = new WakeLock();
    this.interval = null;
    this.lastIndex = null;
    this.state = this.load();
    var self = this;
    this.el.start.addEventListener("click", function () { self.start(); });
    this.el.pause.addEventListener("click", function () { self.pause(); });
    this.el.resume.addEventListener("click", function () { self.resume(); });
    this.el.reset.addEventListener("click", function () { self.reset(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && self.running()) {
        self.wake.acquire(); // the lock is dropped whenever the page is hidden
        self.tick();
      }
    });
    if (this.running()) this.loop();
    this.tick(true);
  }

  Timer.prototype.load = function () {
    var store = storage();
    var raw = store && store.getItem(this.key);
    if (raw) {
      try {
        return JSON.parse(raw);
      } catch (e) {
        /* fall through to a fresh state */
      }
    }
    return { startedAt: null, pausedAt: null, pausedMs: 0 };
  };

  Timer.prototype.save = function () {
    var store = storage();
    if (!store) return;
    if (this.state.startedAt === null) store.removeItem(this.key);
    else store.setItem(this.key, JSON.stringify(this.state));
  };

  Timer.prototype.running = function () {
    return this.state.startedAt !== null && this.state.pausedAt === null && !this.finished();
  };

  Timer.prototype.elapsed = function () {
    var st = this.state;
    if (st.startedAt === null) return 0;
    var now = st.pausedAt !== null ? st.pausedAt : Date.now();
    return Math.max(0, (now - st.startedAt - st.pausedMs) / 1000);
  };

  Timer.prototype.finished = function () {
    return this.state.startedAt !== null && this.elapsedRaw() >= this.total;
  };

  Timer.prototype.elapsedRaw = function () {
    var st = this.state;
    var now = st.pausedAt !== null ? st.pausedAt : Date.now();
    return (now - st.startedAt - st.pausedMs) / 1000;
  };

  Timer.prototype.indexAt = function (elapsed) {
    for (var i = 0; i < this.ends.length; i++) {
      if (elapsed < this.ends[i]) return i;
    }
    return this.segments.length; // done
  };

  Timer.prototype.start = function () {
    unlockAudio();
    this.state = { startedAt: Date.now(), pausedAt: null, pausedMs: 0 };
    this.save();
    this.wake.acquire();
    this.lastIndex = null;
    this.loop();
    this.tick();
  };

  Timer.prototype.pause = function () {
    if (!this.running()) return;
    this.state.pausedAt = Date.now();
    this.save();
    this.stopLoop();
    this.wake.release();
    this.tick(true);
  };

  Timer.prototype.resume = function () {
    if (this.state.pausedAt === null) return;
    unlockAudio();
    this.state.pausedMs += Date.now() - this.state.pausedAt;
    this.state.pausedAt = null;
    this.save();
    this.wake.acquire();
    this.loop();
    this.tick(true);
  };

  Timer.prototype.reset = function () {
    this.stopLoop();
    this.wake.release();
    this.state = { startedAt: null, pausedAt: null, pausedMs: 0 };
    this.save();
    this.lastIndex = null;
    this.tick(true);
  };

  Timer.prototype.loop = function () {
    var self = this;
    this.stopLoop();
    // The interval only repaints; the time itself comes from timestamps.
    this.interval = window.setInterval(function () { self.tick(); }, TICK_MS);
  };

  Timer.prototype.stopLoop = function () {
    if (this.interval !== null) window.clearInterval(this.interval);
    this.interval = null;
  };

  // Repaint; sound the cue when the segment changed since the last paint (once, even if the
  // phone slept through several changes). `quiet` repaints without a cue (load, pause).
  Timer.prototype.tick = function (quiet) {
    var st = this.state;
    var elapsed = this.elapsed();
    var index = st.startedAt === null ? -1 : this.indexAt(elapsed);
    var done = index >= this.segments.length;
    if (!quiet && this.lastIndex !== null && index !== this.lastIndex) {
      cue(done ? "done" : this.segments[index].kind);
    } else if (!quiet && this.lastIndex === null && index === 0) {
      cue(this.segments[0].kind);
    }
    this.lastIndex = index;
    var state = st.startedAt === null ? "idle" : done ? "done" : st.pausedAt !== null ? "paused" : "running";
    this.root.setAttribute("data-state", state);
    this.root.setAttribute("data-segment-index", String(index));
    var el = this.el;
    if (index === -1) {
      el.phase.textContent = "Ready";
      el.count.textContent = fmt(this.segments[0].seconds);
      el.next.textContent = "First: " + LABELS[this.segments[0].kind];
      this.root.removeAttribute("data-kind");
    } else if (done) {
      el.phase.textContent = "Done!";
      el.count.textContent = "0:00";
      el.next.textContent = "Great work. Log it below.";
      this.root.setAttribute("data-kind", "done");
      this.stopLoop();
      this.wake.release();
    } else {
      var seg = this.segments[index];
      el.phase.textContent = LABELS[seg.kind] || seg.kind;
      el.count.textContent = fmt(this.ends[index] - elapsed);
      var nxt = this.segments[index + 1];
      el.next.textContent = nxt ? "Next: " + LABELS[nxt.kind] + " " + fmt(nxt.seconds) : "Last part";
      this.root.setAttribute("data-kind", seg.kind);
    }
    var pct = Math.min(100, (100 * elapsed) / this.total);
    el.bar.style.width = pct.toFixed(1) + "%";
    el.remaining.textContent =
      index === -1 ? fmt(this.total) + " in all" : fmt(this.total - elapsed) + " to go";
    el.start.hidden = state !== "idle";
    el.pause.hidden = state !== "running";
    el.resume.hidden = state !== "paused";
    el.reset.hidden = state === "idle";
    if (state === "done") el.reset.textContent = "Start again";
    else el.reset.textContent = "Reset";
  };

  document.querySelectorAll("[data-timer]").forEach(function (root) {
    root.heroTimer = new Timer(root);
  });
})();
