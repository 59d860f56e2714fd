// The guided strength session on a strength day: one exercise at a time, sets × reps with a tap
// per set, holds counted down, rests between sets and before the next exercise, a short pause to
// switch sides; beeps, buzz and wake lock as on run days (timer-core.js). No inline script: the
// exercises come from a <script type="application/json"> block inside [data-strength].
//
// Like the run/walk timer, time comes from timestamps, not from counting ticks, and the state is
// kept in localStorage, so a reload (or the phone sleeping) carries on where she was.
(function () {
  "use strict";

  var core = window.HeroTimer;
  var TICK_MS = 250;
  var SWITCH_SECONDS = 10; // to change sides
  var SIDE_NAMES = { left: "left side", right: "right side" };

  function buildSteps(items) {
    var steps = [];
    items.forEach(function (it, i) {
      var sides = it.per_side ? ["left", "right"] : [null];
      for (var set = 1; set <= it.sets; set++) {
        sides.forEach(function (side, j) {
          steps.push({
            type: it.seconds ? "hold" : "reps",
            item: i,
            set: set,
            side: side,
            seconds: it.seconds || 0,
            last: j === sides.length - 1,
          });
          if (j < sides.length - 1) {
            steps.push({ type: "switch", item: i, set: set, side: sides[j + 1], seconds: SWITCH_SECONDS });
          }
        });
        if (set < it.sets) steps.push({ type: "rest", item: i, set: set + 1, seconds: it.rest });
      }
      if (i < items.length - 1) steps.push({ type: "rest", item: i + 1, set: 1, seconds: it.rest, next: true });
    });
    steps.push({ type: "done" });
    return steps;
  }

  function Guide(root) {
    this.root = root;
    this.items = JSON.parse(root.querySelector("[data-strength-items]").textContent);
    this.steps = buildSteps(this.items);
    this.key = "hero-strength-" + root.getAttribute("data-strength-key");
    var q = function (sel) { return root.querySelector(sel); };
    this.el = {
      panel: q("[data-guide]"),
      start: q("[data-guide-start]"),
      step: q("[data-guide-step]"),
      name: q("[data-guide-name]"),
      demo: q("[data-guide-demo]"),
      what: q("[data-guide-what]"),
      sets: q("[data-guide-sets]"),
      count: q("[data-guide-count]"),
      cue: q("[data-guide-cue]"),
      done: q("[data-guide-done]"),
      skip: q("[data-guide-skip]"),
      pause: q("[data-guide-pause]"),
      resume: q("[data-guide-resume]"),
      stop: q("[data-guide-stop]"),
    };
    this.wake = new core.WakeLock();
    this.interval = null;
    this.shownDemo = null;
    this.state = this.load();
    var self = this;
    this.el.start.addEventListener("click", function () { self.start(); });
    this.el.done.addEventListener("click", function () { self.next(true); });
    this.el.skip.addEventListener("click", function () { self.next(true); });
    this.el.pause.addEventListener("click", function () { self.pause(); });
    this.el.resume.addEventListener("click", function () { self.resume(); });
    this.el.stop.addEventListener("click", function () { self.finish(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && self.running()) {
        self.wake.acquire();
        self.tick();
      }
    });
    if (this.running()) {
      this.wake.acquire();
      this.loop();
    } else if (this.step() && this.step().type === "done") {
      this.complete(); // a reload after the end: the log below is filled in again
    }
    this.render();
  }

  Guide.prototype.fresh = function () {
    return { index: null, startedAt: null, pausedAt: null, pausedMs: 0, setsDone: {} };
  };

  Guide.prototype.load = function () {
    var store = core.storage();
    var raw = store && store.getItem(this.key);
    if (raw) {
      try {
        var st = JSON.parse(raw);
        if (typeof st.index === "number" && st.index < this.steps.length) return st;
      } catch (e) {
        /* a fresh state */
      }
    }
    return this.fresh();
  };

  Guide.prototype.save = function () {
    var store = core.storage();
    if (store) store.setItem(this.key, JSON.stringify(this.state));
  };

  Guide.prototype.step = function () {
    return this.state.index === null ? null : this.steps[this.state.index];
  };

  Guide.prototype.running = function () {
    var s = this.step();
    return s !== null && s.type !== "done" && this.state.pausedAt === null;
  };

  Guide.prototype.elapsed = function () {
    var st = this.state;
    var now = st.pausedAt !== null ? st.pausedAt : Date.now();
    return Math.max(0, (now - st.startedAt - st.pausedMs) / 1000);
  };

  Guide.prototype.start = function () {
    core.unlockAudio();
    this.state = this.fresh();
    this.state.index = 0;
    this.state.startedAt = Date.now();
    this.save();
    this.wake.acquire();
    core.cue("work");
    this.loop();
    this.render();
    this.el.panel.scrollIntoView({ block: "start" });
  };

  // Leave the current step (a tap, or a timed step running out) for the next one.
  Guide.prototype.next = function (tapped) {
    var step = this.step();
    if (step === null || step.type === "done") return;
    if (tapped) core.unlockAudio();
    if ((step.type === "reps" || step.type === "hold") && step.last) {
      var id = this.items[step.item].id;
      this.state.setsDone[id] = Math.max(this.state.setsDone[id] || 0, step.set);
    }
    this.state.index += 1;
    this.state.startedAt = Date.now();
    this.state.pausedAt = null;
    this.state.pausedMs = 0;
    var now = this.step();
    if (now.type === "done") {
      core.cue("done");
      this.complete();
    } else {
      core.cue(now.type === "rest" || now.type === "switch" ? "rest" : "work");
    }
    this.save();
    this.render();
  };

  Guide.prototype.pause = function () {
    if (!this.running()) return;
    this.state.pausedAt = Date.now();
    this.save();
    this.stopLoop();
    this.wake.release();
    this.render();
  };

  Guide.prototype.resume = function () {
    if (this.state.pausedAt === null) return;
    core.unlockAudio();
    this.state.pausedMs += Date.now() - this.state.pausedAt;
    this.state.pausedAt = null;
    this.save();
    this.wake.acquire();
    this.loop();
    this.render();
  };

  // "End session" early: what was done so far goes to the log below.
  Guide.prototype.finish = function () {
    this.state.index = this.steps.length - 1;
    this.state.pausedAt = null;
    this.save();
    this.complete();
    this.render();
  };

  // The end: fill the log below (sets done, status) and take her to the ratings.
  Guide.prototype.complete = function () {
    this.stopLoop();
    this.wake.release();
    var self = this;
    var full = true;
    this.items.forEach(function (it) {
      var done = self.state.setsDone[it.id] || 0;
      if (done < it.sets) full = false;
      var input = document.querySelector('input[name="sets-' + it.id + '"]');
      if (input) input.value = String(done);
    });
    var status = document.getElementById("status-strength-" + (full ? "done" : "partial"));
    if (status && !document.querySelector('input[name="status"]:checked')) {
      status.checked = true;
      status.dispatchEvent(new Event("change", { bubbles: true }));
    }
  };

  Guide.prototype.loop = function () {
    var self = this;
    this.stopLoop();
    this.interval = window.setInterval(function () { self.tick(); }, TICK_MS);
  };

  Guide.prototype.stopLoop = function () {
    if (this.interval !== null) window.clearInterval(this.interval);
    this.interval = null;
  };

  Guide.prototype.tick = function () {
    var step = this.step();
    if (step && step.seconds && this.state.pausedAt === null && this.elapsed() >= step.seconds) {
      this.next(false); // a hold or rest ran out (once, even if the phone slept through more)
      return;
    }
    this.render();
  };

  Guide.prototype.showDemo = function (index) {
    if (this.shownDemo === index) return;
    this.shownDemo = index;
    this.el.demo.textContent = "";
    var card = this.root.querySelector('[data-exercise="' + this.items[index].id + '"] [data-demo]');
    var media = card && card.querySelector("img, video");
    if (media) {
      var copy = media.cloneNode(true);
      copy.removeAttribute("loading");
      this.el.demo.appendChild(copy);
    }
  };

  Guide.prototype.render = function () {
    var el = this.el;
    var step = this.step();
    el.start.hidden = step !== null && step.type !== "done";
    el.start.textContent = step && step.type === "done" ? "Start again" : "Start session";
    el.panel.hidden = step === null;
    if (step === null) {
      this.root.removeAttribute("data-phase");
      return;
    }
    var paused = this.state.pausedAt !== null;
    var phase = step.type === "hold" || step.type === "reps" ? "work" : step.type;
    el.panel.setAttribute("data-phase", phase);
    el.panel.setAttribute("data-step", String(this.state.index));
    el.panel.setAttribute("data-side", step.side || "");
    el.panel.setAttribute("data-state", step.type === "done" ? "done" : paused ? "paused" : "running");
    if (step.type === "done") {
      el.step.textContent = "Session complete";
      el.name.textContent = "Well done!";
      el.what.textContent = "Rate each exercise below and save your log.";
      el.sets.textContent = "";
      el.count.hidden = true;
      el.cue.textContent = "";
      el.demo.textContent = "";
      this.shownDemo = null;
      el.done.hidden = el.skip.hidden = el.pause.hidden = el.resume.hidden = el.stop.hidden = true;
      return;
    }
    var it = this.items[step.item];
    this.showDemo(step.item);
    el.step.textContent =
      "Exercise " + (step.item + 1) + " of " + this.items.length + " · set " + step.set + " of " + it.sets;
    el.name.textContent = it.name;
    el.cue.textContent = it.cue;
    var side = step.side ? " — " + SIDE_NAMES[step.side] : "";
    if (step.type === "reps") el.what.textContent = it.reps + " reps" + side;
    else if (step.type === "hold") el.what.textContent = "Hold" + side;
    else if (step.type === "switch") el.what.textContent = "Switch to your " + SIDE_NAMES[step.side];
    else if (step.next) el.what.textContent = "Rest. Next: " + it.name;
    else el.what.textContent = "Rest before set " + step.set;
    el.sets.textContent = "";
    var done = this.state.setsDone[it.id] || 0;
    for (var s = 1; s <= it.sets; s++) {
      var dot = document.createElement("span");
      if (s <= done) dot.className = "is-done";
      el.sets.appendChild(dot);
    }
    el.count.hidden = !step.seconds;
    if (step.seconds) el.count.textContent = core.fmt(step.seconds - this.elapsed());
    el.done.hidden = step.type !== "reps" || paused;
    el.skip.hidden = !(step.type === "rest" || step.type === "switch") || paused;
    el.pause.hidden = paused;
    el.resume.hidden = !paused;
    el.stop.hidden = false;
  };

  document.querySelectorAll("[data-strength]").forEach(function (root) {
    root.heroGuide = new Guide(root);
  });
})();
