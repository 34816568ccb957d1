/* The dispute-guide page: a form built from GET /v1/rules, the advice from POST /v1/guidance.
 *
 * No framework and no build step. The form is generated from the facts the service
 * describes (name, type, values, min/max, required, question, labels), so a new fact in
 * rules/facts.yaml appears here with no change to this file. An unknown fact is simply
 * left out of the case. All API texts come localized with ?lang=; the page's own words
 * are in i18n.js.
 */
(function () {
  "use strict";

  var DICT = window.DISPUTE_GUIDE_I18N || { en: {} };
  var root = document.documentElement;

  var KEY_STORE = "dispute-guide.api-key";

  var state = {
    lang: root.getAttribute("data-lang") || "en",
    meta: {}, // lang -> {facts: [...], byName: {}, steps: {id: step}, version}
    values: {}, // fact name -> a known value; an unknown fact has no entry
    invalid: {}, // fact name -> message, for values the user typed that cannot be sent
    result: null, // the last guidance shown
    evaluated: false, // after the first answer, every change re-evaluates
    seq: 0, // the latest request; older answers are dropped
    revision: 0, // counts the answers shown (tests wait on it)
    apiKey: readKey(), // only when the service asks for one (401)
    booted: false, // the form has been built once
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
    var en = DICT.en || {};
    if (Object.prototype.hasOwnProperty.call(en, key)) return en[key];
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

  function controlId(name) {
    return "fact-" + name.replace(/[^A-Za-z0-9_-]/g, "-");
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

  function loadMeta(lang) {
    if (state.meta[lang]) return Promise.resolve(state.meta[lang]);
    var q = "?lang=" + encodeURIComponent(lang);
    return Promise.all([getJson("v1/rules" + q), getJson("v1/steps" + q)]).then(function (both) {
      var rules = both[0];
      var catalogue = both[1];
      var byName = {};
      rules.facts.forEach(function (fact) {
        byName[fact.name] = fact;
      });
      var steps = {};
      catalogue.steps.forEach(function (step) {
        steps[step.id] = step;
      });
      state.meta[lang] = {
        facts: rules.facts,
        byName: byName,
        steps: steps,
        version: rules.ruleset_version,
      };
      return state.meta[lang];
    });
  }

  // --- the page's own texts --------------------------------------------------

  function applyTexts() {
    root.setAttribute("lang", state.lang);
    root.setAttribute("data-lang", state.lang);
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-lang-switch]"), function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang-switch") === state.lang ? "true" : "false");
    });
  }

  // --- building the form -----------------------------------------------------

  function factLabel(fact) {
    if (fact.question) return fact.question;
    if (has("fact." + fact.name)) return t("fact." + fact.name);
    return fact.description || fact.name;
  }

  function valueLabel(fact, value) {
    if (fact.type === "boolean") {
      var key = value ? "yes" : "no";
      return (fact.labels && fact.labels[key]) || t(key);
    }
    return (fact.labels && fact.labels[value]) || String(value);
  }

  function groupOf(fact) {
    var dot = fact.name.indexOf(".");
    return dot < 0 ? "" : fact.name.slice(0, dot);
  }

  function groupTitle(group) {
    if (has("group." + group)) return t("group." + group);
    return group.charAt(0).toUpperCase() + group.slice(1).replace(/_/g, " ");
  }

  function legendWithRequired(fact, id) {
    var parts = [factLabel(fact)];
    if (fact.required) parts.push(" ", el("span", { className: "required", text: "(" + t("required") + ")" }));
    return el("legend", { id: id + "-label" }, parts);
  }

  function errorNode(id) {
    return el("p", { className: "field-error", id: id + "-error", hidden: true });
  }

  function buildChoiceGroup(fact, id, choices, type) {
    // A set of radio buttons (one answer) or check boxes (several), in a fieldset.
    var inputs = choices.map(function (choice, i) {
      var inputId = id + "-" + i;
      var input = el("input", {
        type: type,
        id: inputId,
        name: fact.name,
        value: choice.value,
        "data-fact": fact.name,
      });
      return el("label", { className: "choice", for: inputId }, [input, el("span", { text: choice.label })]);
    });
    return el(
      "fieldset",
      {
        className: "field field--" + (type === "checkbox" ? "list" : "choice"),
        id: id,
        "data-fact": fact.name,
        "data-type": fact.type,
        "aria-describedby": id + "-error",
      },
      [legendWithRequired(fact, id), el("div", { className: "choices" }, inputs), errorNode(id)]
    );
  }

  function buildField(fact) {
    var id = controlId(fact.name);
    if (fact.type === "list") {
      return buildChoiceGroup(
        fact,
        id,
        (fact.values || []).map(function (v) {
          return { value: v, label: valueLabel(fact, v) };
        }),
        "checkbox"
      );
    }
    if (fact.type === "boolean") {
      return buildChoiceGroup(
        fact,
        id,
        [
          { value: "true", label: valueLabel(fact, true) },
          { value: "false", label: valueLabel(fact, false) },
          { value: "", label: t("unknown") },
        ],
        "radio"
      );
    }
    var control;
    var describedBy = [id + "-error"];
    var extra = [];
    if (fact.type === "enum") {
      control = el(
        "select",
        { id: id, name: fact.name, "data-fact": fact.name },
        [el("option", { value: "", text: t("unknown_option") })].concat(
          (fact.values || []).map(function (v) {
            return el("option", { value: v, text: valueLabel(fact, v) });
          })
        )
      );
    } else if (fact.type === "integer") {
      control = el("input", {
        type: "number",
        id: id,
        name: fact.name,
        "data-fact": fact.name,
        inputmode: "numeric",
        step: 1,
        min: fact.min,
        max: fact.max,
      });
      var hintId = id + "-hint";
      describedBy.unshift(hintId);
      extra.push(el("p", { className: "field-hint", id: hintId, text: numberHint(fact) }));
    } else {
      // A type this page does not know yet still gets a plain text box.
      control = el("input", { type: "text", id: id, name: fact.name, "data-fact": fact.name });
    }
    if (fact.required) control.setAttribute("aria-required", "true");
    control.setAttribute("aria-describedby", describedBy.join(" "));
    var label = el("label", { for: id, id: id + "-label" }, [factLabel(fact)]);
    if (fact.required) label.append(" ", el("span", { className: "required", text: "(" + t("required") + ")" }));
    return el(
      "div",
      { className: "field field--" + fact.type, "data-fact": fact.name, "data-type": fact.type },
      [label, control].concat(extra, [errorNode(id)])
    );
  }

  function numberHint(fact) {
    var min = fact.min === null || fact.min === undefined ? "\u2212\u221e" : fact.min;
    var max = fact.max === null || fact.max === undefined ? "\u221e" : fact.max;
    return t("number_hint", { min: min, max: max });
  }

  function buildForm() {
    var m = meta();
    var container = $("#form-fields");
    var groups = [];
    var byGroup = {};
    var lead = [];
    m.facts.forEach(function (fact) {
      if (fact.name === "case_id") return;
      // Required facts (the situations) lead the form on their own.
      if (fact.required) {
        lead.push(fact);
        return;
      }
      var g = groupOf(fact);
      if (!byGroup[g]) {
        byGroup[g] = [];
        groups.push(g);
      }
      byGroup[g].push(fact);
    });
    var nodes = lead.map(buildField);
    groups.forEach(function (g) {
      var gid = "group-" + (g || "general");
      nodes.push(
        el("fieldset", { className: "group", id: gid, "data-group": g || "general" }, [
          el("legend", { className: "group__title", text: groupTitle(g) }),
          el("div", { className: "group__fields" }, byGroup[g].map(buildField)),
        ])
      );
    });
    container.replaceChildren.apply(container, nodes);
    container.setAttribute("aria-busy", "false");
    // Known answers back into their controls; every other fact starts at "don't know".
    m.facts.forEach(function (fact) {
      writeControl(fact, state.values[fact.name]);
    });
    Object.keys(state.invalid).forEach(function (name) {
      if (m.byName[name]) showFieldError(name, invalidMessage(m.byName[name]));
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

  function buildCase() {
    // The nested request body, in the order of the facts; unknown facts are left out.
    var body = {};
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
    return body;
  }

  function valuesFromCase(body) {
    // The other way round, for a case passed in the address (#case=...).
    var values = {};
    meta().facts.forEach(function (fact) {
      var node = body;
      var path = fact.name.split(".");
      for (var i = 0; i < path.length; i++) {
        if (node === null || typeof node !== "object" || !(path[i] in node)) return;
        node = node[path[i]];
      }
      if (node !== null && node !== undefined) values[fact.name] = node;
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

  function copyText(text, source) {
    var status = $("#copy-status");
    function done() {
      status.textContent = t("copied");
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
    return fetch(apiUrl("v1/guidance?lang=" + encodeURIComponent(state.lang)), {
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
    var m = meta();
    var items = because.map(function (reason) {
      var facts = Object.keys(reason.facts || {}).map(function (name, i) {
        var fact = m.byName[name];
        var value = reason.facts[name];
        return el("span", { className: "because__fact" + (value === null ? " because__fact--unknown" : "") }, [
          i ? "; " : "",
          el("code", { text: name }),
          " = ",
          el("span", { className: "because__value", text: formatValue(fact, value) }),
        ]);
      });
      return el("li", { "data-rule": reason.rule }, [
        el("span", { className: "because__rule" }, [t("because_rule") + " ", el("code", { text: reason.rule })]),
        facts.length ? ": " : "",
      ].concat(facts));
    });
    return el("div", { className: "step__because" }, [
      el("span", { className: "step__because-label", text: t("because") }),
      el("ul", { className: "because" }, items),
    ]);
  }

  function stepNode(step, isNew) {
    var kindClass = step.kind === "avoid" ? "avoid" : "do";
    var titleId = "step-" + step.id + "-title";
    return el("li", {
      className: "step step--" + kindClass + (isNew ? " step--new" : ""),
      "data-step-id": step.id,
      "data-kind": step.kind,
      "data-category": step.category,
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
      el("h4", { className: "step__title", id: titleId, text: step.title }),
      el("p", { className: "step__detail", text: step.detail }),
      becauseNode(step.because || []),
    ]);
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
        el("ul", { className: "options", role: "group", "aria-labelledby": textId },
          q.options.map(function (o, j) { return optionNode(q, o, i, j); })),
      ]);
    })));
    return el("section", { className: "questions-block", "aria-labelledby": "questions-heading" }, parts);
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
      parts.push(el("ol", { className: "steps", "aria-labelledby": "steps-heading" }, guidance.steps.map(function (s) {
        return stepNode(s, previous && !before[s.id]);
      })));
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
    parts.push(el("p", { className: "result-meta" }, [
      t("ruleset", { version: "" }),
      el("code", { text: guidance.ruleset_version }),
    ]));

    var resultBody = $("#result-body");
    resultBody.replaceChildren.apply(resultBody, parts);
    state.result = guidance;
    state.evaluated = true;
    state.revision++;
    resultBody.setAttribute("data-state", "ready");
    resultBody.setAttribute("data-revision", String(state.revision));
    resultBody.setAttribute("data-lang", guidance.lang);
    setStatus(summaryText(guidance, added, removed));
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

  function onFormChange(event) {
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
    evaluate({ focus: true });
  }

  function onReset() {
    if (!meta()) return;
    state.values = {};
    state.invalid = {};
    state.result = null;
    state.evaluated = false;
    state.seq++;
    buildForm();
    clearFieldErrors();
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
    evaluate({ focus: "questions" });
  }

  function switchLanguage(lang) {
    if (lang === state.lang) return Promise.resolve();
    state.lang = lang;
    applyTexts();
    try {
      var url = new URL(window.location.href);
      url.searchParams.set("lang", lang);
      window.history.replaceState(null, "", url.href);
    } catch (e) {
      /* ignore */
    }
    return loadMeta(lang).then(function () {
      buildForm();
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
    var container = $("#form-fields");
    container.replaceChildren(el("p", { className: "error", role: "alert", text: t("error_load") }));
    container.setAttribute("aria-busy", "false");
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
    state.meta = {}; // loaded again, now with the key
    try {
      window.sessionStorage.setItem(KEY_STORE, key);
    } catch (e) {
      /* kept in memory only */
    }
    $("#api-key").value = "";
    $("#key-form").hidden = true;
    loadMeta(state.lang).then(function () {
      if (!state.booted) boot();
      else {
        buildForm();
        updateIntegrators();
        if (state.evaluated || $("#result-body").getAttribute("data-state") === "error") {
          evaluate({ focus: true });
        }
      }
    }, showLoadFailure);
  }

  function boot() {
    var given = caseFromAddress();
    if (given) state.values = valuesFromCase(given);
    buildForm();
    updateIntegrators();
    state.booted = true;
    document.body.setAttribute("data-ready", "true");
    if (given && state.values.situations) evaluate();
  }

  function start() {
    applyTexts();
    var form = $("#case-form");
    form.addEventListener("change", onFormChange);
    form.addEventListener("input", onFormInput);
    form.addEventListener("submit", onSubmit);
    $("#reset").addEventListener("click", onReset);
    $("#result").addEventListener("click", onAnswer);
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
    loadMeta(state.lang).then(boot, showLoadFailure);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
