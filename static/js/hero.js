// Site-wide behaviour, no inline scripts (strict CSP): confirm dialogs for destructive actions.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
