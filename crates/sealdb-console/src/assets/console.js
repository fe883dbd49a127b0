// sealdb console: progressive enhancement only; every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Sections shown only for one value of a radio group: data-show-when="name=value".
  var dependents = document.querySelectorAll("[data-show-when]");
  function refresh() {
    dependents.forEach(function (el) {
      var parts = el.getAttribute("data-show-when").split("=");
      var chosen = document.querySelector("input[name='" + parts[0] + "']:checked");
      el.hidden = !chosen || chosen.value !== parts[1];
    });
  }
  document.querySelectorAll("input[type=radio]").forEach(function (r) {
    r.addEventListener("change", refresh);
  });
  refresh();
  // The key-condition builder follows the chosen table or index: its key names, and the
  // sort-key fields only where it has a sort key.
  var source = document.getElementById("index");
  if (source) {
    source.addEventListener("change", function () {
      var chosen = source.options[source.selectedIndex];
      var pk = document.getElementById("pk-name");
      if (pk) { pk.textContent = chosen.getAttribute("data-pk"); }
      var group = document.getElementById("sk-group");
      var sk = chosen.getAttribute("data-sk");
      if (group) { group.hidden = !sk; }
      var skName = document.getElementById("sk-name");
      if (skName) { skName.textContent = sk; }
    });
  }
  // Typed confirmation: the button stays disabled until the word is typed.
  document.querySelectorAll("[data-confirm-word]").forEach(function (input) {
    var button = document.getElementById(input.getAttribute("data-confirm-button"));
    var word = input.getAttribute("data-confirm-word");
    function check() { if (button) { button.disabled = input.value !== word; } }
    input.addEventListener("input", check);
    check();
  });
});
