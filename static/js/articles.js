// Articles: the editor's live preview and the click-to-play video card (no inline scripts: CSP).
(function () {
  "use strict";

  // Live preview: the server renders and sanitises the Markdown exactly as the page will.
  const form = document.getElementById("article-form");
  const pane = document.getElementById("preview");
  if (form && pane) {
    const body = form.querySelector("[data-preview-source]");
    const csrf = form.querySelector("input[name=csrf_token]");
    let timer = null;
    let latest = 0;
    const refresh = () => {
      const ticket = ++latest;
      const data = new FormData();
      data.append("body", body.value);
      data.append("title", (form.querySelector("[name=title]") || {}).value || "");
      data.append("slug", (form.querySelector("[name=slug]") || {}).value || "");
      fetch(form.dataset.previewUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: csrf ? { "X-CSRFToken": csrf.value } : {},
      })
        .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
        .then((json) => {
          if (ticket === latest) pane.innerHTML = json.html; // sanitised by the server (nh3)
        })
        .catch(() => {
          if (ticket === latest) pane.textContent = "The preview is unavailable right now; your text is safe, keep writing.";
        });
    };
    body.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
    refresh();
  }

  // Video: nothing loads from YouTube/Vimeo until the reader asks for it.
  document.querySelectorAll(".video-card[data-embed]").forEach((card) => {
    const link = card.querySelector("a");
    if (!link) return;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      const frame = document.createElement("iframe");
      frame.src = card.dataset.embed + (card.dataset.embed.includes("?") ? "&" : "?") + "autoplay=1";
      frame.title = card.dataset.title || "Video";
      frame.allow = "autoplay; encrypted-media; picture-in-picture; fullscreen";
      frame.referrerPolicy = "strict-origin-when-cross-origin";
      card.replaceChildren(frame);
    });
  });
})();
