// Copy buttons: <button data-copy-target="input-id" data-copy-status="status-id">.
// Loaded with defer; no inline script, so a strict Content-Security-Policy allows it.
(function () {
  "use strict";

  function announce(button, text) {
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (status) {
      status.textContent = text;
    }
  }

  function fallbackCopy(field) {
    field.focus();
    field.select();
    return document.execCommand && document.execCommand("copy");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) {
      return;
    }
    var copied = function () { announce(button, "Copied to the clipboard."); };
    var failed = function () {
      field.focus();
      field.select();
      announce(button, "Press Ctrl+C (or ⌘C) to copy the selected link.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(copied, failed);
    } else if (fallbackCopy(field)) {
      copied();
    } else {
      failed();
    }
  });
})();
