// Small progressive enhancements; every page works without them.
// Loaded as a file (the CSP allows no inline script). Each enhancer is idempotent:
// it runs on the page at load and again on every fragment htmx swaps in.
(function () {
  "use strict";

  function once(el, key) {
    var flag = "cairn" + key;
    if (el.dataset[flag]) { return false; }
    el.dataset[flag] = "1";
    return true;
  }

  function all(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) { found.unshift(root); }
    return found;
  }

  // Forms that submit themselves when a select changes (workspace switcher).
  function autosubmit(root) {
    all(root, "form[data-autosubmit]").forEach(function (form) {
      if (!once(form, "Autosubmit")) { return; }
      form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", function () { form.requestSubmit(); });
      });
      form.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
    });
  }

  function selectOnFocus(root) {
    all(root, "[data-select-on-focus]").forEach(function (el) {
      if (once(el, "Select")) { el.addEventListener("focus", function () { el.select(); }); }
    });
  }

  // Phones: the stacked table layout (app.css) shows each cell with its column name.
  function labelTableCells(root) {
    all(root, "table.table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (cell.colSpan === 1 && heads[index] && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", heads[index]);
          }
        });
      });
      table.classList.add("table-labelled");
    });
  }

  // The main nav collapses behind a Menu button on small screens.
  function navToggle() {
    var button = document.querySelector(".nav-toggle");
    var nav = document.getElementById("mainnav");
    if (!button || !nav || !once(button, "Nav")) { return; }
    button.hidden = false;
    document.documentElement.classList.add("js-nav");
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    });
  }

  // The user and admin menus (<details>) close on Escape and on a click elsewhere.
  function userMenu() {
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.usermenu[open], details.navmenu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) { menu.open = false; }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      document.querySelectorAll("details.usermenu[open], details.navmenu[open]").forEach(function (menu) {
        menu.open = false;
        menu.querySelector("summary").focus();
      });
    });
  }

  // Sign-up: the browser's time zone (Intl API) goes in a hidden field; the server checks it.
  function browserTimezone(root) {
    all(root, "input[data-browser-timezone]").forEach(function (input) {
      if (input.value) { return; }
      try {
        input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
      } catch (e) { /* an old browser: the organization's default applies */ }
    });
  }

  function enhance(root) {
    browserTimezone(root);
    autosubmit(root);
    selectOnFocus(root);
    labelTableCells(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    navToggle();
    userMenu();
    enhance(document);
  });
  // Content htmx swaps in gets the same enhancements.
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });

  // htmx renders 4xx bodies we return on purpose (422 form errors, 404 pages).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 404 || status === 403 || status === 410) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
