// "Copy" buttons: <button data-copy="#id"> copies that element's text (the rules page's "one name now").
// Delegated from the document, so buttons that htmx swaps in work too. Loaded as a file (the CSP allows no
// inline script); without it, the name is still shown to select by hand.
(function () {
  "use strict";
  if (window.cairnCopy) { return; }
  window.cairnCopy = true;
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = (source.value !== undefined ? source.value : source.textContent).trim();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
    } else {
      selectText(source);
    }
  });
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
}());
