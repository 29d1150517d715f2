// Long multiple choices (the multi_choice macro): a search box that filters the
// checkboxes as one types, and the chosen items as chips that remove them. Without this
// file the page shows the plain checkbox list, which submits the same values.
"use strict";

// Lower case without accents, so "schizo" finds "Schizophrénie" and "f20" finds "F20".
function multiChoiceFold(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLocaleLowerCase();
}

function initMultiChoice(widget) {
  var search = widget.querySelector(".mc-search input");
  var count = widget.querySelector(".mc-count");
  var chips = widget.querySelector(".chips");
  var items = Array.prototype.slice.call(widget.querySelectorAll(".mc-item"));
  var groups = Array.prototype.slice.call(widget.querySelectorAll(".mc-group"));
  var removeLabel = widget.dataset.removeLabel || "Remove";
  var countLabel = widget.dataset.matchesLabel || "{count}";
  items.forEach(function (item) { item.dataset.words = multiChoiceFold(item.textContent); });

  function filter() {
    var words = multiChoiceFold(search.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item) {
      var match = words.every(function (w) { return item.dataset.words.indexOf(w) >= 0; });
      item.hidden = !match;
      if (match) shown += 1;
    });
    groups.forEach(function (group) {
      group.hidden = !group.querySelector(".mc-item:not([hidden])");
    });
    count.textContent = words.length ? countLabel.replace("{count}", shown) : "";
  }

  function renderChips() {
    chips.textContent = "";
    items.forEach(function (item) {
      var box = item.querySelector("input");
      if (!box.checked) return;
      var text = item.textContent.trim();
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.setAttribute("aria-label", removeLabel + ": " + text);
      var words = document.createElement("bdi");
      words.textContent = text;
      var cross = document.createElement("span");
      cross.setAttribute("aria-hidden", "true");
      cross.textContent = "×";
      chip.append(words, " ", cross);
      chip.addEventListener("click", function () {
        // focus moves to the neighbouring chip, or to the search box after the last
        var next = chip.parentNode.nextElementSibling || chip.parentNode.previousElementSibling;
        var nextValue = next ? next.dataset.value : null;
        box.checked = false;
        box.dispatchEvent(new Event("change", { bubbles: true }));
        var focus = nextValue && chipButton(nextValue);
        (focus || search).focus();
      });
      var li = document.createElement("li");
      li.dataset.value = box.value;
      li.append(chip);
      chips.append(li);
    });
    chips.hidden = !chips.children.length;
  }

  function chipButton(value) {
    return chips.querySelector("li[data-value='" + CSS.escape(value) + "'] button");
  }

  widget.addEventListener("change", function (event) {
    if (event.target.type === "checkbox") renderChips();
  });
  search.addEventListener("input", filter);
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      // Enter ticks the only match instead of sending the form half-filled
      event.preventDefault();
      var visible = items.filter(function (item) { return !item.hidden; });
      if (visible.length === 1) visible[0].querySelector("input").click();
    } else if (event.key === "Escape" && search.value) {
      event.preventDefault();
      search.value = "";
      filter();
    } else if (event.key === "ArrowDown") {
      var first = items.find(function (item) { return !item.hidden; });
      if (first) { event.preventDefault(); first.querySelector("input").focus(); }
    }
  });
  widget.querySelector(".mc-search").hidden = false;
  widget.classList.add("mc-enhanced");
  renderChips();
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-multi-choice]").forEach(initMultiChoice);
});
