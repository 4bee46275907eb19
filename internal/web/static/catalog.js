// modferry catalog: progressive enhancement only. Every page works
// without this file; it updates the search results as you type and adds
// a copy button to the "go get" line.
"use strict";
(function () {
  var q = document.getElementById("q");
  var results = document.getElementById("results");
  if (q && results) {
    var timer = 0, seq = 0;
    var update = function () {
      var mine = ++seq;
      var value = q.value;
      fetch(q.getAttribute("data-live") + encodeURIComponent(value), { credentials: "same-origin" })
        .then(function (r) {
          if (r.redirected) { // the session ended: go where the server sends us (the login form)
            location.href = r.url;
            return Promise.reject(r.status);
          }
          return r.ok ? r.text() : Promise.reject(r.status);
        })
        .then(function (html) {
          if (mine !== seq) { return; } // a later keystroke won
          // The fragment is server-rendered by html/template: every value
          // in it is escaped already.
          results.innerHTML = html;
          var url = value ? "/?q=" + encodeURIComponent(value) : "/";
          history.replaceState(null, "", url);
        })
        .catch(function () { /* the form still works: submit reloads */ });
    };
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(update, 120);
    });
  }
  var copy = document.querySelector("input.copy");
  if (copy && navigator.clipboard) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = "Copy";
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(copy.value).then(function () {
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = "Copy"; }, 1500);
      });
    });
    copy.insertAdjacentElement("afterend", b);
  }
  if (copy) {
    copy.addEventListener("focus", function () { copy.select(); });
  }
})();
