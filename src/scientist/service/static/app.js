// The guard service's page: posteriors, questions and decisions, over the service's JSON API.
// Plain browser JavaScript, no build step. Every value from the server is rendered as text
// (textContent, SVG text nodes), never as markup: audit records hold what agents sent.
"use strict";

(function () {
  const KEY_STORAGE = "scientist.apiKey";
  const SVG = "http://www.w3.org/2000/svg";
  const state = {
    key: null,
    who: null,
    posteriors: [],
    posterior: null,
    view: "posteriors",
    theories: null,
    theory: 0,
    layouts: {},
    filter: "",
    olderThan: null,
    selectedDecision: null,
  };
  const page = { cy: null, driverCy: null, state };
  window.scientistPage = page; // for the browser tests

  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(x, digits = 3) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    const a = Math.abs(x);
    if (a < 1e-12) return (0).toFixed(digits); // round-off of an exact zero
    if (a < 1e-3 || a >= 1e5) return x.toExponential(2);
    return x.toFixed(digits);
  }

  function signed(x) {
    return (x >= 0 ? "+" : "−") + fmt(Math.abs(x), 2);
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : detail.map((e) => `${e.loc.join(".")}: ${e.msg}`).join("; "));
      this.status = status;
    }
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", Authorization: `Bearer ${state.key}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = { detail: `The server answered ${response.status} without JSON.` };
    }
    if (!response.ok) {
      const error = new ApiError(response.status, data.detail || `HTTP ${response.status}`);
      if (response.status === 401 && !options.signingIn) signOut(error.message);
      throw error;
    }
    return data;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---------------------------------------------------------------- sign in / out
  async function signIn(key, quiet) {
    state.key = key;
    try {
      state.who = await api("/v1/whoami", { signingIn: true });
    } catch (err) {
      state.key = null;
      sessionStorage.removeItem(KEY_STORAGE);
      if (!quiet) showKeyError(err.status === 401 ? "This key is not valid (unknown, malformed or revoked)." : err.message);
      return;
    }
    let posteriors;
    try {
      posteriors = (await api("/v1/posteriors", { signingIn: true })).posteriors;
    } catch (err) {
      state.key = null;
      showKeyError(`The service cannot list its posteriors: ${err.message}`);
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    $("key").value = "";
    $("key-error").hidden = true;
    state.posteriors = posteriors;
    const select = $("posterior");
    clear(select);
    for (const p of posteriors) select.append(el("option", { value: p.name, text: p.name }));
    state.posterior = posteriors.length ? posteriors[0].name : null;
    $("key-id").textContent = `key ${state.who.key_id} · ${state.who.scopes.join(", ")}`;
    $("gate").hidden = true;
    $("tabs").hidden = false;
    $("who").hidden = false;
    document.body.dataset.signedIn = "true";
    const scopes = new Set(state.who.scopes);
    const first = scopes.has("ask") ? "posteriors" : scopes.has("admin") ? "guard" : "posteriors";
    show(first);
  }

  function showKeyError(message) {
    $("key-error").textContent = message;
    $("key-error").hidden = false;
  }

  function signOut(message) {
    state.key = null;
    state.who = null;
    state.theories = null;
    state.layouts = {};
    state.marginals = {};
    sessionStorage.removeItem(KEY_STORAGE);
    for (const id of ["view-posteriors", "view-ask", "view-guard", "tabs", "who", "answer", "decision"]) $(id).hidden = true;
    clear($("heatmap"));
    clear(document.querySelector("#theories tbody"));
    clear(document.querySelector("#decisions tbody"));
    if (page.cy) { page.cy.destroy(); page.cy = null; }
    if (page.driverCy) { page.driverCy.destroy(); page.driverCy = null; }
    delete document.body.dataset.signedIn;
    $("gate").hidden = false;
    if (message) showKeyError(message);
    else $("key-error").hidden = true;
  }

  // ---------------------------------------------------------------- views
  function show(view) {
    state.view = view;
    for (const v of ["posteriors", "ask", "guard"]) {
      $(`view-${v}`).hidden = v !== view;
      $(`tab-${v}`).classList.toggle("active", v === view);
    }
    $("posterior").parentElement.hidden = view === "guard";
    if (view === "posteriors") loadPosterior();
    else if (view === "ask") prepareAsk();
    else loadDecisions(true);
  }

  function needs(scope, noteId, bodyId, what) {
    const ok = state.who.scopes.includes(scope);
    $(noteId).hidden = ok;
    $(bodyId).hidden = !ok;
    if (!ok) $(noteId).textContent = `This key lacks the '${scope}' scope, so it cannot ${what}. Sign in with a key created with --scope ${scope}.`;
    return ok;
  }

  function currentInfo() {
    return state.posteriors.find((p) => p.name === state.posterior);
  }

  // ---------------------------------------------------------------- posteriors
  async function loadPosterior() {
    const info = currentInfo();
    if (!info) return;
    $("post-summary").textContent =
      `${info.name}: ${info.n_theories.toLocaleString()} ${info.n_theories === 1 ? "theory" : "theories"} of ` +
      `${info.variables.length} variables (${info.weighting} weights) · fingerprint ${info.fingerprint}` +
      (info.principles.length ? ` · harm principles: ${info.principles.join(", ")}` : "");
    if (!needs("ask", "posteriors-denied", "posteriors-body", "read the posterior's theories")) return;
    const name = encodeURIComponent(info.name);
    const top = $("top-k").value;
    try {
      const [edges, theories] = await Promise.all([
        api(`/v1/posteriors/${name}/edges`),
        api(`/v1/posteriors/${name}/theories?top=${top}`),
      ]);
      if (info.name !== state.posterior) return; // the user switched meanwhile
      drawHeatmap(edges);
      state.theories = theories;
      listTheories(theories);
      selectTheory(Math.min(state.theory, theories.theories.length - 1));
    } catch (err) {
      $("post-summary").textContent = err.message;
    }
  }

  function heatColor(p) {
    // white -> accent blue, perceptually even enough for a probability
    const lo = [247, 249, 253], hi = [31, 58, 138];
    const t = Math.pow(Math.max(0, Math.min(1, p)), 0.8);
    const c = lo.map((l, i) => Math.round(l + (hi[i] - l) * t));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function drawHeatmap(view) {
    const names = view.variables, m = view.edge_marginals, d = names.length;
    const labelW = Math.min(110, 12 + 7.2 * Math.max(...names.map((n) => n.length)));
    const cell = Math.max(18, Math.min(42, Math.floor(440 / d)));
    const top = labelW, left = labelW, legendH = 44;
    const width = left + d * cell + 8, height = top + d * cell + legendH;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "edge-marginal heatmap" });
    for (let j = 0; j < d; j++) {
      const x = left + j * cell + cell / 2;
      root.append(svg("text", { x, y: top - 6, transform: `rotate(-55 ${x} ${top - 6})`, "font-size": 11.5, fill: "#3b4456" }, names[j]));
    }
    for (let i = 0; i < d; i++) {
      const y = top + i * cell + cell / 2 + 4;
      root.append(svg("text", { x: left - 6, y, "text-anchor": "end", "font-size": 11.5, fill: "#3b4456" }, names[i]));
      for (let j = 0; j < d; j++) {
        const p = m[i][j];
        const rect = svg("rect", {
          class: i === j ? "diag" : "cell", x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
          rx: 2, fill: i === j ? "#eceef2" : heatColor(p), "data-parent": names[i], "data-child": names[j], "data-p": p,
        });
        if (i !== j) rect.append(svg("title", {}, `P(${names[i]} → ${names[j]} | data) = ${fmt(p, 3)}`));
        root.append(rect);
        if (i !== j && cell >= 30 && p >= 0.005) {
          root.append(svg("text", {
            x: left + j * cell + (cell - 1) / 2, y: top + i * cell + cell / 2 + 3.5, "text-anchor": "middle",
            "font-size": 10, fill: p > 0.55 ? "#ffffff" : "#3b4456", "pointer-events": "none",
          }, p >= 0.995 ? "1" : p.toFixed(2).replace(/^0/, "")));
        }
      }
    }
    // legend
    const ly = top + d * cell + 18, lw = Math.min(200, d * cell);
    const grad = svg("linearGradient", { id: "heat-grad" });
    for (let s = 0; s <= 10; s++) grad.append(svg("stop", { offset: `${s * 10}%`, "stop-color": heatColor(s / 10) }));
    const defs = svg("defs");
    defs.append(grad);
    root.append(defs);
    root.append(svg("rect", { x: left, y: ly, width: lw, height: 10, rx: 2, fill: "url(#heat-grad)", stroke: "#d5d9e0" }));
    root.append(svg("text", { x: left, y: ly + 24, "font-size": 11, fill: "#657084" }, "0"));
    root.append(svg("text", { x: left + lw, y: ly + 24, "font-size": 11, fill: "#657084", "text-anchor": "end" }, "1"));
    root.append(svg("text", { x: left + lw / 2, y: ly + 24, "font-size": 11, fill: "#657084", "text-anchor": "middle" }, "P(edge | data)"));
    const host = $("heatmap");
    clear(host);
    host.append(root);
  }

  function listTheories(view) {
    const body = document.querySelector("#theories tbody");
    clear(body);
    const wmax = Math.max(...view.theories.map((t) => t.weight));
    view.theories.forEach((t, k) => {
      const all = t.edges.map((e) => `${e.parent}→${e.child}`);
      const structure = !all.length ? "no edges"
        : all.length <= 12 ? all.join("  ") : `${all.slice(0, 12).join("  ")}  … (+${all.length - 12} more)`;
      const row = el("tr", { "data-rank": String(t.rank), title: all.join(", "), onclick: () => selectTheory(k) },
        el("td", { class: "num", text: `#${t.rank + 1}` }),
        el("td", { class: "num", text: fmt(t.weight, 4) }),
        el("td", {}, el("div", { class: "wbar", style: `width:${Math.max(2, (100 * t.weight) / wmax)}%` })),
        el("td", { class: "num", text: String(t.edges.length) }),
        el("td", { class: "structure", text: structure }));
      body.append(row);
    });
    $("theories-mass").textContent =
      `These ${view.theories.length} theories hold ${fmt(100 * view.mass, 1)}% of the posterior mass ` +
      `over ${view.n_theories.toLocaleString()} theories (${view.weighting} weights). Effect intervals are ${Math.round(100 * view.level)}% credible.`;
  }

  function layered(names, edges) {
    // a layered drawing of a DAG: layer = longest path from a source, order by parents' mean x
    const parents = Object.fromEntries(names.map((n) => [n, []]));
    for (const e of edges) parents[e.child].push(e.parent);
    const layer = {};
    const depth = (n, seen) => {
      if (layer[n] !== undefined) return layer[n];
      if (seen.has(n)) return 0;
      seen.add(n);
      layer[n] = parents[n].length ? 1 + Math.max(...parents[n].map((p) => depth(p, seen))) : 0;
      return layer[n];
    };
    names.forEach((n) => depth(n, new Set()));
    const rows = [];
    names.forEach((n) => (rows[layer[n]] = rows[layer[n]] || []).push(n));
    const pos = {};
    if (rows.length > 6) {
      // a deep, dense DAG reads better on an ellipse, in topological order
      const order = rows.flat();
      const rx = Math.max(160, 38 * order.length), ry = 0.62 * rx;
      order.forEach((n, i) => {
        const t = -Math.PI / 2 + (2 * Math.PI * i) / order.length;
        pos[n] = { x: rx * Math.cos(t), y: ry * Math.sin(t) };
      });
      return pos;
    }
    const gapX = 120, gapY = 80;
    rows.forEach((row, r) => {
      if (r > 0) {
        const bary = (n) => parents[n].length ? parents[n].reduce((s, p) => s + pos[p].x, 0) / parents[n].length : 0;
        row.sort((a, b) => bary(a) - bary(b));
      }
      row.forEach((n, i) => (pos[n] = { x: (i - (row.length - 1) / 2) * gapX, y: r * gapY }));
    });
    return pos;
  }

  function graphStyle() {
    return [
      { selector: "node", style: {
        label: "data(id)", "text-valign": "center", "text-halign": "center", "font-size": 12,
        "font-family": "system-ui, sans-serif", color: "#1c2330", shape: "round-rectangle",
        width: (n) => 22 + 7.4 * n.id().length, height: 30, "background-color": "#ffffff",
        "border-width": 1.5, "border-color": "#8a97b8",
      } },
      { selector: "edge", style: {
        width: "mapData(p, 0, 1, 1.5, 4.5)", "line-color": "#2f4fb5", "target-arrow-color": "#2f4fb5",
        "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 1.1,
        opacity: "data(opacity)",
      } },
      { selector: "edge.hover", style: { "line-color": "#f59e0b", "target-arrow-color": "#f59e0b", opacity: 1 } },
      { selector: "node.acted", style: { "background-color": "#fff4d6", "border-color": "#9a6200", "border-width": 2.5 } },
    ];
  }

  function makeGraph(container, names, edges, positions) {
    const elements = names.map((n) => ({ data: { id: n }, position: { ...positions[n] } }));
    edges.forEach((e, i) => {
      const p = e.probability === undefined ? 1 : e.probability;
      elements.push({ data: { id: `e${i}`, source: e.parent, target: e.child, p, opacity: Math.max(0.12, p), edge: e } });
    });
    return cytoscape({
      container, elements, style: graphStyle(), layout: { name: "preset", fit: true, padding: 24 },
      minZoom: 0.1, maxZoom: 1.5,
      userZoomingEnabled: false, boxSelectionEnabled: false, autoungrabify: false,
    });
  }

  function selectTheory(k) {
    const view = state.theories;
    if (!view || !view.theories.length) return;
    state.theory = k;
    const t = view.theories[k];
    document.querySelectorAll("#theories tbody tr").forEach((row, i) => row.classList.toggle("selected", i === k));
    $("graph-title").textContent = `Theory #${t.rank + 1} · weight ${fmt(t.weight, 4)}`;
    let positions = state.layouts[view.name];
    if (!positions) positions = state.layouts[view.name] = layered(view.variables, view.theories[0].edges);
    if (page.cy) page.cy.destroy();
    page.cy = makeGraph($("graph"), view.variables, t.edges, positions);
    $("graph").dataset.theory = String(t.rank);
    $("graph").dataset.edges = String(t.edges.length);
    const tip = $("edge-tip");
    tip.hidden = true;
    page.cy.on("mouseover", "edge", (evt) => {
      const edge = evt.target;
      edge.addClass("hover");
      showEdgeTip(tip, edge.data("edge"), view.level, evt.renderedPosition || edge.renderedMidpoint());
    });
    page.cy.on("mouseout", "edge", (evt) => {
      evt.target.removeClass("hover");
      tip.hidden = true;
    });
  }

  function showEdgeTip(tip, e, level, at) {
    clear(tip);
    tip.append(el("div", { class: "tip-title", text: `${e.parent} → ${e.child}` }));
    tip.append(el("div", { class: "tip-row" }, el("span", { text: "P(edge | data)" }), el("b", { text: fmt(e.probability, 3) })));
    if (e.measure) {
      const [lo, hi] = e.interval;
      tip.append(el("div", { class: "tip-row" },
        el("span", { text: e.measure === "weight" ? "effect (weight)" : "effect (strength)" }),
        el("b", { text: `${signed(e.value)}  [${fmt(lo, 2)}, ${fmt(hi, 2)}]` })));
      tip.append(el("div", { class: "tip-row muted" }, el("span", { text: `${Math.round(100 * level)}% credible interval` })));
      tip.append(el("div", { class: "tip-mech", text: e.mechanism }));
    } else {
      tip.append(el("div", { class: "tip-mech", text: "This posterior holds structures only: no mechanism." }));
    }
    tip.hidden = false;
    const box = $("graph").getBoundingClientRect();
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = `${Math.max(4, Math.min(at.x + 14, box.width - w - 4))}px`;
    tip.style.top = `${Math.max(4, Math.min(at.y + 14, box.height - h - 4))}px`;
  }

  // ---------------------------------------------------------------- ask
  function prepareAsk() {
    if (!needs("ask", "ask-denied", "ask-body", "ask questions")) return;
    const info = currentInfo();
    const examples = $("examples");
    clear(examples);
    if (!info) return;
    const vars = info.variables;
    const cat = vars.filter((v) => v.kind === "categorical");
    const cont = vars.filter((v) => v.kind !== "categorical");
    const list = [];
    if (cat.length >= 2) {
      const y = cat[cat.length - 1], x = cat[Math.floor(cat.length / 2) - (cat.length > 2 ? 1 : 0)];
      list.push(`P(${y.name}=${y.states[0]} | do(${x.name}=${x.states[0]}))`);
      list.push(`P(${x.name} ~> ${y.name})`);
    }
    if (cont.length >= 2) {
      list.push(`E[${cont[cont.length - 1].name} | do(${cont[0].name}=1)]`);
      list.push(`P(${cont[0].name} -> ${cont[1].name})`);
    }
    for (const q of list) examples.append(el("button", { type: "button", class: "chip", text: q, onclick: () => { $("query").value = q; runQuery(); } }));
    if (!$("query").value && list.length) $("query").value = list[0];
  }

  function markQueryError(query, message) {
    const echo = $("query-echo");
    clear(echo);
    let start = -1, len = 1;
    const col = /column (\d+)/.exec(message);
    if (col) start = Math.min(query.length, Math.max(0, parseInt(col[1], 10) - 1));
    else {
      const named = /'([^']+)'/.exec(message);
      if (named) {
        const re = new RegExp(`(^|[^A-Za-z0-9_])(${named[1].replace(/[.*+?^${}()|[\]\\]/g, "\\$&")})(?![A-Za-z0-9_])`);
        const hit = re.exec(query);
        if (hit) { start = hit.index + hit[1].length; len = named[1].length; }
      }
    }
    if (start < 0) echo.append(query);
    else {
      const end = Math.min(query.length, start + len);
      echo.append(query.slice(0, start));
      echo.append(el("mark", { text: query.slice(start, end) || " " }));
      echo.append(query.slice(end));
      echo.append("\n" + " ".repeat(start));
      echo.append(el("span", { class: "caret", text: "^" }));
    }
    echo.dataset.start = String(start);
    // the parser already draws its own caret line; show only its first line here
    $("query-message").textContent = message.split("\n")[0];
    $("query-error").hidden = false;
  }

  async function runQuery(evt) {
    if (evt) evt.preventDefault();
    const query = $("query").value.trim();
    if (!query) return;
    $("query-error").hidden = true;
    const button = $("ask-button");
    button.disabled = true;
    button.textContent = "Asking…";
    try {
      const answer = await api("/v1/ask", {
        method: "POST",
        body: {
          posterior: state.posterior, query,
          level: parseFloat($("level").value) || 0.9,
          draws: parseInt($("draws").value, 10) || 0,
          seed: parseInt($("seed").value, 10) || 0,
        },
      });
      showAnswer(answer);
    } catch (err) {
      $("answer").hidden = true;
      markQueryError(query, err.message);
    } finally {
      button.disabled = false;
      button.textContent = "Ask";
    }
  }

  function showAnswer(a) {
    $("answer").hidden = false;
    $("answer-query").textContent = `${a.query} · posterior ${state.posterior}`;
    $("answer-mean").textContent = fmt(a.mean, 4);
    const [lo, hi] = a.interval;
    $("answer-interval").textContent = `${Math.round(100 * a.level)}% credible interval [${fmt(lo, 4)}, ${fmt(hi, 4)}]`;
    const facts = $("answer-facts");
    clear(facts);
    const rows = [
      ["kind", a.kind],
      ["Monte-Carlo s.e.", fmt(a.mc_stderr, 4)],
      ["theories", `${a.n_theories.toLocaleString()} (${a.weighting})`],
      ["parameter draws", String(a.n_draws)],
      ["seed", a.seed === null ? "–" : String(a.seed)],
    ];
    if (a.dropped_mass > 0) rows.push(["mass dropped", fmt(a.dropped_mass, 3)]);
    for (const [k, v] of rows) facts.append(el("dt", { text: k }), el("dd", { text: v }));
    drawAnswer(a);
    const total = a.epistemic + a.aleatoric;
    const unit = a.kind === "expectation" ? "variance" : "entropy, nats";
    $("split-unit").textContent = `total ${fmt(total, 4)} (${unit})`;
    const share = total > 0 ? a.epistemic / total : 0;
    $("split-epi").style.width = `${100 * share}%`;
    $("split-ale").style.width = `${100 * (1 - share)}%`;
    $("epi-value").textContent = `${fmt(a.epistemic, 4)} (${fmt(100 * share, 1)}%)`;
    $("ale-value").textContent = `${fmt(a.aleatoric, 4)} (${fmt(100 * (1 - share), 1)}%)`;
    const body = document.querySelector("#support tbody");
    clear(body);
    for (const s of a.support) {
      body.append(el("tr", {},
        el("td", { class: s.direction === "up" ? "push-up" : "push-down", text: s.direction === "up" ? "▲ up" : "▼ down" }),
        el("td", { class: "num", text: `#${s.theory + 1}` }),
        el("td", { class: "num", text: fmt(s.weight, 4) }),
        el("td", { class: "num", text: fmt(s.value, 4) }),
        el("td", { text: s.description })));
    }
    $("support-empty").hidden = a.support.length > 0;
  }

  function drawAnswer(a) {
    const plot = $("answer-plot");
    clear(plot);
    const W = plot.clientWidth || 800, H = 120, pad = 36, axisY = 84;
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const values = a.per_theory.value || [], weights = a.per_theory.weight || [];
    const bounded = a.kind !== "expectation";
    let xmin = 0, xmax = 1;
    if (!bounded) {
      const all = values.concat(a.interval, [a.mean]);
      xmin = Math.min(...all); xmax = Math.max(...all);
      const span = xmax - xmin || Math.abs(xmax) || 1;
      xmin -= 0.15 * span; xmax += 0.15 * span;
    }
    const X = (v) => pad + ((v - xmin) / (xmax - xmin)) * (W - 2 * pad);
    // per-theory answers as a weighted histogram
    const bins = 60, mass = new Array(bins).fill(0);
    values.forEach((v, i) => {
      const b = Math.min(bins - 1, Math.max(0, Math.floor(((v - xmin) / (xmax - xmin)) * bins)));
      mass[b] += weights[i];
    });
    const mmax = Math.max(...mass, 1e-12), bw = (W - 2 * pad) / bins;
    mass.forEach((m, b) => {
      if (m <= 0) return;
      const h = Math.max(1.5, (m / mmax) * 46);
      plot.append(svg("rect", { x: pad + b * bw + 0.5, y: axisY - 18 - h, width: Math.max(1, bw - 1), height: h, fill: "#c7d0ea" }));
    });
    // axis
    plot.append(svg("line", { x1: pad, x2: W - pad, y1: axisY, y2: axisY, stroke: "#9aa3b5" }));
    const ticks = 5;
    for (let t = 0; t <= ticks; t++) {
      const v = xmin + ((xmax - xmin) * t) / ticks, x = X(v);
      plot.append(svg("line", { x1: x, x2: x, y1: axisY, y2: axisY + 4, stroke: "#9aa3b5" }));
      plot.append(svg("text", { x, y: axisY + 17, "text-anchor": "middle", "font-size": 11, fill: "#657084" }, fmt(v, 2)));
    }
    // interval and mean
    const [lo, hi] = a.interval;
    const band = svg("rect", { id: "answer-band", x: X(lo), y: axisY - 13, width: Math.max(2, X(hi) - X(lo)), height: 8, rx: 4, fill: "#2f4fb5", opacity: 0.9 });
    band.append(svg("title", {}, `${Math.round(100 * a.level)}% credible interval [${fmt(lo, 4)}, ${fmt(hi, 4)}]`));
    plot.append(band);
    plot.append(svg("circle", { cx: X(a.mean), cy: axisY - 9, r: 6, fill: "#f59e0b", stroke: "#fff", "stroke-width": 2 }));
    plot.append(svg("text", { x: X(a.mean), y: 12, "text-anchor": "middle", "font-size": 11, fill: "#1c2330", "font-weight": 600 }, `mean ${fmt(a.mean, 4)}`));
    plot.append(svg("line", { x1: X(a.mean), x2: X(a.mean), y1: 16, y2: axisY - 15, stroke: "#f59e0b", "stroke-dasharray": "3 3" }));
    plot.append(svg("text", { x: W - pad, y: 12, "text-anchor": "end", "font-size": 10.5, fill: "#8a93a6" }, "bars: answers of single theories, by weight"));
  }

  // ---------------------------------------------------------------- guard
  function posteriorName(fingerprint) {
    const p = state.posteriors.find((q) => q.fingerprint === fingerprint);
    return p ? p.name : fingerprint;
  }

  async function loadDecisions(reset) {
    if (!needs("admin", "guard-denied", "guard-body", "read the guard's decisions")) return;
    const body = document.querySelector("#decisions tbody");
    const table = $("decisions");
    const seq = (state.decisionsSeq = (state.decisionsSeq || 0) + 1);
    delete table.dataset.loaded;
    const params = new URLSearchParams({ limit: "25" });
    if (state.filter) params.set("decision", state.filter);
    if (!reset && state.olderThan) params.set("before_id", String(state.olderThan));
    let pageData;
    try {
      pageData = await api(`/v1/decisions?${params}`);
    } catch (err) {
      if (seq !== state.decisionsSeq) return;
      $("decisions-empty").hidden = false;
      $("decisions-empty").textContent = err.message;
      return;
    }
    if (seq !== state.decisionsSeq) return; // a newer request (another filter) wins
    if (reset) clear(body);
    for (const r of pageData.records) {
      const row = el("tr", { "data-id": String(r.id), "data-decision": r.decision, onclick: () => openDecision(r.id) },
        el("td", { class: "num", text: String(r.id) }),
        el("td", { class: "mono", text: r.time.slice(0, 19).replace("T", " ") }),
        el("td", { class: "mono", text: r.action }),
        el("td", { class: "mono", text: r.context || "–" }),
        el("td", {}, el("span", { class: `badge ${r.decision}`, text: r.decision })),
        el("td", { class: "num", text: fmt(r.estimate, 4) }));
      if (r.id === state.selectedDecision) row.classList.add("selected");
      body.append(row);
    }
    state.olderThan = pageData.next_before_id;
    $("older").hidden = pageData.next_before_id === null;
    $("decisions-empty").textContent = state.filter ? `No '${state.filter}' decisions.` : "No decisions yet.";
    $("decisions-empty").hidden = body.children.length > 0;
    table.dataset.loaded = state.filter || "all";
  }

  async function openDecision(id) {
    let r;
    try {
      r = await api(`/v1/decisions/${id}`);
    } catch (err) {
      $("decision").hidden = false;
      $("decision-reason").textContent = err.message;
      return;
    }
    state.selectedDecision = id;
    document.querySelectorAll("#decisions tbody tr").forEach((row) => row.classList.toggle("selected", row.dataset.id === String(id)));
    const v = r.verdict;
    $("decision").hidden = false;
    $("decision").dataset.id = String(id);
    $("decision-title").textContent = `#${r.id}  ${r.action}${r.context ? `  given ${r.context}` : ""}`;
    const badge = $("decision-badge");
    badge.className = `badge ${r.decision}`;
    badge.textContent = r.decision;
    $("decision-reason").textContent = v.reason;
    const facts = $("decision-facts");
    clear(facts);
    const rows = [
      ["time (UTC)", r.time.slice(0, 19).replace("T", " ")], ["posterior", posteriorName(r.posterior)],
      ["rule", v.rule], ["threshold", fmt(v.threshold, 4)],
      ["estimate", fmt(v.estimate, 4)], ["Monte-Carlo s.e.", fmt(v.mc_stderr, 4)],
      ["alpha", fmt(v.alpha, 3)], ["mass dropped", fmt(v.dropped_mass, 3)],
    ];
    for (const [k, val] of rows) facts.append(el("dt", { text: k }), el("dd", { text: val }));
    const rules = $("decision-rules");
    clear(rules);
    const entries = Object.entries(v.estimates || {});
    if (!entries.length) rules.append(el("span", { class: "muted", text: "No estimate: the world model could not judge this action." }));
    for (const [rule, value] of entries) {
      const fill = el("div", { class: `fill ${value > v.threshold ? "over" : "under"}`, style: `width:${Math.min(100, 100 * value)}%` });
      const track = el("div", { class: "track" }, fill, el("div", { class: "threshold", style: `left:${Math.min(100, 100 * v.threshold)}%`, title: `threshold ${v.threshold}` }));
      rules.append(el("span", { class: `rule-name${rule === v.rule ? " current" : ""}`, text: rule + (rule === v.rule ? " (decides)" : "") }), track, el("span", { class: "val", text: fmt(value, 4) }));
    }
    const pbody = document.querySelector("#principles tbody");
    clear(pbody);
    for (const [name, est] of Object.entries(v.principles || {})) {
      pbody.append(el("tr", {}, el("td", { text: name }), el("td", { class: "num", text: fmt(est.posterior_predictive, 4) }), el("td", { class: "num", text: fmt(est.bound, 4) })));
    }
    $("principles").hidden = $("principles-title").hidden = pbody.children.length === 0;
    const dbody = document.querySelector("#drivers tbody");
    clear(dbody);
    (v.drivers || []).forEach((d, i) => {
      dbody.append(el("tr", { onclick: () => drawDriver(r, i) },
        el("td", { class: "num", text: `#${d.theory + 1}` }), el("td", { text: d.why }),
        el("td", { class: "num", text: fmt(d.weight, 4) }), el("td", { class: "num", text: fmt(d.harm, 4) })));
    });
    $("decision-explain").textContent = r.explanation;
    if ((v.drivers || []).length) drawDriver(r, 0);
    else {
      if (page.driverCy) { page.driverCy.destroy(); page.driverCy = null; }
      $("driver-caption").textContent = "No theory drove this decision.";
    }
  }

  async function edgeMarginals(name) {
    // P(edge | data) of a loaded posterior, when the key may read it (ask scope); else null
    state.marginals = state.marginals || {};
    if (!(name in state.marginals)) {
      state.marginals[name] = null;
      if (state.who.scopes.includes("ask")) {
        try {
          state.marginals[name] = await api(`/v1/posteriors/${encodeURIComponent(name)}/edges`);
        } catch (err) { /* drawn without the marginals */ }
      }
    }
    return state.marginals[name];
  }

  async function drawDriver(r, i) {
    const d = r.verdict.drivers[i];
    document.querySelectorAll("#drivers tbody tr").forEach((row, k) => row.classList.toggle("selected", k === i));
    const edges = d.edges === "none" ? [] : d.edges.split(", ").map((s) => {
      const [parent, child] = s.split(" -> ");
      return { parent, child };
    });
    const info = state.posteriors.find((q) => q.fingerprint === r.posterior);
    const seq = (state.driverSeq = (state.driverSeq || 0) + 1);
    const marg = info ? await edgeMarginals(info.name) : null;
    if (seq !== state.driverSeq) return; // another driver or decision was chosen meanwhile
    if (marg) {
      const at = Object.fromEntries(marg.variables.map((n, k) => [n, k]));
      for (const e of edges) e.probability = marg.edge_marginals[at[e.parent]][at[e.child]];
    }
    const names = info ? info.variables.map((x) => x.name) : [...new Set(edges.flatMap((e) => [e.parent, e.child]))];
    if (page.driverCy) page.driverCy.destroy();
    page.driverCy = makeGraph($("driver-graph"), names, edges, layered(names, edges));
    $("driver-graph").dataset.drawn = `${r.id}:${i}`;
    const acted = new Set(actionVariables(r.action));
    page.driverCy.nodes().forEach((n) => { if (acted.has(n.id())) n.addClass("acted"); });
    $("driver-caption").textContent =
      `Theory #${d.theory + 1} (${d.why}): weight ${fmt(d.weight, 4)}, P(harm) ${fmt(d.harm, 4)}. ` +
      "Amber: the variables the action sets." +
      (marg ? " Edge opacity = P(edge | data)." : "") +
      (info ? "" : " Its posterior is no longer loaded, so only the variables on its edges are drawn.");
  }

  function actionVariables(action) {
    // the variables the action sets: do(X=1, Y=0) -> [X, Y]
    const names = [];
    const re = /([A-Za-z_][A-Za-z0-9_.]*)\s*=/g;
    let m;
    while ((m = re.exec(action))) names.push(m[1]);
    return names;
  }

  // ---------------------------------------------------------------- wiring
  function start() {
    $("key-form").addEventListener("submit", (evt) => {
      evt.preventDefault();
      const key = $("key").value.trim();
      if (!key) return showKeyError("Enter an API key.");
      signIn(key, false);
    });
    $("sign-out").addEventListener("click", () => signOut());
    for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
    $("posterior").addEventListener("change", (evt) => {
      state.posterior = evt.target.value;
      state.theory = 0;
      $("answer").hidden = true;
      $("query").value = "";
      show(state.view);
    });
    $("top-k").addEventListener("change", () => loadPosterior());
    $("ask-form").addEventListener("submit", runQuery);
    $("query").addEventListener("input", () => { $("query-error").hidden = true; });
    for (const b of document.querySelectorAll("#decision-filter button")) {
      b.addEventListener("click", () => {
        state.filter = b.dataset.decision;
        document.querySelectorAll("#decision-filter button").forEach((x) => x.classList.toggle("active", x === b));
        loadDecisions(true);
      });
    }
    $("refresh").addEventListener("click", () => loadDecisions(true));
    $("older").addEventListener("click", () => loadDecisions(false));
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) signIn(saved, true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
