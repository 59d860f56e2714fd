// Which articles a visitor read before booking, kept by her browser: the article pages are
// served from a shared cache and set no cookie. An article page names itself on this script's
// tag (data-article-touch); a form with hidden inputs data-touch="first_touch"/"last_touch"
// (the booking form) posts them, so the booking records its first and last article touches.
(() => {
  const KEY = "hero.touches";
  let touches = {};
  try {
    touches = JSON.parse(window.localStorage.getItem(KEY) || "{}") || {};
  } catch (_error) {
    touches = {};
  }
  const me = document.currentScript;
  const read = me && me.dataset.articleTouch;
  if (read) {
    touches.first_touch = touches.first_touch || read;
    touches.last_touch = read;
    try {
      window.localStorage.setItem(KEY, JSON.stringify(touches));
    } catch (_error) {
      // Private browsing without storage: the booking is simply not attributed.
    }
  }
  document.querySelectorAll("input[data-touch]").forEach((input) => {
    const value = touches[input.dataset.touch];
    if (value) input.value = value;
  });
})();
