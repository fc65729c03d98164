// Calendar page: copy buttons for the subscription links, confirmations. Our own code, no CDN.
(function () {
  "use strict";
  var status = document.querySelector(".copy-status");

  function say(text) {
    if (status) { status.textContent = text; }
  }

  function fallbackCopy(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) { return; }
      var done = function () { say("Copied to the clipboard."); button.textContent = "Copied"; };
      var failed = function () {
        if (fallbackCopy(input)) { done(); } else { say("Select the link and copy it by hand."); }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, failed);
      } else {
        failed();
      }
    });
  });

  // Revoke and rotate cannot be undone: ask first (no inline handlers under our CSP).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
