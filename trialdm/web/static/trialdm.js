// trialdm pages: small progressive enhancements. Every page works without this file.
"use strict";

// A select that changes a setting (the language) submits its form on change.
function initAutosubmit(root) {
  root.querySelectorAll("form.js-autosubmit").forEach(function (form) {
    form.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { form.submit(); });
    });
  });
}

// Show-if conditions: an element with data-show-if="item" data-show-values="a|b"
// (or data-show-op="gte" data-show-value="3") is shown only while the condition on the
// named field holds. The server checks the same conditions again when saving.
function fieldValues(form, name) {
  var values = [];
  form.querySelectorAll("[name='" + CSS.escape(name) + "']").forEach(function (input) {
    if ((input.type === "radio" || input.type === "checkbox") && !input.checked) return;
    if (input.tagName === "SELECT" && input.multiple) {
      Array.prototype.forEach.call(input.selectedOptions, function (o) { values.push(o.value); });
    } else if (input.value !== "") {
      values.push(input.value);
    }
  });
  return values;
}

function conditionHolds(form, el) {
  var values = fieldValues(form, el.dataset.showIf);
  var op = el.dataset.showOp || "in";
  if (op === "in") {
    var wanted = (el.dataset.showValues || "").split("|");
    return values.some(function (v) { return wanted.indexOf(v) >= 0; });
  }
  if (op === "answered") return values.length > 0;
  var number = parseFloat(values[0]);
  var limit = parseFloat(el.dataset.showValue);
  if (isNaN(number)) return false;
  if (op === "gte") return number >= limit;
  if (op === "lte") return number <= limit;
  if (op === "gt") return number > limit;
  if (op === "lt") return number < limit;
  return true;
}

function initShowIf(root) {
  root.querySelectorAll("form").forEach(function (form) {
    var dependents = form.querySelectorAll("[data-show-if]");
    if (!dependents.length) return;
    function apply() {
      dependents.forEach(function (el) {
        var show = conditionHolds(form, el);
        el.hidden = !show;
        el.querySelectorAll("input, select, textarea").forEach(function (input) { input.disabled = !show; });
      });
    }
    form.addEventListener("change", apply);
    form.addEventListener("input", apply);
    apply();
  });
}

// Progress of a background job: <div data-poll-url="/api/..." data-done-url="..."> with a
// <progress> inside. Polls the job API until it is done or failed, then reloads.
function initPoll(root) {
  root.querySelectorAll("[data-poll-url]").forEach(function (box) {
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-poll-status]");
    function tick() {
      fetch(box.dataset.pollUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          var progress = job.progress === undefined || job.progress === null ? 0 : job.progress;
          if (progress <= 1) progress = progress * 100;
          if (bar) bar.value = progress;
          if (label) label.textContent = job.status + " " + Math.round(progress) + "%";
          if (job.status === "done" || job.status === "failed") {
            window.location.assign(box.dataset.doneUrl || window.location.href);
          } else {
            window.setTimeout(tick, 1000);
          }
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    tick();
  });
}

document.addEventListener("DOMContentLoaded", function () {
  initAutosubmit(document);
  initShowIf(document);
  initPoll(document);
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
