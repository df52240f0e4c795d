// Amtsform progressive enhancement. Everything works without it.
(function () {
  "use strict";
  // Move focus to the error summary so that screen readers announce it.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
  // Error summary links focus the input (or first radio) they name, and
  // scroll its label or legend into view.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest(".error-summary a[href^='#']");
    if (!a) return;
    var el = document.getElementById(a.getAttribute("href").slice(1));
    if (!el) return;
    e.preventDefault();
    var fs = el.closest("fieldset");
    var anchor = (fs && fs.querySelector("legend")) || document.querySelector("label[for='" + el.id + "']") || el;
    anchor.scrollIntoView();
    el.focus({ preventScroll: true });
  });
  // Same-page conditions: on a change, ask the server which of the
  // page's conditional fields to show for the current answers (the
  // service's own rules, evaluated by the server; nothing is stored), show
  // or hide them and announce it. Hidden fields are disabled, so that
  // nothing of them is sent. Without this script the server shows
  // revealed fields when the page is sent.
  var form = document.querySelector("form[data-visibility]");
  if (form && window.fetch && window.URLSearchParams) {
    var live = form.querySelector("[data-live]");
    var shownInput = form.querySelector("input[name='_shown']");
    var seq = 0, timer = 0;
    var ask = function () {
      var body = new URLSearchParams();
      var els = form.elements;
      for (var i = 0; i < els.length; i++) {
        var el = els[i];
        if (!el.name || el.disabled || el.type === "file" || el.type === "submit" || el.type === "button") continue;
        if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
        body.append(el.name, el.value);
      }
      var mine = ++seq;
      fetch(form.getAttribute("data-visibility"), {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "Accept": "application/json" }
      }).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (v) {
        if (!v || mine !== seq) return;
        apply(v);
      }).catch(function () { /* the page still works without */ });
    };
    var apply = function (v) {
      var shown = 0, hidden = 0;
      var want = {};
      (v.hidden || []).forEach(function (p) { want[p] = true; });
      (v.shown || []).forEach(function (p) { want[p] = false; });
      var boxes = form.querySelectorAll("fieldset.conditional[data-path]");
      for (var i = 0; i < boxes.length; i++) {
        var el = boxes[i], hide = want[el.getAttribute("data-path")];
        if (typeof hide !== "boolean" || el.hidden === hide) continue;
        el.hidden = hide;
        el.disabled = hide;
        if (hide) hidden++; else shown++;
      }
      if (shownInput && typeof v.fields === "string") shownInput.value = v.fields;
      var comp = v.computed || {};
      for (var id in comp) {
        var box = document.getElementById(id);
        var out = box && box.querySelector(".computed-value");
        if (out && out.textContent !== comp[id]) out.textContent = comp[id];
      }
      if (live && (shown || hidden)) {
        live.textContent = "";
        var msg = shown ? live.getAttribute("data-shown") : live.getAttribute("data-hidden");
        setTimeout(function () { live.textContent = msg; }, 50);
      }
    };
    form.addEventListener("change", function (e) {
      if (e.target && e.target.type === "file") return;
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
  }
  // Prevent double submission of a form by a double click.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset.submitted) {
      e.preventDefault();
      return;
    }
    f.dataset.submitted = "1";
    setTimeout(function () { delete f.dataset.submitted; }, 3000);
  });
})();
