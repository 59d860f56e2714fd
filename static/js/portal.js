// Portal behaviour, no inline scripts (strict CSP): strength checklists remembered on the phone,
// the log form hiding effort/pain for a skipped session, and the intake's conditional fields.
(function () {
  "use strict";

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  // Strength checklist: ticks survive a reload (same phone), per session.
  document.querySelectorAll("[data-checklist]").forEach(function (list) {
    var key = "hero-check-" + list.getAttribute("data-checklist");
    var store = storage();
    var saved = [];
    try {
      saved = JSON.parse((store && store.getItem(key)) || "[]");
    } catch (e) {
      saved = [];
    }
    var boxes = list.querySelectorAll("input[type=checkbox]");
    boxes.forEach(function (box) {
      box.checked = saved.indexOf(box.value) !== -1;
      box.closest("li").classList.toggle("is-done", box.checked);
      box.addEventListener("change", function () {
        var ticked = [];
        boxes.forEach(function (b) {
          if (b.checked) ticked.push(b.value);
          b.closest("li").classList.toggle("is-done", b.checked);
        });
        if (store) store.setItem(key, JSON.stringify(ticked));
      });
    });
  });

  // Log form: effort and pain don't apply to a skipped session.
  document.querySelectorAll("[data-log-form]").forEach(function (form) {
    var extra = form.querySelector("[data-hide-when-skipped]");
    function sync() {
      var checked = form.querySelector("input[name=status]:checked");
      if (extra) extra.hidden = !!checked && checked.value === "skipped";
    }
    form.querySelectorAll("input[name=status]").forEach(function (r) {
      r.addEventListener("change", sync);
    });
    sync();
  });

  // Intake: ask for minutes only when she can run some; race date only with a race.
  function toggle(selector, show) {
    var el = document.querySelector(selector);
    if (el) el.hidden = !show;
  }
  var intake = document.querySelector("[data-intake]");
  if (intake) {
    var sync = function () {
      var ability = intake.querySelector("input[name=ability]:checked");
      toggle("[data-when-run-minutes]", !ability || ability.value === "run_minutes");
      var race = intake.querySelector("select[name=race_type]");
      toggle("[data-when-race]", !race || race.value !== "");
      toggle("[data-when-rundisney]", !!race && race.value === "rundisney");
    };
    intake.addEventListener("change", sync);
    sync();
  }
})();

// Print button on the plan page (the print stylesheet does the layout).
// A printed plan shows every week, folded or not.
window.addEventListener("beforeprint", function () {
  document.querySelectorAll("details.week-card:not([open])").forEach(function (d) {
    d.open = true;
    d.dataset.printOpened = "1";
  });
});
window.addEventListener("afterprint", function () {
  document.querySelectorAll("details.week-card[data-print-opened]").forEach(function (d) {
    d.open = false;
    delete d.dataset.printOpened;
  });
});

document.querySelectorAll("[data-print]").forEach(function (btn) {
  btn.addEventListener("click", function () {
    window.print();
  });
});
