// herald web UI: the only script, loaded from /static (the CSP allows no inline script).
// Disables a form's buttons once it is submitted, so a double click does not post twice.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    });
  });
});
