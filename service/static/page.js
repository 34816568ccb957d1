/* The dispute-guide page: the form the server rendered, the advice from POST /v1/guidance.
 *
 * No framework and no build step. The server renders the page in its language, form
 * included, from the facts it describes (name, type, values, min/max, question, labels),
 * and puts that description and the page's own words in a JSON data block (#page-data).
 * Switching the language fetches the page in the other language and takes its form and
 * words, so the form has one author: the server. An unknown fact is simply left out of
 * the case. All API texts come localized with ?lang=.
 *
 * The case's `context` (names, sums, dates for the ready-to-send messages) has its own
 * fields under "For the messages"; it goes with the case and in the address like the
 * facts. The messages are shown in editable boxes with a "Copy" button. Every value from
 * the person or the service is put in as text (textContent, value), never as HTML.
 *
 * In embed mode (?embed=1, in an iframe), the page tells its parent what happens with
 * postMessage, only when the parent's origin is one the service allows to frame it
 * (DISPUTE_GUIDE_FRAME_ORIGINS), and only to that origin: never to "*".
 */
(function () {
  "use strict";

  var root = document.documentElement;
  var DATA = readData(document);
  var DICT = {};
  DICT[DATA.lang] = DATA.texts || {};
  var EVENT_SOURCE = "dispute-guide";
  var EVENT_VERSION = 1;
  // An enumeration value meaning "I don't know": the control's own "don't know" stands for it.
  var DONT_KNOW_VALUE = "unknown";

  function readData(doc) {
    var node = doc.getElementById("page-data");
    try {
      return JSON.parse(node.textContent);
    } catch (e) {
      return { lang: "en", texts: {}, facts: [], frame_origins: [] };
    }
  }

  var KEY_STORE = "dispute-guide.api-key";

  var state = {
    lang: DATA.lang || root.getAttribute("data-lang") || "en",
    meta: {}, // lang -> {facts: [...], byName: {}, steps: {id: step}, version}
    parentOrigin: null, // in embed mode: the allowed origin of the page that frames this one
    values: {}, // fact name -> a known value; an unknown fact has no entry
    invalid: {}, // fact name -> message, for values the user typed that cannot be sent
    result: null, // the last guidance shown
    evaluated: false, // after the first answer, every change re-evaluates
    seq: 0, // the latest request; older answers are dropped
    revision: 0, // counts the answers shown (tests wait on it)
    apiKey: readKey(), // only when the service asks for one (401)
    booted: false, // the step catalogue has been loaded once
    langSeq: 0, // the latest language switch; older ones are dropped
    fromAddress: false, // the case came in the address (#case=...)
    caseId: null, // the case_id that came in the address, sent with every request
    context: {}, // context field -> a value for the messages; an empty field has no entry
    contextInvalid: {}, // context field -> the i18n key of what is wrong with it
    edits: {}, // message id -> {text, subject: the service's; value, subjectValue: edited}
  };

  function readKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORE) || null;
    } catch (e) {
      return null; // storage can be off (a sandboxed iframe): the key lives in memory then
    }
  }

  // --- small helpers ---------------------------------------------------------

  function $(selector) {
    return document.querySelector(selector);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "text") node.textContent = value;
        else if (key === "className") node.className = value;
        else node.setAttribute(key, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function format(text, params) {
    return String(text).replace(/\{(\w+)\}/g, function (all, name) {
      return params && params[name] !== undefined ? String(params[name]) : all;
    });
  }

  function lookup(key) {
    var own = DICT[state.lang] || {};
    if (Object.prototype.hasOwnProperty.call(own, key)) return own[key];
    return undefined;
  }

  function t(key, params) {
    var text = lookup(key);
    return format(text === undefined ? key : text, params);
  }

  function has(key) {
    return lookup(key) !== undefined;
  }

  function plural(key, n) {
    var forms = lookup(key) || {};
    var category = "other";
    try {
      category = new Intl.PluralRules(state.lang).select(n);
    } catch (e) {
      category = n === 1 ? "one" : "other";
    }
    var text = forms[category] || forms.other || key;
    return format(text, { n: n });
  }

  function meta() {
    return state.meta[state.lang];
  }

  function apiUrl(path) {
    // Relative to the page, so the service also works behind a path prefix.
    return new URL(path, document.baseURI).href;
  }

  // --- loading the description of the facts and the step catalogue ------------

  function headers(extra) {
    var all = { Accept: "application/json" };
    Object.keys(extra || {}).forEach(function (k) { all[k] = extra[k]; });
    if (state.apiKey) all.Authorization = "Bearer " + state.apiKey;
    return all;
  }

  function getJson(path) {
    return fetch(apiUrl(path), { headers: headers() }).then(function (r) {
      if (!r.ok) {
        var error = new Error(path + ": HTTP " + r.status);
        error.status = r.status;
        throw error;
      }
      return r.json();
    });
  }

  function setFacts(lang, data) {
    // The facts' description the server put into the page (the same as GET /v1/rules).
    var byName = {};
    data.facts.forEach(function (fact) {
      byName[fact.name] = fact;
    });
    var old = state.meta[lang] || {};
    state.meta[lang] = { facts: data.facts, byName: byName, steps: old.steps || null,
                         version: data.ruleset_version };
    DICT[lang] = data.texts || {};
  }

  function loadMeta(lang) {
    // The step catalogue (titles for what an answer would change); it needs the API key.
    var m = state.meta[lang];
    if (m && m.steps) return Promise.resolve(m);
    return getJson("v1/steps?lang=" + encodeURIComponent(lang)).then(function (catalogue) {
      var steps = {};
      catalogue.steps.forEach(function (step) {
        steps[step.id] = step;
      });
      state.meta[lang].steps = steps;
      return state.meta[lang];
    });
  }

  function pageUrl(lang) {
    var url = new URL(window.location.href);
    url.hash = "";
    url.searchParams.set("lang", lang);
    return url.href;
  }

  function loadPage(lang) {
    // This page in another language: its data block and its form.
    return fetch(pageUrl(lang), { headers: { Accept: "text/html" } }).then(function (r) {
      if (!r.ok) {
        var error = new Error("page: HTTP " + r.status);
        error.status = r.status;
        throw error;
      }
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var data = readData(doc);
      if (data.lang !== lang) throw new Error("page: asked for " + lang + ", got " + data.lang);
      setFacts(lang, data);
      return doc.getElementById("form-fields");
    });
  }

  // --- the page's own texts --------------------------------------------------

  function applyTexts() {
    root.setAttribute("lang", state.lang);
    root.setAttribute("data-lang", state.lang);
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-content]"), function (node) {
      node.setAttribute("content", t(node.getAttribute("data-i18n-content")));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang-switch]"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang-switch") === state.lang ? "true" : "false");
    });
  }

  // --- the form the server rendered ---------------------------------------------

  function valueLabel(fact, value) {
    if (fact.type === "boolean") {
      var key = value ? "yes" : "no";
      return (fact.labels && fact.labels[key]) || t(key);
    }
    return (fact.labels && fact.labels[value]) || String(value);
  }

  function isDontKnow(fact, value) {
    // An enumeration's own "I don't know" value is the control's "don't know": not sent.
    return fact.type === "enum" && value === DONT_KNOW_VALUE &&
      (fact.values || []).indexOf(DONT_KNOW_VALUE) >= 0;
  }

  function replaceForm(fields) {
    // Another language's form in place of this one, the known answers put back in.
    var container = $("#form-fields");
    var nodes = Array.prototype.map.call(fields.childNodes, function (n) {
      return document.importNode(n, true);
    });
    container.replaceChildren.apply(container, nodes);
    container.setAttribute("data-lang", fields.getAttribute("data-lang") || state.lang);
    writeControls();
  }

  function writeControls() {
    // Known answers into their controls; every other fact shows "don't know".
    var m = meta();
    m.facts.forEach(function (fact) {
      writeControl(fact, state.values[fact.name]);
    });
    Object.keys(state.invalid).forEach(function (name) {
      if (m.byName[name]) {
        var box = controlsOf(name)[0];
        if (box) box.value = state.invalid[name];
        showFieldError(name, invalidMessage(m.byName[name]));
      }
    });
  }

  // --- between the controls and the case ---------------------------------------

  function controlsOf(name) {
    return document.querySelectorAll('[data-fact="' + cssEscape(name) + '"]:is(input, select)');
  }

  function cssEscape(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, "\\$&");
  }

  function writeControl(fact, value) {
    var controls = controlsOf(fact.name);
    Array.prototype.forEach.call(controls, function (c) {
      if (fact.type === "list") c.checked = Array.isArray(value) && value.indexOf(c.value) >= 0;
      else if (fact.type === "boolean") c.checked = c.value === (value === true ? "true" : value === false ? "false" : "");
      else c.value = value === undefined || value === null ? "" : String(value);
    });
  }

  function readControl(fact) {
    // Updates state.values / state.invalid for one fact from its controls.
    var controls = Array.prototype.slice.call(controlsOf(fact.name));
    delete state.invalid[fact.name];
    var value;
    if (fact.type === "list") {
      var picked = controls.filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
      value = picked.length ? picked : undefined;
    } else if (fact.type === "boolean") {
      var on = controls.filter(function (c) { return c.checked; })[0];
      value = on && on.value !== "" ? on.value === "true" : undefined;
    } else if (fact.type === "integer") {
      var raw = controls[0] ? controls[0].value.trim() : "";
      var bad = controls[0] && controls[0].validity && controls[0].validity.badInput;
      if (raw === "" && !bad) value = undefined;
      else {
        var n = Number(raw);
        if (bad || !Number.isInteger(n) || (fact.min !== undefined && fact.min !== null && n < fact.min) ||
            (fact.max !== undefined && fact.max !== null && n > fact.max)) {
          state.invalid[fact.name] = raw;
          value = undefined;
        } else value = n;
      }
    } else {
      var text = controls[0] ? controls[0].value : "";
      value = text === "" ? undefined : text;
    }
    if (value === undefined) delete state.values[fact.name];
    else state.values[fact.name] = value;
  }

  function invalidMessage(fact) {
    return t("error_number", { min: fact.min, max: fact.max });
  }

  // --- the context of the messages (never a fact: it changes no step) ---------------

  var AMOUNT_MAX = 1e12;

  function contextControls() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-context]"));
  }

  function readContext() {
    // state.context / state.contextInvalid from the "For the messages" fields.
    state.context = {};
    state.contextInvalid = {};
    contextControls().forEach(function (c) {
      var name = c.getAttribute("data-context");
      var raw = c.value.trim();
      var bad = c.validity && c.validity.badInput;
      if (raw === "" && !bad) return;
      if (name === "amount") {
        var n = Number(raw);
        if (bad || !isFinite(n) || n < 0 || n > AMOUNT_MAX || Math.round(n * 100) / 100 !== n) {
          state.contextInvalid[name] = "error_amount";
        } else state.context[name] = n;
      } else if (name === "currency") {
        var code = raw.toUpperCase();
        if (/^[A-Z]{3}$/.test(code)) state.context[name] = code;
        else state.contextInvalid[name] = "error_currency";
      } else if (c.type === "date") {
        if (bad || !/^\d{4}-\d{2}-\d{2}$/.test(raw)) state.contextInvalid[name] = "error_date";
        else state.context[name] = raw;
      } else state.context[name] = raw;
    });
    if (state.context.currency !== undefined && state.context.amount === undefined &&
        state.contextInvalid.amount === undefined) {
      state.contextInvalid.currency = "error_currency_amount";
      delete state.context.currency;
    }
  }

  function writeContext() {
    contextControls().forEach(function (c) {
      var value = state.context[c.getAttribute("data-context")];
      c.value = value === undefined || value === null ? "" : String(value);
    });
    if (Object.keys(state.context).length) $("#context").open = true;
  }

  function contextFromCase(body) {
    // The context of a case passed in the address: only the fields the page has.
    var given = body.context;
    var context = {};
    if (!given || typeof given !== "object" || Array.isArray(given)) return context;
    contextControls().forEach(function (c) {
      var name = c.getAttribute("data-context");
      var value = given[name];
      if (typeof value === "string" || (typeof value === "number" && isFinite(value))) {
        context[name] = value;
      }
    });
    return context;
  }

  function buildCase() {
    // The nested request body, in the order of the facts; unknown facts are left out.
    // A case id given in the address (a CRM's record) goes with every request.
    var body = {};
    if (state.caseId) body.case_id = state.caseId;
    meta().facts.forEach(function (fact) {
      if (!Object.prototype.hasOwnProperty.call(state.values, fact.name)) return;
      var path = fact.name.split(".");
      var node = body;
      for (var i = 0; i < path.length - 1; i++) {
        if (typeof node[path[i]] !== "object" || node[path[i]] === null) node[path[i]] = {};
        node = node[path[i]];
      }
      node[path[path.length - 1]] = state.values[fact.name];
    });
    var context = {};
    contextControls().forEach(function (c) {
      var name = c.getAttribute("data-context");
      if (state.context[name] !== undefined) context[name] = state.context[name];
    });
    if (Object.keys(context).length) body.context = context;
    return body;
  }

  function valuesFromCase(body) {
    // The other way round, for a case passed in the address (#case=...).
    var values = {};
    if (typeof body.case_id === "string" && body.case_id) state.caseId = body.case_id;
    meta().facts.forEach(function (fact) {
      var node = body;
      var path = fact.name.split(".");
      for (var i = 0; i < path.length; i++) {
        if (node === null || typeof node !== "object" || !(path[i] in node)) return;
        node = node[path[i]];
      }
      if (node !== null && node !== undefined && !isDontKnow(fact, node)) values[fact.name] = node;
    });
    return values;
  }

  // --- errors next to the fields ---------------------------------------------

  function fieldNode(name) {
    return document.querySelector('.field[data-fact="' + cssEscape(name) + '"]');
  }

  function showFieldError(name, message) {
    var field = fieldNode(name);
    if (!field) return false;
    var closed = field.closest("details");
    if (closed) closed.open = true;
    field.classList.add("field--invalid");
    var p = field.querySelector(".field-error");
    p.textContent = message;
    p.hidden = false;
    Array.prototype.forEach.call(controlsOf(name), function (c) {
      c.setAttribute("aria-invalid", "true");
    });
    return true;
  }

  function clearFieldErrors() {
    Array.prototype.forEach.call(document.querySelectorAll(".field--invalid"), function (field) {
      field.classList.remove("field--invalid");
      var p = field.querySelector(".field-error");
      p.textContent = "";
      p.hidden = true;
    });
    Array.prototype.forEach.call(document.querySelectorAll("[aria-invalid]"), function (c) {
      c.removeAttribute("aria-invalid");
    });
  }

  function checkForm() {
    // The problems the page can see before asking the service: [[fact name, message]].
    var problems = [];
    meta().facts.forEach(function (fact) {
      if (fact.required && !Object.prototype.hasOwnProperty.call(state.values, fact.name)) {
        problems.push([fact.name, fact.name === "situations" ? t("error_situations") : t("error_form")]);
      }
      if (state.invalid[fact.name] !== undefined) problems.push([fact.name, invalidMessage(fact)]);
    });
    contextControls().forEach(function (c) {
      var name = c.getAttribute("data-context");
      var key = state.contextInvalid[name];
      if (key) problems.push(["context." + name, t(key)]);
    });
    return problems;
  }

  function focusField(name) {
    var first = controlsOf(name)[0];
    if (first) first.focus();
  }

  // --- the integrators' view ---------------------------------------------------

  function shellQuote(text) {
    return "'" + String(text).replace(/'/g, "'\\''") + "'";
  }

  function curlCommand(body) {
    var lines = [
      "curl -sS -X POST " + shellQuote(apiUrl("v1/guidance?lang=" + state.lang)),
      "  -H 'Content-Type: application/json'",
    ];
    // The key itself is never put into copied text: the shell fills it in.
    if (state.apiKey) lines.push('  -H "Authorization: Bearer $DISPUTE_GUIDE_API_KEY"');
    lines.push("  --data-binary " + shellQuote(JSON.stringify(body)));
    return lines.join(" \\\n");
  }

  function updateIntegrators() {
    if (!meta()) return;
    var body = buildCase();
    var json = JSON.stringify(body, null, 2);
    var curl = curlCommand(body);
    $("#case-json").value = json;
    $("#case-curl").value = curl;
    $("#case-json").rows = Math.min(json.split("\n").length, 16);
    $("#case-curl").rows = curl.split("\n").length + 1; // + a scroll bar's height
  }

  function copyText(text, source, status, onCopied) {
    // Into the clipboard; if the browser refuses, the text is selected for Ctrl+C.
    status = status || $("#copy-status");
    function done() {
      status.textContent = t("copied");
      if (onCopied) onCopied();
    }
    function fallback() {
      source.focus();
      source.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      status.textContent = ok ? t("copied") : t("copy_failed");
      if (ok && onCopied) onCopied();
    }
    status.textContent = "";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  // --- asking the service ------------------------------------------------------

  function setStatus(text, isError) {
    // The live region: the summary of the advice, or what went wrong.
    var status = $("#result-status");
    status.textContent = text;
    status.classList.toggle("result-status--error", Boolean(isError));
  }

  function evaluate(options) {
    options = options || {};
    if (!meta()) return Promise.resolve();
    clearFieldErrors();
    updateIntegrators();
    var problems = checkForm();
    if (problems.length) {
      problems.forEach(function (p) {
        showFieldError(p[0], p[1]);
      });
      state.seq++; // an answer still on its way no longer matches the form
      setStatus(problems.map(function (p) { return p[1]; }).join(" "), true);
      if (options.focus) focusField(problems[0][0]);
      return Promise.resolve();
    }
    var body = buildCase();
    var seq = ++state.seq;
    var resultBody = $("#result-body");
    resultBody.setAttribute("aria-busy", "true");
    resultBody.setAttribute("data-state", "loading");
    $("#result").classList.add("result--loading");
    // All the letters: those for now, and those for "if that does not work".
    return fetch(apiUrl("v1/guidance?messages=all&lang=" + encodeURIComponent(state.lang)), {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(
          function (data) { return { ok: response.ok, status: response.status, data: data }; },
          function () { return { ok: false, status: response.status, data: null }; }
        );
      })
      .then(
        function (answer) {
          if (seq !== state.seq) return;
          if (answer.ok) {
            options.sent = body;
            showGuidance(answer.data, options);
            saveInAddress(body);
          } else if (answer.status === 401) {
            askForKey();
            showFailure(t(state.apiKey ? "key_rejected" : "key_heading"));
          } else showProblem(answer);
        },
        function () {
          if (seq !== state.seq) return;
          showFailure(t("error_network"));
        }
      )
      .then(function () {
        if (seq !== state.seq) return;
        resultBody.setAttribute("aria-busy", "false");
        $("#result").classList.remove("result--loading");
      });
  }

  function showProblem(answer) {
    var data = answer.data || {};
    var detail = data.detail || data.title || "HTTP " + answer.status;
    var errors = data.errors || {};
    var shown = Object.keys(errors).filter(function (path) {
      return showFieldError(path, errors[path].join(" "));
    });
    var rest = Object.keys(errors).filter(function (path) { return shown.indexOf(path) < 0; });
    var message = t("error_request", { detail: detail });
    var extra = rest.map(function (path) { return path + ": " + errors[path].join(" "); });
    showFailure([message].concat(extra).join(" "));
  }

  function showFailure(message) {
    var resultBody = $("#result-body");
    var retry = el("button", { type: "button", className: "button", text: t("retry") });
    retry.addEventListener("click", function () {
      evaluate({ focus: true });
    });
    resultBody.replaceChildren(retry);
    resultBody.setAttribute("data-state", "error");
    setStatus(message, true);
  }

  // --- showing the advice --------------------------------------------------------

  function formatValue(fact, value) {
    if (value === null || value === undefined) return t("not_given");
    if (Array.isArray(value)) {
      return value.map(function (v) { return fact ? valueLabel(fact, v) : String(v); }).join(", ");
    }
    if (!fact) return String(value);
    if (fact.type === "integer") return String(value);
    return valueLabel(fact, value);
  }

  function becauseNode(because) {
    // Each reason is a sentence in the page's language; the rule's id stays in the markup
    // (data-rule, and a tooltip) for integrators.
    var m = meta();
    var items = because.map(function (reason) {
      if (reason.reason) {
        return el("li", { "data-rule": reason.rule, title: t("because_rule_id") + ": " + reason.rule },
          [el("span", { className: "because__reason", text: reason.reason })]);
      }
      // An answer without sentences (an older service): the rule and the facts it read.
      var facts = Object.keys(reason.facts || {}).map(function (name, i) {
        var value = reason.facts[name];
        return el("span", { className: "because__fact" }, [
          i ? "; " : "",
          el("code", { text: name }),
          " = ",
          el("span", { className: "because__value", text: formatValue(m.byName[name], value) }),
        ]);
      });
      return el("li", { "data-rule": reason.rule }, [
        el("span", { className: "because__rule" }, [t("because_rule") + " ", el("code", { text: reason.rule })]),
        facts.length ? ": " : "",
      ].concat(facts));
    });
    return el("div", { className: "step__because" }, [
      el("span", { className: "step__because-label", text: t("because") }),
      " ",
      el("ul", { className: "because" }, items),
    ]);
  }

  function stepNode(step, isNew, titleTag) {
    var kindClass = step.kind === "avoid" ? "avoid" : "do";
    var titleId = "step-" + step.id + "-title";
    return el("li", {
      className: "step step--" + kindClass + (isNew ? " step--new" : ""),
      "data-step-id": step.id,
      "data-kind": step.kind,
      "data-category": step.category,
      "data-phase": step.phase,
      "aria-labelledby": titleId,
    }, [
      el("div", { className: "step__meta" }, [
        el("span", { className: "badge badge--" + kindClass }, [
          el("span", { "aria-hidden": "true", text: kindClass === "avoid" ? "\u2715 " : "\u2713 " }),
          t("kind_" + kindClass),
        ]),
        el("span", { className: "category", text: has("category." + step.category) ? t("category." + step.category) : step.category }),
        isNew ? el("span", { className: "badge badge--new", text: t("new_step") }) : null,
      ]),
      el(titleTag, { className: "step__title", id: titleId, text: step.title }),
      el("p", { className: "step__detail", text: step.detail }),
      becauseNode(step.because || []),
      sourceNode(step),
    ]);
  }

  function sourceNode(step) {
    // Where the step comes from, discreetly: the article (with its section) or practice.
    var label = step.source_label ||
      (step.source && has("source_" + step.source) ? t("source_" + step.source) : null);
    if (!label) return null;
    return el("p", { className: "step__source step__source--" + (step.source || "other"),
                     "data-source": step.source || null, text: label });
  }

  function phasesOf(steps) {
    // [[phase, [steps]]] in the answer's order; one group without a name if no step has one.
    var groups = [];
    steps.forEach(function (s) {
      var phase = s.phase || "";
      var last = groups[groups.length - 1];
      if (last && last[0] === phase) last[1].push(s);
      else groups.push([phase, [s]]);
    });
    return groups;
  }

  function planNode(steps, isNew) {
    var groups = phasesOf(steps);
    if (groups.length === 1 && groups[0][0] === "") {
      return el("ol", { className: "steps", "aria-labelledby": "steps-heading" },
        steps.map(function (s) { return stepNode(s, isNew(s), "h4"); }));
    }
    return el("div", { className: "plan" }, groups.map(function (group, i) {
      var phase = group[0];
      var headingId = "phase-" + (phase || "other") + "-" + i;
      var title = has("phase." + phase) ? t("phase." + phase) : phase;
      return el("section", { className: "phase phase--" + phase, "data-phase": phase, "aria-labelledby": headingId }, [
        el("h4", { className: "phase__title", id: headingId, text: title }),
        el("ol", { className: "steps", "aria-labelledby": headingId },
          group[1].map(function (s) { return stepNode(s, isNew(s), "h5"); })),
      ]);
    }));
  }

  function stepTitle(id) {
    var step = meta().steps[id];
    return step ? step.title : id;
  }

  function optionNode(question, option, qIndex, oIndex) {
    var add = option.add || [];
    var remove = option.remove || [];
    var effectParts = [];
    if (add.length) effectParts.push(t("effect_add", { n: add.length }));
    if (remove.length) effectParts.push(t("effect_remove", { n: remove.length }));
    var describedId = "q" + qIndex + "-o" + oIndex + "-effect";
    var spoken = [];
    if (add.length) spoken.push(t("effect_adds", { titles: add.map(stepTitle).join("; ") }));
    if (remove.length) spoken.push(t("effect_removes", { titles: remove.map(stepTitle).join("; ") }));
    if (!spoken.length) spoken.push(t("effect_same"));
    var button = el("button", {
      type: "button",
      className: "option" + (add.length || remove.length ? "" : " option--same"),
      "data-field": question.field,
      "data-value": JSON.stringify(option.value),
      "aria-describedby": describedId,
    }, [
      el("span", { className: "option__label", text: option.label }),
      el("span", { className: "option__effect", "aria-hidden": "true", text: effectParts.join(" ") || t("effect_none") }),
    ]);
    button.title = spoken.join(" \u00b7 ");
    return el("li", { className: "options__item" }, [
      button,
      el("span", { className: "sr-only", id: describedId, text: spoken.join(". ") }),
    ]);
  }

  function shownOptions(question) {
    // An enumeration's own "I don't know" answer is left unanswered instead.
    var fact = meta().byName[question.field];
    return question.options.filter(function (o) { return !fact || !isDontKnow(fact, o.value); });
  }

  function questionsNode(questions) {
    var parts = [
      el("h3", { id: "questions-heading", className: "questions-heading", tabindex: "-1", text: t("questions_heading") }),
    ];
    if (!questions.length) {
      parts.push(el("p", { className: "hint", id: "no-questions", text: t("no_questions") }));
      return el("section", { className: "questions-block", "aria-labelledby": "questions-heading" }, parts);
    }
    parts.push(el("p", { className: "hint", text: t("questions_hint") }));
    parts.push(el("ol", { className: "questions" }, questions.map(function (q, i) {
      var textId = "q" + i + "-text";
      return el("li", { className: "question", "data-field": q.field }, [
        el("p", { className: "question__text", id: textId, text: q.question }),
        el("div", { className: "options-group", role: "group", "aria-labelledby": textId }, [
          el("ul", { className: "options" },
            shownOptions(q).map(function (o, j) { return optionNode(q, o, i, j); })),
        ]),
      ]);
    })));
    return el("section", { className: "questions-block", "aria-labelledby": "questions-heading" }, parts);
  }

  // --- the ready-to-send messages ---------------------------------------------------

  function coversText(message, steps) {
    // "carries out steps 1, 2, 5": the steps' numbers in the plan shown above.
    var numbers = (message.covers || []).map(function (id) {
      for (var i = 0; i < steps.length; i++) if (steps[i].id === id) return i + 1;
      return null;
    }).filter(function (n) { return n !== null; });
    if (!numbers.length) return "";
    var forms = lookup("message_covers") || {};
    var category = "other";
    try {
      category = new Intl.PluralRules(state.lang).select(numbers.length);
    } catch (e) {
      category = numbers.length === 1 ? "one" : "other";
    }
    return format(forms[category] || forms.other || "{list}", { list: numbers.join(", ") });
  }

  function keptEdit(message) {
    // What the person typed into this letter is kept while the service's text is the same.
    var edit = state.edits[message.id];
    if (edit && edit.text === message.text && edit.subject === message.subject) return edit;
    edit = { text: message.text, subject: message.subject, value: message.text,
             subjectValue: message.subject };
    state.edits[message.id] = edit;
    return edit;
  }

  function messageRows(text) {
    // Tall enough for the letter on a phone (about 40 characters a line), within limits.
    var rows = String(text).split("\n").reduce(function (sum, line) {
      return sum + Math.max(1, Math.ceil(line.length / 40));
    }, 0);
    return Math.max(4, Math.min(rows + 1, 24));
  }

  function messageNode(message, i, steps) {
    var id = "msg-" + i;
    var edit = keptEdit(message);
    var to = has("message_to." + message.to) ? t("message_to." + message.to) : message.to;
    var covers = coversText(message, steps);
    var subject = el("input", { type: "text", id: id + "-subject", className: "message__subject",
                                "data-message-subject": message.id, spellcheck: "true" });
    subject.value = edit.subjectValue;
    var text = el("textarea", { id: id + "-text", className: "message__text",
                                "data-message-text": message.id, spellcheck: "true",
                                rows: messageRows(edit.value) });
    text.value = edit.value;
    var status = el("span", { className: "copy-status", id: id + "-status", role: "status",
                              "aria-live": "polite" });
    return el("li", {
      className: "message message--" + message.to,
      "data-message-id": message.id,
      "data-to": message.to,
      "data-phase": message.phase,
      "data-covers": (message.covers || []).join(" "),
      lang: message.lang || null,
      "aria-labelledby": id + "-title",
    }, [
      el("h4", { className: "message__purpose", id: id + "-title", lang: state.lang, text: message.purpose }),
      el("p", { className: "message__meta", lang: state.lang },
        [to + (covers ? " \u00b7 " + covers : "")]),
      el("label", { className: "message__label", "for": id + "-subject", lang: state.lang, text: t("message_subject") }),
      subject,
      el("label", { className: "message__label", "for": id + "-text", lang: state.lang, text: t("message_text") }),
      text,
      el("div", { className: "message__actions", lang: state.lang }, [
        el("button", { type: "button", className: "button button--primary message__copy",
                       "data-copy-message": message.id, "aria-describedby": id + "-title",
                       text: t("message_copy") }),
        el("button", { type: "button", className: "button message__copy-subject",
                       "data-copy-subject": message.id, "aria-describedby": id + "-title",
                       text: t("message_copy_subject") }),
        status,
      ]),
    ]);
  }

  function messagesNode(guidance) {
    var messages = guidance.messages;
    if (!Array.isArray(messages)) return null; // a service without messages
    var parts = [el("h3", { id: "messages-heading", className: "messages-heading", text: t("messages_heading") })];
    if (!messages.length) {
      parts.push(el("p", { className: "hint", id: "no-messages", text: t("no_messages") }));
    } else {
      parts.push(el("p", { className: "hint", text: t("messages_hint") }));
      parts.push(el("ol", { className: "messages" }, messages.map(function (m, i) {
        return messageNode(m, i, guidance.steps);
      })));
    }
    return el("section", { className: "messages-block", id: "messages", "aria-labelledby": "messages-heading" }, parts);
  }

  function messageById(id) {
    var messages = (state.result && state.result.messages) || [];
    for (var i = 0; i < messages.length; i++) if (messages[i].id === id) return messages[i];
    return null;
  }

  function onMessageEdit(event) {
    var target = event.target;
    var id = target.getAttribute("data-message-text") || target.getAttribute("data-message-subject");
    if (!id || !state.edits[id]) return;
    if (target.hasAttribute("data-message-text")) state.edits[id].value = target.value;
    else state.edits[id].subjectValue = target.value;
  }

  function onMessageCopy(event) {
    var button = event.target.closest("button[data-copy-message], button[data-copy-subject]");
    if (!button) return false;
    var item = button.closest("li.message");
    var id = item.getAttribute("data-message-id");
    var message = messageById(id);
    var box = item.querySelector(button.hasAttribute("data-copy-message") ? ".message__text" : ".message__subject");
    var status = item.querySelector(".copy-status");
    status.textContent = "";
    var textBox = item.querySelector(".message__text");
    var subjectBox = item.querySelector(".message__subject");
    copyText(box.value, box, status, function () {
      if (!message) return;
      notify("message_copied", {
        case_id: state.result.case_id === undefined ? null : state.result.case_id,
        message_id: id,
        part: button.hasAttribute("data-copy-message") ? "text" : "subject",
        to: message.to,
        phase: message.phase,
        lang: message.lang,
        covers: message.covers || [],
        subject: subjectBox.value,
        text: textBox.value,
        edited: textBox.value !== message.text || subjectBox.value !== message.subject,
      });
    });
    return true;
  }

  function summaryText(guidance, added, removed) {
    var steps = guidance.steps;
    var avoid = steps.filter(function (s) { return s.kind === "avoid"; }).length;
    var questions = (guidance.questions || []).length;
    var text = plural("summary_steps", steps.length);
    if (avoid) text += " (" + plural("summary_avoid", avoid) + ")";
    text += ", " + plural("summary_questions", questions) + ".";
    if (added.length) text += " " + t("summary_new", { titles: added.map(function (s) { return s.title; }).join("; ") });
    if (removed.length) text += " " + t("summary_gone", { titles: removed.map(function (s) { return s.title; }).join("; ") });
    return text;
  }

  function showGuidance(guidance, options) {
    var previous = options.compare === false ? null : state.result;
    var before = {};
    if (previous && previous.lang === guidance.lang) {
      previous.steps.forEach(function (s) { before[s.id] = s; });
    } else previous = null;
    var now = {};
    guidance.steps.forEach(function (s) { now[s.id] = s; });
    var added = previous ? guidance.steps.filter(function (s) { return !before[s.id]; }) : [];
    var removed = previous ? previous.steps.filter(function (s) { return !now[s.id]; }) : [];

    var parts = [];
    parts.push(el("h3", { className: "steps-heading", id: "steps-heading", text: t("steps_heading") }));
    if (guidance.steps.length) {
      parts.push(planNode(guidance.steps, function (s) { return Boolean(previous && !before[s.id]); }));
    } else parts.push(el("p", { className: "hint", text: t("no_steps") }));
    if (removed.length) {
      parts.push(el("div", { className: "gone" }, [
        el("h4", { className: "gone__title", text: t("gone_heading") }),
        el("ul", {}, removed.map(function (s) {
          return el("li", { "data-step-id": s.id }, [el("del", { text: s.title })]);
        })),
      ]));
    }
    parts.push(questionsNode(guidance.questions || []));
    parts.push(messagesNode(guidance));
    parts.push(el("p", { className: "result-meta" }, [
      t("ruleset", { version: "" }),
      el("code", { text: guidance.ruleset_version }),
    ]));

    var resultBody = $("#result-body");
    resultBody.replaceChildren.apply(resultBody, parts.filter(Boolean));
    state.result = guidance;
    state.evaluated = true;
    state.revision++;
    resultBody.setAttribute("data-state", "ready");
    resultBody.setAttribute("data-revision", String(state.revision));
    resultBody.setAttribute("data-lang", guidance.lang);
    setStatus(summaryText(guidance, added, removed));
    notify("plan_shown", {
      case_id: guidance.case_id === undefined ? null : guidance.case_id,
      "case": options.sent || null,
      lang: guidance.lang,
      ruleset_version: guidance.ruleset_version,
      step_ids: guidance.steps.map(function (s) { return s.id; }),
      steps: guidance.steps.map(function (s) {
        return { id: s.id, kind: s.kind, category: s.category, phase: s.phase || null };
      }),
      questions: (guidance.questions || []).map(function (q) { return q.field; }),
    });
    if (options.focus === "questions") {
      var q = $("#questions-heading");
      if (q) q.focus();
    } else if (options.focus) {
      $("#result").focus();
    }
  }

  // --- the case in the address, so a link (or a CRM) can open a filled-in case -----

  function saveInAddress(body) {
    try {
      var url = new URL(window.location.href);
      url.hash = "case=" + encodeURIComponent(JSON.stringify(body));
      window.history.replaceState(null, "", url.href);
    } catch (e) {
      /* an embedding page may forbid it; the case still works */
    }
  }

  function caseFromAddress() {
    var hash = window.location.hash;
    if (hash.indexOf("#case=") !== 0) return null;
    try {
      var body = JSON.parse(decodeURIComponent(hash.slice(6)));
      return body && typeof body === "object" && !Array.isArray(body) ? body : null;
    } catch (e) {
      return null;
    }
  }

  // --- events ------------------------------------------------------------------

  function onContextChange(event, typing) {
    // A context field: the messages change, never the steps.
    var name = event.target.getAttribute("data-fact");
    readContext();
    if (!typing && event.target.getAttribute("data-context") === "currency" &&
        state.context.currency !== undefined) {
      event.target.value = state.context.currency; // shown as it is sent: in capitals
    }
    updateIntegrators();
    if (typing) return;
    if (state.evaluated) evaluate();
    else {
      clearFieldErrors();
      var key = state.contextInvalid[event.target.getAttribute("data-context")];
      if (key) showFieldError(name, t(key));
    }
  }

  function onFormChange(event) {
    if (event.target.hasAttribute("data-context")) return onContextChange(event, false);
    var name = event.target.getAttribute("data-fact");
    var fact = name && meta() && meta().byName[name];
    if (!fact) return;
    readControl(fact);
    updateIntegrators();
    if (state.evaluated) evaluate();
    else if (state.invalid[name] !== undefined) {
      clearFieldErrors();
      showFieldError(name, invalidMessage(fact));
    }
  }

  function onFormInput(event) {
    // While typing: keep the integrators' view current; advice and errors wait for `change`.
    if (event.target.hasAttribute("data-context")) return onContextChange(event, true);
    var name = event.target.getAttribute("data-fact");
    var fact = name && meta() && meta().byName[name];
    if (!fact) return;
    readControl(fact);
    updateIntegrators();
  }

  function onSubmit(event) {
    event.preventDefault();
    if (!meta()) return; // the form is not there yet
    // A number still being typed has not fired `change`: read every control.
    meta().facts.forEach(readControl);
    readContext();
    evaluate({ focus: true });
  }

  function onReset() {
    if (!meta()) return;
    state.values = {};
    state.invalid = {};
    state.context = {};
    state.contextInvalid = {};
    state.edits = {};
    writeContext();
    state.result = null;
    state.evaluated = false;
    state.seq++;
    clearFieldErrors();
    writeControls();
    updateIntegrators();
    var resultBody = $("#result-body");
    resultBody.replaceChildren(el("p", { className: "hint", "data-i18n": "result_empty", text: t("result_empty") }));
    resultBody.setAttribute("data-state", "empty");
    resultBody.setAttribute("aria-busy", "false");
    setStatus("");
    try {
      var url = new URL(window.location.href);
      url.hash = "";
      window.history.replaceState(null, "", url.pathname + url.search);
    } catch (e) {
      /* ignore */
    }
    focusField(meta().facts.filter(function (f) { return f.required; }).map(function (f) { return f.name; })[0] || "");
  }

  function onAnswer(event) {
    var button = event.target.closest("button.option[data-field]");
    if (!button) return;
    var name = button.getAttribute("data-field");
    var fact = meta().byName[name];
    if (!fact) return;
    var value = JSON.parse(button.getAttribute("data-value"));
    state.values[name] = value;
    delete state.invalid[name];
    writeControl(fact, value);
    notify("question_answered", { field: name, value: value, "case": buildCase() });
    evaluate({ focus: "questions" });
  }

  function switchLanguage(lang) {
    if (lang === state.lang) return Promise.resolve();
    var seq = ++state.langSeq;
    return loadPage(lang).then(function (fields) {
      return loadMeta(lang).then(function () { return fields; }, function (error) {
        if (error && error.status === 401) return fields; // the key prompt comes with the advice
        throw error;
      });
    }).then(function (fields) {
      if (seq !== state.langSeq) return; // a later switch won
      state.lang = lang;
      replaceForm(fields);
      applyTexts();
      try {
        var url = new URL(window.location.href);
        url.searchParams.set("lang", lang);
        window.history.replaceState(null, "", url.href);
      } catch (e) {
        /* ignore */
      }
      updateIntegrators();
      if (state.evaluated) return evaluate({ compare: false });
      // The empty-result hint and any form errors are re-said in the new language.
      if (checkFormShown()) evaluate();
    }, showLoadFailure);
  }

  function checkFormShown() {
    return document.querySelector(".field--invalid") !== null;
  }

  function showLoadFailure(error) {
    if (error && error.status === 401) {
      askForKey();
      return;
    }
    setStatus(t("error_load"), true);
  }

  // --- an API key, when the service asks for one ----------------------------------

  function askForKey() {
    var form = $("#key-form");
    var error = $("#key-error");
    if (state.apiKey) {
      error.textContent = t("key_rejected");
      error.hidden = false;
    } else {
      error.textContent = "";
      error.hidden = true;
    }
    var wasHidden = form.hidden;
    form.hidden = false;
    if (wasHidden || state.apiKey) $("#api-key").focus();
  }

  function onKey(event) {
    event.preventDefault();
    var key = $("#api-key").value.trim();
    if (!key) {
      $("#api-key").focus();
      return;
    }
    state.apiKey = key;
    Object.keys(state.meta).forEach(function (lang) { state.meta[lang].steps = null; });
    try {
      window.sessionStorage.setItem(KEY_STORE, key);
    } catch (e) {
      /* kept in memory only */
    }
    $("#api-key").value = "";
    $("#key-form").hidden = true;
    loadMeta(state.lang).then(function () {
      if (!state.booted) ready();
      else if (state.evaluated || $("#result-body").getAttribute("data-state") === "error") {
        evaluate({ focus: true });
      }
    }, showLoadFailure);
  }

  // --- telling the page that frames this one (embed mode) -------------------------

  function allowedOrigins() {
    return (DATA.frame_origins || []).map(function (o) {
      return o === "self" ? window.location.origin : o;
    });
  }

  function findParentOrigin() {
    // The origin of the page that frames this one, if the service allows it; else null.
    if (!DATA.embed || window.parent === window) return null;
    var origin = null;
    if (window.location.ancestorOrigins && window.location.ancestorOrigins.length) {
      origin = window.location.ancestorOrigins[0];
    } else if (document.referrer) {
      try {
        origin = new URL(document.referrer).origin;
      } catch (e) {
        origin = null;
      }
    }
    return origin && allowedOrigins().indexOf(origin) >= 0 ? origin : null;
  }

  function notify(type, detail) {
    // postMessage to the allowed parent's exact origin (the browser drops it if the parent
    // is anything else); never "*".
    if (!state.parentOrigin) return;
    var message = { source: EVENT_SOURCE, version: EVENT_VERSION, type: type };
    Object.keys(detail || {}).forEach(function (k) { message[k] = detail[k]; });
    try {
      window.parent.postMessage(message, state.parentOrigin);
    } catch (e) {
      /* a parent that went away */
    }
  }

  // --- start ----------------------------------------------------------------------

  function ready() {
    // The step catalogue is here: the page can ask for advice.
    state.booted = true;
    document.body.setAttribute("data-ready", "true");
    notify("ready", { lang: state.lang, ruleset_version: meta().version });
    if (state.fromAddress && state.values.situations) evaluate();
  }

  function start() {
    setFacts(state.lang, DATA);
    state.parentOrigin = findParentOrigin();
    var given = caseFromAddress();
    if (given) {
      state.values = valuesFromCase(given);
      state.context = contextFromCase(given);
      state.fromAddress = true;
      writeControls();
      writeContext();
      readContext(); // as the fields hold it
    } else {
      // What a person already picked before the script ran is kept.
      meta().facts.forEach(readControl);
      readContext();
    }
    updateIntegrators();
    var form = $("#case-form");
    form.addEventListener("change", onFormChange);
    form.addEventListener("input", onFormInput);
    form.addEventListener("submit", onSubmit);
    $("#reset").addEventListener("click", onReset);
    $("#result").addEventListener("click", function (event) {
      if (!onMessageCopy(event)) onAnswer(event);
    });
    $("#result").addEventListener("input", onMessageEdit);
    $("#copy-curl").addEventListener("click", function () {
      updateIntegrators();
      copyText($("#case-curl").value, $("#case-curl"));
    });
    $("#copy-json").addEventListener("click", function () {
      updateIntegrators();
      copyText($("#case-json").value, $("#case-json"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang-switch]"), function (b) {
      b.addEventListener("click", function () {
        switchLanguage(b.getAttribute("data-lang-switch"));
      });
    });
    $("#key-form").addEventListener("submit", onKey);
    loadMeta(state.lang).then(ready, showLoadFailure);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
