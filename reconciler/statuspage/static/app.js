// nomad-reconciler status page: live updates (Server-Sent Events) and search as you type.
// The page works without this file: filters are a plain GET form, reload shows news.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var refreshes = 0;
  var pending = null;
  var busy = false;
  var again = false;

  function setLive(state, text) {
    if (!live) { return; }
    live.setAttribute("data-state", state);
    live.textContent = text;
    live.title = "";
  }

  function searchRows() {
    var form = document.getElementById("filters");
    if (!form) { return; }
    var needle = form.elements.q.value.trim().toLowerCase();
    var rows = document.querySelectorAll("tr.row");
    var shown = 0;
    rows.forEach(function (row) {
      var hit = !needle || row.getAttribute("data-job").toLowerCase().indexOf(needle) >= 0 ||
        row.getAttribute("data-path").toLowerCase().indexOf(needle) >= 0;
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    var counter = document.getElementById("shown");
    if (counter && needle) { counter.textContent = shown + " of " + rows.length + " rows match"; }
  }

  function currentUrl() {
    return window.location.pathname + window.location.search;
  }

  // Re-fetch this page and swap every [data-live] region: the server renders, we only paste.
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(currentUrl(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("[data-live][id]").forEach(function (fresh) {
          var old = document.getElementById(fresh.id);
          if (old) { old.replaceWith(document.importNode(fresh, true)); }
        });
        refreshes += 1;
        document.body.setAttribute("data-refreshes", String(refreshes));
        searchRows();
      })
      .catch(function () { /* the next change or reconnect tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  function scheduleRefresh() {
    if (pending !== null) { return; }
    pending = window.setTimeout(function () { pending = null; refresh(); }, 100);
  }

  var form = document.getElementById("filters");
  if (form) {
    form.elements.q.addEventListener("input", function () {
      searchRows();
      var params = new URLSearchParams(window.location.search);
      if (form.elements.q.value) { params.set("q", form.elements.q.value); } else { params.delete("q"); }
      var query = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    });
    ["ns", "state"].forEach(function (name) {
      form.elements[name].addEventListener("change", function () { form.submit(); });
    });
  }

  if (window.EventSource) {
    var source = new EventSource("/events");
    source.addEventListener("hello", function () {
      setLive("live", "live");
      scheduleRefresh(); // anything missed while disconnected
    });
    source.addEventListener("change", scheduleRefresh);
    source.onerror = function () { setLive("reconnecting", "reconnecting…"); };
  }
})();
