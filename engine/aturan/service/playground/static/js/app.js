// The playground page: three editors, the decision, and four tools (why-not, cases, lint,
// diff), all answered by POST /v1/playground/* on a ruleset of the page's own: the served
// rulesets are never replaced. Evaluation is live (debounced) and on Ctrl+Enter.

import { Editor, lineOf, pointerLines } from "./editor.js";
import { h, renderCases, renderDecision, renderDiagnostics, renderDiff, renderLint, renderWhyNot } from "./render.js";
import { fromFragment, restore, save, shareUrl } from "./state.js";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 400;
const TABS = ["why-not", "cases", "lint", "diff"];

const page = { boot: null, rules: [], decision: null, tab: "why-not", sampleIndex: 0 };
const diagnostics = new Map(); // group (evaluate | why-not | cases | lint | diff | sample) -> entries
const timers = {};

const editors = {
  ruleset: new Editor($("ruleset-box"), () => edited("ruleset")),
  facts: new Editor($("facts-box"), () => edited("facts")),
  cases: new Editor($("cases-box"), () => edited("cases")),
};

function later(name, ms, job) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(job, ms);
}

function setStatus(text, kind = "ok") {
  const status = $("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

async function api(job, payload, signal) {
  const response = await fetch(`/v1/playground/${job}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload), signal,
  });
  let body;
  try {
    body = await response.json();
  } catch {
    body = { errors: [{ source: "request", pointer: "/", code: "bad-response", message: `HTTP ${response.status}` }] };
  }
  return { ok: response.ok, status: response.status, body };
}

// one request per kind in flight: a newer one aborts the older, an older answer is ignored
const inflight = {};
async function call(job, payload) {
  inflight[job]?.abort();
  const controller = new AbortController();
  inflight[job] = controller;
  document.body.classList.add("busy");
  try {
    const result = await api(job, payload, controller.signal);
    return inflight[job] === controller ? result : null;
  } catch (error) {
    if (error.name === "AbortError") return null;
    return { ok: false, status: 0, body: { errors: [{ source: "request", pointer: "/", code: "network", message: String(error.message || error) }] } };
  } finally {
    if (inflight[job] === controller) delete inflight[job];
    if (!Object.keys(inflight).length) document.body.classList.remove("busy");
  }
}

// ---- diagnostics: one list, markers in whichever editor each is about ----

function setDiagnostics(group, entries) {
  diagnostics.set(group, entries || []);
  const seen = new Set();
  const all = [...diagnostics.values()].flat().filter((e) => {
    const key = [e.source, e.line, e.col, e.pointer, e.code, e.message].join("\u0000");
    return !seen.has(key) && seen.add(key);
  });
  renderDiagnostics($("diagnostics"), all, jump);
  const facts = pointerLines(editors.facts.value);
  const marks = { ruleset: [], facts: [], cases: [] };
  for (const e of all) {
    if (!(e.source in marks)) continue;
    const line = e.line || (e.source === "facts" ? lineOf(facts, e.pointer) : null);
    if (line) {
      marks[e.source].push({ line, col: e.line ? e.col : null, kind: e.severity === "warning" ? "warning" : "error",
                             message: `${e.code}: ${e.message}` });
    }
  }
  for (const [name, list] of Object.entries(marks)) editors[name].setMarkers(list, ["error", "warning"]);
}

function jump(entry) {
  const editor = editors[entry.source];
  if (!editor) return;
  if (entry.source === "cases") selectTab("cases");
  const line = entry.line || (entry.source === "facts" ? lineOf(pointerLines(editor.value), entry.pointer) : 1);
  editor.goTo(line, entry.col || 1);
}

function goToRule(line) {
  editors.ruleset.goTo(line, 1);
}

// ---- evaluation ----

function setRules(summary) {
  $("ruleset-key").textContent = summary.key;
  page.rules = summary.rules;
  const select = $("whynot-rule");
  const keep = select.value || page.pendingRule || "";
  select.replaceChildren(h("option", { value: "" }, "— choose a rule —"),
    ...summary.rules.map((r) => h("option", { value: r.id }, `${r.id} (line ${r.line})`)));
  if (summary.rules.some((r) => r.id === keep)) select.value = keep;
  page.pendingRule = "";
}

async function evaluate() {
  clearTimeout(timers.evaluate);
  setStatus("Evaluating…", "busy");
  const result = await call("decide", { ruleset: editors.ruleset.value, facts: editors.facts.value });
  if (!result) return;
  const root = $("decision");
  if (result.ok) {
    page.decision = result.body.decision;
    setRules(result.body.ruleset);
    setDiagnostics("evaluate", result.body.warnings);
    renderDecision(root, page.decision, $("lang-select").value, goToRule);
    setStatus(`${page.decision.outcome} · up to date`, "ok");
    if (page.tab === "why-not" && $("whynot-rule").value) whyNot();
  } else {
    page.decision = null;
    setDiagnostics("evaluate", result.body.errors);
    renderDecision(root, null, $("lang-select").value, goToRule);
    const n = result.body.errors.length;
    setStatus(`${n} problem${n === 1 ? "" : "s"}: no decision`, "error");
  }
  persist();
}

async function tool(job, payload, target, render) {
  target.setAttribute("aria-busy", "true");
  const result = await call(job, payload);
  target.removeAttribute("aria-busy");
  if (!result) return null;
  target.classList.remove("stale");
  if (result.ok) {
    setDiagnostics(job, []);
    render(result.body);
    return result.body;
  }
  setDiagnostics(job, result.body.errors);
  target.replaceChildren(h("p", { class: "bad", testid: `${job}-error` },
    result.body.errors.map((e) => `${e.code}: ${e.message}`).join("\n")));
  return null;
}

async function whyNot() {
  const rule = $("whynot-rule").value;
  if (!rule) return;
  await tool("why-not", { ruleset: editors.ruleset.value, facts: editors.facts.value, rule }, $("whynot-result"),
    (body) => renderWhyNot($("whynot-result"), body, goToRule));
}

async function runCases() {
  editors.cases.clearMarkers(["fail"]);
  const body = await tool("test", { ruleset: editors.ruleset.value, cases: editors.cases.value }, $("cases-result"),
    (b) => renderCases($("cases-result"), b, { onLine: goToRule, onFacts: loadFacts }));
  editors.ruleset.setMarkers(body ? body.coverage.uncovered.map((u) => ({
    line: u.line, kind: "uncovered", message: `never fired by any case: ${u.rule}` })) : [], ["uncovered"]);
  if (body) {
    editors.cases.setMarkers(body.cases.filter((c) => !c.passed).map((c) => ({
      line: c.line, kind: "fail", message: `FAIL ${c.name}: ${c.mismatches.join("; ")}` })), ["fail"]);
    setStatus(`cases: ${body.summary.passed} passed, ${body.summary.failed} failed`, body.summary.failed ? "error" : "ok");
  }
}

async function runLint() {
  const body = await tool("lint", { ruleset: editors.ruleset.value }, $("lint-result"),
    (b) => renderLint($("lint-result"), b, { onLine: goToRule, onWitness: loadFacts }));
  editors.ruleset.setMarkers(body ? body.findings.filter((f) => !f.silenced).map((f) => ({
    line: f.line, kind: "lint", message: `${f.code}: ${f.message}` })) : [], ["lint"]);
  if (body) setStatus(`lint: ${body.summary.errors} error(s), ${body.summary.warnings} warning(s)`, body.summary.errors ? "error" : "ok");
}

async function runDiff() {
  const body = await tool("diff", {
    ruleset: editors.ruleset.value, against: $("diff-against").value,
    orders: Number($("diff-orders").value) || 300, seed: Number($("diff-seed").value) || 0,
  }, $("diff-result"), (b) => renderDiff($("diff-result"), b, (example) => loadFacts(example.facts)));
  if (body) setStatus(`diff: ${body.changed} of ${body.orders} orders change`, "ok");
}

async function sampleOrder() {
  const result = await call("sample", { ruleset: editors.ruleset.value, seed: Number($("sample-seed").value) || 0, index: page.sampleIndex });
  if (!result) return;
  if (!result.ok) {
    setDiagnostics("sample", result.body.errors);
    setStatus("cannot sample an order: the ruleset has problems", "error");
    return;
  }
  setDiagnostics("sample", []);
  page.sampleIndex += 1;
  loadFacts(result.body.facts);
}

function loadFacts(facts) {
  editors.facts.value = typeof facts === "string" ? facts : `${JSON.stringify(facts, null, 2)}\n`;
  evaluate();
}

function runActive() {
  evaluate();
  if (page.tab === "cases") runCases();
  else if (page.tab === "lint") runLint();
  else if (page.tab === "diff") runDiff();
}

function edited(which) {
  if (which === "ruleset") {
    editors.ruleset.clearMarkers(["uncovered", "lint"]);
    for (const id of ["cases-result", "lint-result", "diff-result"]) $(id).classList.add("stale");
  }
  if (which !== "cases") later("evaluate", DEBOUNCE_MS, evaluate);
  persist();
}

// ---- tabs ----

function selectTab(name, focus = false) {
  page.tab = name;
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    const selected = tab === name;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  persist();
}

// ---- state: localStorage and the share link ----

function snapshot() {
  return {
    ruleset: editors.ruleset.value, facts: editors.facts.value, cases: editors.cases.value,
    lang: $("lang-select").value, tab: page.tab, rule: $("whynot-rule").value,
    base: $("ruleset-select").value, example: $("facts-select").value,
    against: $("diff-against").value, orders: $("diff-orders").value, seed: $("diff-seed").value,
    sampleSeed: $("sample-seed").value,
  };
}

function applyState(s) {
  editors.ruleset.value = s.ruleset ?? "";
  editors.facts.value = s.facts ?? "";
  editors.cases.value = s.cases ?? "";
  const set = (id, value) => { if (value !== undefined && value !== null && value !== "") $(id).value = value; };
  set("lang-select", s.lang);
  set("ruleset-select", s.base);
  set("facts-select", s.example);
  set("diff-against", s.against);
  set("diff-orders", s.orders);
  set("diff-seed", s.seed);
  set("sample-seed", s.sampleSeed);
  page.pendingRule = s.rule || "";
  selectTab(TABS.includes(s.tab) ? s.tab : "why-not");
}

function persist() {
  later("persist", 250, async () => {
    const state = snapshot();
    save(state);
    $("share-link").value = await shareUrl(state);
  });
}

async function copyLink() {
  clearTimeout(timers.persist);
  const state = snapshot();
  save(state);
  const url = await shareUrl(state);
  const box = $("share-link");
  box.value = url;
  box.dataset.length = String(url.length);
  try {
    await navigator.clipboard.writeText(url);
    setStatus(`Link copied (${url.length.toLocaleString()} characters)`, "ok");
  } catch {
    box.select();
    setStatus("Link ready: copy it from the Share link box", "ok");
  }
  box.dataset.ready = "true";
}

// ---- start ----

function loadRuleset(key) {
  const entry = page.boot.rulesets.find((r) => r.key === key);
  if (!entry || entry.text === null) {
    setStatus(`cannot load ${key}: its file is not readable`, "error");
    return;
  }
  editors.ruleset.value = entry.text;
  editors.cases.value = entry.cases || "";
  $("diff-against").value = key;
  for (const id of ["cases-result", "lint-result", "diff-result", "whynot-result"]) $(id).replaceChildren();
  editors.ruleset.clearMarkers(["uncovered", "lint"]);
  evaluate();
}

function platformOf(entry) {
  return entry.extends ? entry.extends.split("@")[0] : entry.name;
}

function defaults() {
  const rulesets = page.boot.rulesets;
  const entry = rulesets.find((r) => r.key === "tiktok_shop@1.0.0") || rulesets[0];
  const example = page.boot.examples.find((e) => e.platform === platformOf(entry)) || page.boot.examples[0];
  return { ruleset: entry.text, cases: entry.cases || "", facts: example ? example.text : "", base: entry.key,
           example: example ? example.id : "", against: entry.key };
}

async function start() {
  const response = await fetch("/v1/playground/bootstrap");
  page.boot = await response.json();
  const versions = page.boot.rulesets.map((r) => h("option", { value: r.key },
    `${r.key}${r.served ? "" : " (file changed since it was loaded)"}`));
  $("ruleset-select").replaceChildren(...versions);
  $("diff-against").replaceChildren(...versions.map((o) => o.cloneNode(true)));
  $("facts-select").replaceChildren(...page.boot.examples.map((e) => h("option", { value: e.id }, e.label)));

  let state = null;
  try {
    state = await fromFragment();
  } catch {
    setStatus("The share link is damaged; starting from your last state", "error");
  }
  applyState(state || restore() || defaults());
  save(snapshot()); // a shared state is kept at once: a reload straight away still has it
  addEventListener("pagehide", () => save(snapshot())); // edits of the last moments too

  $("ruleset-load").addEventListener("click", () => loadRuleset($("ruleset-select").value));
  $("facts-load").addEventListener("click", () => {
    const example = page.boot.examples.find((e) => e.id === $("facts-select").value);
    if (example) loadFacts(example.text);
  });
  $("sample-order").addEventListener("click", sampleOrder);
  $("sample-seed").addEventListener("change", () => { page.sampleIndex = 0; persist(); });
  $("lang-select").addEventListener("change", () => {
    renderDecision($("decision"), page.decision, $("lang-select").value, goToRule);
    persist();
  });
  $("run").addEventListener("click", runActive);
  $("copy-link").addEventListener("click", copyLink);
  $("whynot-rule").addEventListener("change", () => { whyNot(); persist(); });
  $("run-why-not").addEventListener("click", whyNot);
  $("run-cases").addEventListener("click", runCases);
  $("run-lint").addEventListener("click", runLint);
  $("run-diff").addEventListener("click", runDiff);
  for (const id of ["diff-against", "diff-orders", "diff-seed"]) $(id).addEventListener("change", persist);
  for (const tab of TABS) $(`tab-${tab}`).addEventListener("click", () => selectTab(tab));
  document.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    selectTab(TABS[(TABS.indexOf(page.tab) + step + TABS.length) % TABS.length], true);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      runActive();
    }
  });
  document.body.dataset.ready = "true";
  await evaluate();
}

start().catch((error) => setStatus(`The playground could not start: ${error.message}`, "error"));
