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

// Show-if conditions: an element with data-show-if="field" data-show-op="equals|not_equals|
// any_of|contains" data-show-values='["a","b"]' is shown only while the answer to the named
// field matches (values compared as the form posts them: "true", "3", "code"). Hidden fields
// are disabled so they are not sent; a field whose controlling field is hidden is hidden too.
// The server checks the same conditions again when saving.
function fieldValues(form, name) {
  var values = [];
  form.querySelectorAll("[name='" + CSS.escape(name) + "']").forEach(function (input) {
    if (input.disabled) return;
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
  if (!values.length) return false;
  var wanted = JSON.parse(el.dataset.showValues || "[]");
  var op = el.dataset.showOp || "equals";
  var hit = values.some(function (v) { return wanted.indexOf(v) >= 0; });
  return op === "not_equals" ? !hit : hit;
}

function initShowIf(root) {
  root.querySelectorAll("form").forEach(function (form) {
    var dependents = form.querySelectorAll("[data-show-if]");
    if (!dependents.length) return;
    function apply() {
      // in document order: a controlling field is settled before the fields it controls
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
          var state = job.state || job.status;
          var progress = job.progress === undefined || job.progress === null ? 0 : job.progress;
          if (bar) bar.value = progress;
          if (label) label.textContent = (job.step || state) + " · " + Math.round(progress) + "%";
          if (state === "done" || state === "failed") {
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

// A form with data-autosave sends each text box to its action shortly after it changes
// (JSON answer), so typed text is kept whatever button is pressed next; while a box
// holds text that is not saved, leaving the page asks first (data-unsaved-warning).
// A button of the form itself sends every box anyway: a save still queued is dropped
// and one under way is awaited, so the two never write at the same time.
function initAutosave(root) {
  root.querySelectorAll("form[data-autosave]").forEach(function (form) {
    var status = form.querySelector(".autosave-status");
    var dirty = new Set();
    var queued = new Map();
    var inFlight = 0;
    var waitingSubmitter = null;
    var submitting = false;
    function say(key) { if (status) status.textContent = status.dataset[key] || ""; }
    function settled() {
      inFlight -= 1;
      if (inFlight === 0 && waitingSubmitter) {
        var submitter = waitingSubmitter;
        waitingSubmitter = null;
        form.requestSubmit(submitter);
      }
    }
    function show(box, ok, messages) {
      var holder = box.closest(".segment");
      var shown = holder && holder.querySelector(".field-error");
      if (ok) {
        if (shown) shown.remove();
        if (holder) holder.classList.remove("has-error");
        return;
      }
      if (!shown && holder) {
        shown = document.createElement("p");
        shown.className = "field-error";
        box.parentNode.insertBefore(shown, box);
      }
      if (shown) shown.textContent = (messages || []).join(" ");
      if (holder) holder.classList.add("has-error");
    }
    function save(box) {
      var body = new FormData();
      body.append("csrf_token", form.querySelector("[name=csrf_token]").value);
      body.append("writes", form.querySelector("[name=writes]").value);
      body.append(box.name, box.value);
      var sent = box.value;
      inFlight += 1;
      say("saving");
      // getAttribute: the step buttons are named "action", which shadows form.action
      fetch(form.getAttribute("action"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (answer) {
          show(box, r.ok, (answer.errors || {})[box.name.slice(4)]);
          if (r.ok && box.value === sent) dirty.delete(box);
          say(r.ok ? (dirty.size ? "saving" : "saved") : "failed");
        });
      }).catch(function () { say("failed"); }).then(settled);
    }
    form.querySelectorAll("textarea[name^='seg.']").forEach(function (box) {
      box.addEventListener("input", function () { dirty.add(box); });
      box.addEventListener("change", function () {
        clearTimeout(queued.get(box));
        queued.set(box, setTimeout(function () { queued.delete(box); save(box); }, 400));
      });
    });
    form.addEventListener("submit", function (event) {
      queued.forEach(function (timer) { clearTimeout(timer); });
      queued.clear();
      if (inFlight > 0) {
        event.preventDefault();
        waitingSubmitter = event.submitter || null;
        return;
      }
      submitting = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (submitting || !dirty.size) return;
      event.preventDefault();
      event.returnValue = form.dataset.unsavedWarning || "";
      return event.returnValue;
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  initAutosave(document);
  initAutosubmit(document);
  initShowIf(document);
  initPoll(document);
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
