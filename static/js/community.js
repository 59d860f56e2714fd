// Community: say at once when a photo is too big or not a picture, before it is uploaded.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach((input) => {
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      const limit = Number(input.dataset.maxBytes);
      let message = "";
      if (file && file.size > limit) message = "Pictures must be under 5 MB.";
      else if (file && !/^image\//.test(file.type)) message = "Choose a picture (JPEG, PNG, WebP or GIF).";
      input.setCustomValidity(message);
      if (message) {
        input.reportValidity();
        input.value = "";
        input.setCustomValidity("");
      }
    });
  });
})();
