/* artreg registry site: search over names and metadata, run in the page.
 *
 * The index page loads assets/search-index.js (a JSON array assigned to a global, so it loads
 * from file:// too, where fetch() of a local file is refused). A query comes from the search
 * box, or from the address: index.html?q=TERMS or index.html#q=TERMS, so every page's search
 * form (which submits to the index) and a bookmarked search both work. Every term must appear.
 */
(function () {
  "use strict";

  var MAX_RESULTS = 50;

  function queryFromAddress() {
    var sources = [window.location.hash, window.location.search];
    for (var i = 0; i < sources.length; i++) {
      var match = /[?#&]q=([^&#]*)/.exec(sources[i]);
      if (match) {
        try {
          return decodeURIComponent(match[1].replace(/\+/g, " "));
        } catch (e) {
          return "";
        }
      }
    }
    return "";
  }

  function terms(query) {
    return query.toLowerCase().split(/\s+/).filter(function (t) { return t.length > 0; });
  }

  function matches(doc, words) {
    for (var i = 0; i < words.length; i++) {
      if (doc.t.indexOf(words[i]) < 0) { return false; }
    }
    return true;
  }

  function show(docs, query) {
    var words = terms(query);
    var section = document.getElementById("search-results");
    var list = document.getElementById("results");
    var count = document.getElementById("result-count");
    var rows = document.querySelectorAll("#models tbody tr[data-name]");
    var names = {};
    var hits = [];
    if (words.length) {
      docs.forEach(function (doc) {
        if (matches(doc, words)) {
          names[doc.n] = true;
          hits.push(doc);
        }
      });
    }
    var shown = 0;
    Array.prototype.forEach.call(rows, function (row) {
      var keep = !words.length || names[row.getAttribute("data-name")] === true;
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    if (!section || !list || !count) { return; }
    section.hidden = !words.length;
    list.textContent = "";
    if (!words.length) { return; }
    hits.slice(0, MAX_RESULTS).forEach(function (doc) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = doc.u;
      link.textContent = doc.l;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = doc.k;
      item.appendChild(link);
      item.appendChild(kind);
      list.appendChild(item);
    });
    count.textContent = hits.length + " page" + (hits.length === 1 ? "" : "s") + " and " +
      shown + " of " + rows.length + " models match \u201c" + query.trim() + "\u201d" +
      (hits.length > MAX_RESULTS ? " (first " + MAX_RESULTS + " pages listed)" : "") + ".";
  }

  function remember(query) {
    // Keep the query in the address so it can be shared; file:// may refuse, which is fine.
    try {
      var target = query ? "#q=" + encodeURIComponent(query) : window.location.pathname;
      window.history.replaceState(null, "", target);
    } catch (e) {
      /* nothing to do */
    }
  }

  function start() {
    var input = document.getElementById("q");
    var query = queryFromAddress();
    if (input) { input.value = query; }
    var docs = window.ARTREG_SEARCH_INDEX;
    if (!docs || !document.getElementById("models")) {
      return; // another page: its form submits to the index page
    }
    show(docs, query);
    if (input) {
      input.addEventListener("input", function () { show(docs, input.value); });
      input.form.addEventListener("submit", function (event) {
        event.preventDefault();
        show(docs, input.value);
        remember(input.value);
      });
    }
    document.documentElement.setAttribute("data-search", "ready");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
