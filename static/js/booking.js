// The booking and manage pages (no inline scripts: strict CSP).
// - The server renders the free times in one zone (the coach's, or the one the visitor chose).
//   Unless she chose one, the times switch to the browser's own zone here, without a reload.
// - The "Show times in" select switches zones the same way; the choice goes with the form.
// - Times that fall at night for the visitor are pointed out.
// - Picking a slot names it beside the form and scrolls to the details.
(() => {
  const root = document.getElementById("booking");
  if (!root) return;

  const NIGHT_FROM = 22; // 10 PM
  const NIGHT_TO = 6; // 6 AM

  const slotInputs = () => Array.from(document.querySelectorAll('input[name="slot"]'));

  const parts = (date, tz) => {
    const out = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      weekday: "long",
      day: "numeric",
      month: "long",
      year: "numeric",
      hour: "numeric",
      minute: "2-digit",
      hourCycle: "h12",
    })
      .formatToParts(date)
      .forEach((p) => {
        out[p.type] = p.value;
      });
    const hour24 = Number(
      new Intl.DateTimeFormat("en-US", { timeZone: tz, hour: "numeric", hourCycle: "h23" }).format(
        date,
      ),
    );
    return {
      dayKey: `${out.year}-${out.month}-${out.day}`,
      dayLabel: `${out.weekday} ${out.day} ${out.month}`,
      clock: `${out.hour}:${out.minute} ${out.dayPeriod}`,
      hour24,
    };
  };

  const isValidZone = (tz) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz });
      return true;
    } catch (_error) {
      return false;
    }
  };

  const nightNote = (tz) => {
    const night = slotInputs()
      .map((input) => parts(new Date(input.value), tz))
      .filter((p) => p.hour24 >= NIGHT_FROM || p.hour24 < NIGHT_TO)
      // Order through the night: 10 PM comes before 2 AM.
      .sort((a, b) => ((a.hour24 + 24 - NIGHT_FROM) % 24) - ((b.hour24 + 24 - NIGHT_FROM) % 24));
    if (!night.length) return "";
    const first = night[0].clock;
    const last = night[night.length - 1].clock;
    const range = first === last ? first : `${first}–${last}`;
    return `Some of Coach Ali's free times fall at night for you. These are ${range} your time.`;
  };

  const setZone = (tz) => {
    const fieldset = document.getElementById("slot-picker");
    if (!fieldset || !isValidZone(tz)) return;
    root.dataset.tz = tz;
    const pretty = tz.replaceAll("_", " ");
    const help = document.getElementById("slot-zone");
    if (help) help.textContent = pretty;

    // Regroup the slots by day in the new zone; each keeps its input, label and value.
    const groups = new Map();
    slotInputs().forEach((input) => {
      const p = parts(new Date(input.value), tz);
      const label = document.querySelector(`label[for="${input.id}"]`);
      label.textContent = p.clock;
      input.dataset.label = `${p.dayLabel}, ${p.clock}`;
      if (!groups.has(p.dayKey)) groups.set(p.dayKey, { label: p.dayLabel, pairs: [] });
      groups.get(p.dayKey).pairs.push([input, label]);
    });
    const days = Array.from(fieldset.querySelectorAll("details.slot-day"));
    if (days.length) {
      const template = days[0];
      const anchor = document.createComment("days");
      template.before(anchor);
      days.forEach((d) => d.remove());
      let anyOpen = false;
      const built = [];
      groups.forEach((group) => {
        const details = template.cloneNode(false);
        details.removeAttribute("open");
        const summary = template.querySelector("summary").cloneNode(false);
        const badge = template.querySelector("summary .badge").cloneNode(false);
        const n = group.pairs.length;
        badge.textContent = `${n} time${n === 1 ? "" : "s"}`;
        summary.append(`${group.label} `, badge);
        const box = template.querySelector("div").cloneNode(false);
        group.pairs.forEach(([input, label]) => box.append(input, label));
        details.append(summary, box);
        if (group.pairs.some(([input]) => input.checked)) {
          details.open = true;
          anyOpen = true;
        }
        built.push(details);
      });
      if (!anyOpen && built.length) built[0].open = true;
      anchor.after(...built);
      anchor.remove();
    }

    const note = document.getElementById("night-note");
    if (note) {
      const text = nightNote(tz);
      note.textContent = text;
      note.hidden = !text;
    }
    // The zone goes with the booking (for her emails) and with the links to other dates.
    document.querySelectorAll('form[method="post"] input[name="tz"]').forEach((input) => {
      input.value = tz;
    });
    fieldset.querySelectorAll("a[href]").forEach((link) => {
      const url = new URL(link.href, window.location.href);
      url.searchParams.set("tz", tz);
      link.href = url.pathname + url.search;
    });
    const select = document.getElementById("tz-select");
    if (select) {
      if (!Array.from(select.options).some((o) => o.value === tz)) {
        select.prepend(new Option(pretty, tz));
      }
      select.value = tz;
    }
    const summary = document.getElementById("slot-summary");
    const checked = slotInputs().find((input) => input.checked);
    if (summary && checked) summary.textContent = checked.dataset.label;
  };

  const remember = (tz) => {
    const params = new URLSearchParams(window.location.search);
    params.set("tz", tz);
    window.history.replaceState(null, "", `${window.location.pathname}?${params.toString()}`);
  };

  if (root.dataset.tzChosen !== "1") {
    let detected = "";
    try {
      detected = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (_error) {
      detected = "";
    }
    if (detected && detected !== root.dataset.tz) setZone(detected);
  }

  const select = document.getElementById("tz-select");
  if (select) {
    select.addEventListener("change", () => {
      setZone(select.value);
      root.dataset.tzChosen = "1";
      remember(select.value);
    });
    document.querySelectorAll("[data-js-hide]").forEach((el) => {
      el.hidden = true;
    });
  }

  const summary = document.getElementById("slot-summary");
  const details = document.getElementById("details");
  slotInputs().forEach((input) => {
    if (input.checked && summary) summary.textContent = input.dataset.label;
    input.addEventListener("change", () => {
      if (summary) summary.textContent = input.dataset.label;
      if (details) details.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });
})();
