// Keeps the details the reader opened or closed across the minute's reload, fills the silence
// form from an alert's button, and does not reload while the form is being filled in.
(function () {
  var KEY = "otklik-details";
  var form = document.getElementById("silence-form");
  var remembered = {};
  try { remembered = JSON.parse(sessionStorage.getItem(KEY) || "{}"); } catch (e) { remembered = {}; }
  document.querySelectorAll("details[id]").forEach(function (d) {
    if (Object.prototype.hasOwnProperty.call(remembered, d.id)) { d.open = remembered[d.id]; }
    d.addEventListener("toggle", function () {
      remembered[d.id] = d.open;
      try { sessionStorage.setItem(KEY, JSON.stringify(remembered)); } catch (e) { /* private mode */ }
    });
  });
  document.querySelectorAll("button[data-series]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (!form) { return; }
      form.elements.series.value = button.getAttribute("data-series");
      form.scrollIntoView({ behavior: "smooth" });
      form.elements.reason.focus();
    });
  });
  function busy() {
    if (!form) { return false; }
    return Array.prototype.some.call(form.elements, function (e) {
      return e === document.activeElement || ((e.tagName === "INPUT") && e.value !== "");
    });
  }
  setInterval(function () { if (!busy()) { location.reload(); } }, REFRESH_SECONDS * 1000);
})();
