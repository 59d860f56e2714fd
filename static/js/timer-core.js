// What the run/walk timer (timer.js) and the guided strength session (strength.js) share:
// clock formatting, localStorage that may be missing, beeps, vibration and the screen wake lock.
// Exposed as window.HeroTimer; no inline script anywhere (strict CSP).
(function () {
  "use strict";

  function fmt(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var m = Math.floor(s / 60);
    var r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null; // private mode: the timer still works, it just won't survive a reload
    }
  }

  var audio = null;

  function unlockAudio() {
    // Browsers only allow sound after a tap: create/resume the context inside the click.
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume();
  }

  function beep(frequency, count) {
    if (!audio) return;
    for (var i = 0; i < count; i++) {
      var start = audio.currentTime + i * 0.28;
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.6, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.25);
    }
  }

  function vibrate(pattern) {
    if (navigator.vibrate) {
      try {
        navigator.vibrate(pattern);
      } catch (e) {
        /* some browsers refuse without a recent tap; the beep still sounds */
      }
    }
  }

  function cue(kind) {
    // Work (a run, a hold) gets a high double beep and a long buzz; "done" three beeps; a
    // change to rest (a walk, a rest) a low beep and short buzzes.
    if (kind === "run" || kind === "work") {
      beep(880, 2);
      vibrate([400, 100, 400]);
    } else if (kind === "done") {
      beep(660, 3);
      vibrate([200, 100, 200, 100, 600]);
    } else {
      beep(440, 1);
      vibrate([150, 80, 150]);
    }
  }

  function WakeLock() {
    this.sentinel = null;
  }
  WakeLock.prototype.acquire = function () {
    var self = this;
    if (!("wakeLock" in navigator) || self.sentinel) return;
    navigator.wakeLock.request("screen").then(
      function (s) {
        self.sentinel = s;
        s.addEventListener("release", function () {
          self.sentinel = null;
        });
      },
      function () {
        /* denied (battery saver, background tab): the timer keeps time anyway */
      }
    );
  };
  WakeLock.prototype.release = function () {
    if (this.sentinel) this.sentinel.release();
    this.sentinel = null;
  };

  window.HeroTimer = {
    fmt: fmt,
    storage: storage,
    unlockAudio: unlockAudio,
    beep: beep,
    vibrate: vibrate,
    cue: cue,
    WakeLock: WakeLock,
  };
})();
