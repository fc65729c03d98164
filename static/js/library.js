// Library pages: conditional questions in the checklist preview. Progressive enhancement only:
// without JS every question shows.
(function () {
  "use strict";

  function answerOf(form, key) {
    var fields = form.querySelectorAll('[name="q-' + key + '"]');
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "radio" || f.type === "checkbox") {
        if (f.checked) { return f.value; }
      } else if (f.value) {
        return f.value;
      }
    }
    return "";
  }

  function refresh(form) {
    // Conditions may chain (c depends on b depends on a): a hidden question has no answer.
    var dependants = form.querySelectorAll("[data-condition-key]");
    for (var i = 0; i < dependants.length; i++) {
      var q = dependants[i];
      var key = q.getAttribute("data-condition-key");
      var source = form.querySelector('[data-key="' + key + '"]');
      var sourceShown = !source || !source.hidden;
      q.hidden = !(sourceShown && answerOf(form, key) === q.getAttribute("data-condition-value"));
    }
  }

  var preview = document.querySelector("[data-preview]");
  if (preview) {
    preview.addEventListener("change", function () { refresh(preview); });
    preview.addEventListener("input", function () { refresh(preview); });
    preview.addEventListener("submit", function (e) { e.preventDefault(); });
    refresh(preview);
  }
})();
