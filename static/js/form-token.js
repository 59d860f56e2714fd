// Forms on public pages: the page is served from a shared cache, so it carries no CSRF token
// (one token would be every reader's). When the visitor starts the form, fetch her own token
// (this sets her session cookie) and put it in the form; a submit waits for it.
(() => {
  document.querySelectorAll("input[name=csrf_token][data-token-url]").forEach((input) => {
    const form = input.form;
    if (!form || input.value) return;
    let pending = null;
    const fetchToken = () => {
      pending =
        pending ||
        fetch(input.dataset.tokenUrl, {
          credentials: "same-origin",
          cache: "no-store",
          headers: { Accept: "application/json" },
        })
          .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
          .then((json) => {
            input.value = json.csrf_token;
            return true;
          })
          .catch(() => {
            pending = null;
            return false;
          });
      return pending;
    };
    form.addEventListener("focusin", fetchToken, { once: true });
    form.addEventListener("submit", (event) => {
      if (input.value) return;
      event.preventDefault();
      const submitter = event.submitter;
      fetchToken().then((ok) => {
        // Without a token the server refuses the post and shows the form again with one.
        if (ok && form.requestSubmit) form.requestSubmit(submitter || undefined);
        else form.submit();
      });
    });
  });
})();
