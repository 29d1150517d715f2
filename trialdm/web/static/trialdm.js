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

// Show-if conditions: an element with data-show-logic='{"op": "=", "args": [...]}' is shown
// only while its condition holds. The JSON is the server's expression tree
// (trialdm/instruments/logic); logicValue evaluates it with the same rules as
// trialdm/instruments/logic/evaluate.py: blank is null, numbers compare as numbers, text as
// text, yes/no is 1/0, a checkbox option [f(code)] is 1 when ticked, arithmetic with a blank is
// blank, sum/mean/min/max skip blanks, < <= > >= with a blank are false. Hidden fields are
// disabled, so they are not sent and count as blank. The server checks the same tree again.
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

var NUMERIC = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

function logicNumber(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "number") return isFinite(v) ? v : null;
  return NUMERIC.test(v) ? parseFloat(v) : null;
}

function logicText(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "1" : "0";
  return String(v);
}

function logicTruthy(v) {
  if (typeof v === "boolean") return v;
  var n = logicNumber(v);
  return n !== null && n !== 0;
}

function logicBlank(v) { return v === null || v === undefined || v === ""; }

function logicRef(form, node) {
  var values = fieldValues(form, node.input);
  if (node.code !== undefined) return values.indexOf(node.code) >= 0 ? 1 : 0;
  if (!values.length) return null;
  var v = values[0];
  if (node.kind === "yes_no") return v === "true" ? 1 : v === "false" ? 0 : v;
  if (node.kind === "decimal") v = v.replace(",", ".");
  var n = logicNumber(v);
  return n !== null && node.kind !== "text" && node.kind !== "single_choice" ? n : v;
}

function logicRound(x, places, how) {
  var n = logicNumber(x), d = places === undefined ? 0 : logicNumber(places);
  if (n === null || d === null || d !== Math.floor(d)) return null;
  var f = Math.pow(10, d), scaled = Number((n * f).toPrecision(15));
  var r = how === "up" ? Math.ceil(scaled) : how === "down" ? Math.floor(scaled)
    : Math.sign(scaled) * Math.round(Math.abs(scaled));
  return r / f;
}

var DATE_ORDERS = {
  ymd: /^(\d{4})-(\d{1,2})-(\d{1,2})/,
  mdy: /^(\d{1,2})-(\d{1,2})-(\d{4})/,
  dmy: /^(\d{1,2})-(\d{1,2})-(\d{4})/
};

function logicDate(v, order) {
  if (logicBlank(v) || typeof v !== "string") return null;
  var text = v.trim();
  if (text.toLowerCase() === "today") { var d = new Date(); return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()); }
  if (text.toLowerCase() === "now") { var n = new Date(); return n.getTime() - n.getTimezoneOffset() * 60000; }
  // dates stored by trialdm are ISO whatever the format argument says
  var tries = ["ymd", order];
  for (var i = 0; i < tries.length; i++) {
    var m = DATE_ORDERS[tries[i]].exec(text);
    if (!m) continue;
    var y = tries[i] === "ymd" ? m[1] : m[3];
    var mo = tries[i] === "dmy" ? m[2] : tries[i] === "ymd" ? m[2] : m[1];
    var day = tries[i] === "dmy" ? m[1] : tries[i] === "ymd" ? m[3] : m[2];
    var rest = text.slice(m[0].length);
    var clock = /^\s*[T ]?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/.exec(rest);
    if (rest.trim() && !clock) return null;
    var when = Date.UTC(+y, +mo - 1, +day, clock ? +clock[1] : 0, clock ? +clock[2] : 0, clock ? +(clock[3] || 0) : 0);
    var check = new Date(when);
    if (check.getUTCFullYear() !== +y || check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +day) return null;
    return when;
  }
  return null;
}

var UNIT_SECONDS = { y: 365.2425 * 86400, M: 30.44 * 86400, d: 86400, h: 3600, m: 60, s: 1 };

function logicCall(name, args) {
  var nums = args.map(logicNumber).filter(function (n) { return n !== null; });
  switch (name) {
    case "sum": return nums.length ? nums.reduce(function (a, b) { return a + b; }, 0) : null;
    case "mean": return nums.length ? nums.reduce(function (a, b) { return a + b; }, 0) / nums.length : null;
    case "min": return nums.length ? Math.min.apply(null, nums) : null;
    case "max": return nums.length ? Math.max.apply(null, nums) : null;
    case "round": return logicRound(args[0], args[1], "half");
    case "roundup": return logicRound(args[0], args[1], "up");
    case "rounddown": return logicRound(args[0], args[1], "down");
    case "abs": var a = logicNumber(args[0]); return a === null ? null : Math.abs(a);
    case "sqrt": var s = logicNumber(args[0]); return s === null || s < 0 ? null : Math.sqrt(s);
    case "datediff":
      var order = typeof args[3] === "string" ? args[3] : "ymd";
      var first = logicDate(args[0], order), second = logicDate(args[1], order);
      if (first === null || second === null) return null;
      var diff = (second - first) / 1000 / UNIT_SECONDS[args[2]];
      return args[args.length - 1] === true ? diff : Math.abs(diff);
  }
  return null;
}

function logicValue(form, node) {
  if ("num" in node) return node.num;
  if ("str" in node) return node.str;
  if ("bool" in node) return node.bool;
  if ("ref" in node) return logicRef(form, node);
  var args = node.args;
  if ("call" in node) {
    if (node.call === "if") return logicTruthy(logicValue(form, args[0])) ? logicValue(form, args[1]) : logicValue(form, args[2]);
    if (node.call === "isblankormissingcode") return logicBlank(logicValue(form, args[0]));
    return logicCall(node.call, args.map(function (a) { return logicValue(form, a); }));
  }
  var op = node.op;
  if (op === "and") return logicTruthy(logicValue(form, args[0])) && logicTruthy(logicValue(form, args[1]));
  if (op === "or") return logicTruthy(logicValue(form, args[0])) || logicTruthy(logicValue(form, args[1]));
  if (op === "not") return !logicTruthy(logicValue(form, args[0]));
  if (op === "neg") { var o = logicNumber(logicValue(form, args[0])); return o === null ? null : -o; }
  var left = logicValue(form, args[0]), right = logicValue(form, args[1]);
  var x = logicNumber(left), y = logicNumber(right);
  if (op === "=" || op === "<>") {
    var same = x !== null && y !== null ? x === y : logicText(left) === logicText(right);
    return op === "=" ? same : !same;
  }
  if (op === "<" || op === "<=" || op === ">" || op === ">=") {
    if (logicBlank(left) || logicBlank(right)) return false;
    if (x === null || y === null) { x = logicText(left); y = logicText(right); }
    return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
  }
  if (x === null || y === null) return null;
  var r = op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : op === "/" ? (y === 0 ? null : x / y) : Math.pow(x, y);
  return r === null || !isFinite(r) ? null : r;
}

function conditionHolds(form, el) {
  return logicTruthy(logicValue(form, JSON.parse(el.dataset.showLogic)));
}

// @READONLY (an action tag): text inputs are readonly in the markup; choices keep what
// is chosen (a click changes nothing) but are still sent.
function initReadonly(root) {
  root.querySelectorAll("[data-readonly] input[type=radio], [data-readonly] input[type=checkbox]").forEach(function (input) {
    input.addEventListener("click", function (event) { event.preventDefault(); });
  });
  root.querySelectorAll("[data-readonly] select").forEach(function (select) {
    var kept = select.value;
    select.addEventListener("change", function () { select.value = kept; });
  });
}

function initShowIf(root) {
  root.querySelectorAll("form").forEach(function (form) {
    var dependents = form.querySelectorAll("[data-show-logic]");
    if (!dependents.length) return;
    function apply() {
      // in document order: a controlling field is settled before the fields it controls
      dependents.forEach(function (el) {
        var show = conditionHolds(form, el);
        // @HIDDEN (an action tag) keeps a shown field out of sight; its value is still sent
        el.hidden = !show || el.hasAttribute("data-action-hidden");
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
// and one under way is awaited, so the two never write at the same time. A button of
// another form of the page (a comment, the log-out) first saves the boxes not saved
// yet, then goes on; when a save fails it stops there, and the page says so.
function initAutosave(root) {
  root.querySelectorAll("form[data-autosave]").forEach(function (form) {
    var status = form.querySelector(".autosave-status");
    var dirty = new Set();
    var queued = new Map();
    var inFlight = 0;
    var waitingSubmitter = null;
    var submitting = false;
    function say(key) { if (status) status.textContent = status.dataset[key] || ""; }
    var waitingOther = null;
    var saving = new Set();
    var failed = false;
    function settled() {
      inFlight -= 1;
      if (inFlight === 0 && waitingSubmitter) {
        var submitter = waitingSubmitter;
        waitingSubmitter = null;
        form.requestSubmit(submitter);
      } else if (inFlight === 0 && waitingOther) {
        if (!dirty.size) {
          var other = waitingOther;
          waitingOther = null;
          other.form.requestSubmit(other.submitter);
        } else if (failed) {
          waitingOther = null;  // the page shows which box was refused
        } else {
          saveDirty();  // typed into while its save was under way
        }
      }
    }
    function saveDirty() {
      queued.forEach(function (timer) { clearTimeout(timer); });
      queued.clear();
      dirty.forEach(function (box) { if (!saving.has(box)) save(box); });
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
      // the segment's version: a save by someone else since is refused, not overwritten
      var key = box.name.slice(4);
      var version = form.querySelector("[name='ver." + CSS.escape(key) + "']");
      if (version) body.append(version.name, version.value);
      var sent = box.value;
      inFlight += 1;
      saving.add(box);
      say("saving");
      // getAttribute: the step buttons are named "action", which shadows form.action
      fetch(form.getAttribute("action"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (r) {
        return r.json().then(function (answer) {
          show(box, r.ok, (answer.errors || {})[key]);
          if (r.ok && version && answer.versions && answer.versions[key] !== undefined) {
            version.value = answer.versions[key];
          }
          if (r.ok && box.value === sent) dirty.delete(box);
          if (!r.ok) failed = true;
          say(r.ok ? (dirty.size ? "saving" : "saved") : "failed");
        });
      }).catch(function () { failed = true; say("failed"); }).then(function () {
        saving.delete(box);
        settled();
      });
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
    document.querySelectorAll("form").forEach(function (other) {
      if (other === form) return;
      other.addEventListener("submit", function (event) {
        if (!dirty.size) return;
        event.preventDefault();
        waitingOther = { form: other, submitter: event.submitter || null };
        if (inFlight === 0) failed = false;
        saveDirty();
      });
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
  initReadonly(document);
  initPoll(document);
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
});
