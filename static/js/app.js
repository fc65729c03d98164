// Site-wide behaviour: the navigation toggle on small screens, the filter box of clause pickers
// (question form, audit scope), and the offline service worker for signed-in pages. Our own code,
// no CDN; without JS every clause shows.
(function () {
  "use strict";
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("primary-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  var filter = document.querySelector(".clause-filter");
  if (filter) {
    filter.hidden = false;
    filter.addEventListener("input", function () {
      var term = filter.value.trim().toLowerCase();
      var groups = document.querySelectorAll(".clause-picker details");
      for (var g = 0; g < groups.length; g++) {
        var items = groups[g].querySelectorAll("li");
        var shown = 0;
        for (var i = 0; i < items.length; i++) {
          var text = items[i].textContent.trim().toLowerCase();
          var match = !term || text.indexOf(term) === 0 || text.indexOf(" " + term) !== -1;
          items[i].hidden = !match;
          if (match) { shown++; }
        }
        if (term) { groups[g].open = shown > 0; }
      }
    });
  }

  // Offline from launch: a signed-in page registers the worker (it keeps the start page, audit
  // pages, checklists and raise-finding forms it sees). A page whose request did not pass through
  // the worker (loaded before it was active) asks the worker to keep a copy: a page that names
  // its user (data-user, e.g. the checklist) hands over its own HTML, taken now — this script
  // runs before the page's modules touch the DOM — so the page is not downloaded a second time;
  // any other page is fetched again by the worker.
  if (nav && "serviceWorker" in navigator) {
    var entry = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    var first = !entry || !entry.workerStart;
    var owner = document.querySelector("main [data-user]");
    var snapshot = first && owner && !location.search
      ? { type: "keep", path: location.pathname, user: owner.getAttribute("data-user"),
          html: "<!doctype html>\n" + document.documentElement.outerHTML }
      : null;
    navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (reg) {
        if (first && reg.active) {
          reg.active.postMessage(snapshot || { type: "warm", paths: [location.pathname], onlyMissing: false });
        }
      })
      .catch(function () { /* no offline support in this browser: pages still work online */ });
  }
})();
