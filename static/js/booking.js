// The booking and manage pages (no inline scripts: strict CSP).
// - Without a ?tz= in the URL, reload once with the browser's own time zone, so slots show in it.
// - The time-zone select applies itself on change.
// - Picking a slot names it beside the form and scrolls to the details.
(() => {
  const root = document.getElementById("booking");
  if (!root) return;

  const params = new URLSearchParams(window.location.search);
  if (root.dataset.detectTz === "1" && !params.has("tz")) {
    let detected = "";
    try {
      detected = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (_error) {
      detected = "";
    }
    if (detected && detected !== root.dataset.tz) {
      params.set("tz", detected);
      window.location.replace(`${window.location.pathname}?${params.toString()}`);
      return;
    }
  }

  const select = document.getElementById("tz-select");
  if (select) {
    select.addEventListener("change", () => select.form.submit());
    document.querySelectorAll("[data-js-hide]").forEach((el) => {
      el.hidden = true;
    });
  }

  const summary = document.getElementById("slot-summary");
  const details = document.getElementById("details");
  document.querySelectorAll('input[name="slot"]').forEach((input) => {
    if (input.checked && summary) summary.textContent = input.dataset.label;
    input.addEventListener("change", () => {
      if (summary) summary.textContent = input.dataset.label;
      if (details) details.scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });
})();
