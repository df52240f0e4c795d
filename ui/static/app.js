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
