// Tidepool Help Center - small progressive enhancements (no tracking).
document.addEventListener("DOMContentLoaded", function () {
  var banner = document.getElementById("cookie-consent");
  if (banner) {
    if (window.localStorage && localStorage.getItem("tp-cookie-consent")) {
      banner.classList.add("is-hidden");
    }
    banner.querySelectorAll("[data-consent]").forEach(function (button) {
      button.addEventListener("click", function () {
        try { localStorage.setItem("tp-cookie-consent", button.dataset.consent); } catch (e) {}
        banner.classList.add("is-hidden");
      });
    });
  }
  document.querySelectorAll(".feedback-widget").forEach(function (widget) {
    widget.querySelectorAll("[data-feedback]").forEach(function (button) {
      button.addEventListener("click", function () {
        widget.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        var thanks = widget.querySelector(".feedback-thanks");
        if (thanks) { thanks.hidden = false; }
      });
    });
  });
});
