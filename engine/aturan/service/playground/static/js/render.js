// What the results look like. Every text from a request or a ruleset goes into the page as
// text (textContent), never as markup: a message with "<script>" in it shows those characters.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "testid") node.dataset.testid = value;
    else if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else if (key.startsWith("data-")) node.setAttribute(key, String(value));
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const WORDS = {
  en: { outcome: "Outcome", refund: "Refund", penalties: "Penalties", steps: "Next steps",
        why: "Why", none: "none", to: "to", days: "business days", due: "due by",
        decided: "decided by", also: "also matched", overridden: "overridden", by: "by",
        priority: "priority", noEta: "no published refund time", points: "points" },
  id: { outcome: "Hasil", refund: "Pengembalian dana", penalties: "Sanksi", steps: "Langkah berikutnya",
        why: "Alasan", none: "tidak ada", to: "ke", days: "hari kerja", due: "paling lambat",
        decided: "diputuskan oleh", also: "juga cocok", overridden: "dikalahkan", by: "oleh",
        priority: "prioritas", noEta: "waktu pengembalian tidak dipublikasikan", points: "poin" },
};

export function words(lang) {
  return WORDS[lang] || WORDS.en;
}

export function rupiah(amount) {
  return `Rp${String(amount).replace(/\B(?=(\d{3})+(?!\d))/g, ".")}`;
}

export function show(value) {
  if (value === null || value === undefined) return "absent";
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function lineButton(file, line, onLine, label) {
  return h("button", { type: "button", class: "link", testid: "goto-line", "data-line": line,
                       onclick: () => onLine(line) }, label || `${file}:${line}`);
}

function conditionsTable(because, testid = "condition") {
  const rows = because.map((atom) => h("tr", { testid, "data-fact": atom.fact },
    h("td", { class: "fact" }, atom.negated ? `not ${atom.fact}` : atom.fact),
    h("td", { class: "op" }, atom.op),
    h("td", { class: "expected", testid: "condition-expected" }, ["exists", "absent"].includes(atom.op) ? "" : show(atom.expected)),
    h("td", { class: "actual", testid: "condition-actual" }, show(atom.actual),
      atom.age ? h("span", { class: "age" }, ` (${atom.age})`) : null)));
  return h("table", { class: "conditions" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "fact"), h("th", { scope: "col" }, "operator"),
      h("th", { scope: "col" }, "expected"), h("th", { scope: "col" }, "actual"))),
    h("tbody", {}, rows));
}

export function renderDecision(root, decision, lang, onLine) {
  const w = words(lang);
  root.querySelector("#outcome-label").textContent = w.outcome;
  root.querySelector("#refund-label").textContent = w.refund;
  root.querySelector("#penalties-label").textContent = w.penalties;
  root.querySelector("#steps-label").textContent = w.steps;
  root.querySelector("#why-label").textContent = w.why;
  const outcome = root.querySelector("#decision-outcome");
  outcome.textContent = decision ? decision.outcome : "–";
  outcome.dataset.outcome = decision ? decision.outcome : "";
  root.classList.toggle("stale", !decision);
  if (!decision) return;
  const ref = decision.ruleset;
  root.querySelector("#decision-ruleset").textContent =
    `${decision.order_id} · ${ref.name}@${ref.version}${ref.extends ? ` over ${ref.extends.name}@${ref.extends.version}` : ""}`;
  const refund = decision.refund;
  root.querySelector("#decision-refund").textContent = refund
    ? `${rupiah(refund.amount)} ${w.to} ${refund.destination}` + (refund.eta
      ? `, ${refund.eta.min_business_days}–${refund.eta.max_business_days} ${w.days}, ${w.due} ${refund.eta.due_by}`
      : `, ${w.noEta}`)
    : w.none;
  root.querySelector("#decision-penalties").textContent = decision.penalties.length
    ? decision.penalties.map((p) => `${p.party}: ${p.code}` + (p.points === null ? "" : ` (${p.points} ${w.points})`)).join("; ")
    : w.none;
  root.querySelector("#decision-next-steps").textContent = decision.next_steps.join(", ") || w.none;
  const items = decision.explanation.map((item, i) => h("li", { testid: "explanation-item", "data-rule": item.rule },
    h("div", { class: "item-head" },
      h("span", { class: "role" }, i === 0 ? w.decided : w.also), " ",
      h("strong", {}, item.rule), ` (${w.priority} ${item.priority}) `,
      item.source.line ? lineButton(item.source.file, item.source.line, onLine) : null),
    h("p", { class: "message", testid: "explanation-message", lang }, item.message[lang] || Object.values(item.message)[0] || ""),
    item.because.length ? conditionsTable(item.because) : null,
    item.citation ? h("p", { class: "citation" }, [item.citation.publisher, item.citation.title].filter(Boolean).join(": ")) : null));
  root.querySelector("#decision-explanation").replaceChildren(...items);
  root.querySelector("#decision-overridden").replaceChildren(...decision.overridden.map((o) =>
    h("li", { testid: "overridden-item" }, `${w.overridden}: ${o.rule} (${o.outcome}, ${w.priority} ${o.priority}) ${w.by} ${o.by}`)));
}

export function renderDiagnostics(list, entries, onJump) {
  list.replaceChildren(...entries.map((e) => {
    const where = e.line ? `${e.source} ${e.line}:${e.col || 1}` : `${e.source} ${e.pointer}`;
    const message = e.hint && e.message.endsWith(e.hint) ? e.message.slice(0, -e.hint.length).trim() : e.message;
    return h("li", { testid: "diagnostic", class: `sev-${e.severity || "error"}`, "data-source": e.source,
                     "data-line": e.line || "", "data-code": e.code },
      h("button", { type: "button", class: "link", testid: "diagnostic-goto", onclick: () => onJump(e),
                    "aria-label": `Go to ${where}` }, where), " ",
      h("code", {}, e.code), " ", h("span", { testid: "diagnostic-message" }, message),
      e.hint ? h("span", { class: "hint", testid: "diagnostic-hint" }, ` ${e.hint}`) : null);
  }));
}

function traceNode(node) {
  const mark = h("span", { class: node.holds ? "ok" : "no", "aria-label": node.holds ? "holds" : "fails" }, node.holds ? "✔" : "✘");
  if (!node.conditions) {
    const expected = ["exists", "absent"].includes(node.op) ? "" : ` ${show(node.expected)}`;
    return h("li", { testid: "whynot-atom", "data-holds": String(node.holds), "data-fact": node.fact }, mark, " ",
      h("code", {}, `${node.fact} ${node.op}${expected}`), " — actual ",
      h("code", { testid: "whynot-actual" }, show(node.actual)), node.age ? ` (${node.age})` : "",
      h("span", { class: "line" }, ` line ${node.line}`));
  }
  const title = { all: "all of", any: "any of", not: "not" }[node.op];
  return h("li", { testid: "whynot-group", "data-holds": String(node.holds) }, mark, ` ${title}:`,
    h("ul", {}, node.conditions.map(traceNode)));
}

const VERDICTS = {
  not_matched: "It did not fire: the conditions marked ✘ failed.",
  decided: "It fired and decided the outcome.",
  overridden: "It fired, but a higher-priority rule decided the outcome.",
  added: "It fired and added its penalties and next steps.",
};

export function renderWhyNot(root, report, onLine) {
  root.replaceChildren(
    h("p", { testid: "whynot-verdict", "data-fired": String(report.fired), "data-role": report.role },
      h("strong", {}, report.fired ? `Why ${report.rule}` : `Why not ${report.rule}`),
      ` (${report.ruleset}, priority ${report.priority}) `, lineButton(report.source.file, report.source.line, onLine), ": ",
      VERDICTS[report.role] || ""),
    h("ul", { class: "trace" }, traceNode(report.condition)),
    h("p", { class: "note" }, `Decision: ${report.decision.outcome} by ${report.decision.decided_by}`));
}

export function renderCases(root, body, { onLine, onFacts }) {
  const s = body.summary;
  const cov = body.coverage;
  root.replaceChildren(
    h("p", { testid: "cases-summary", class: s.failed ? "bad" : "good" }, `${s.passed} passed, ${s.failed} failed (${s.cases} cases)`),
    h("p", { testid: "coverage-summary" }, cov.summary),
    cov.uncovered.length ? h("ul", { class: "uncovered", testid: "uncovered-rules" }, cov.uncovered.map((u) =>
      h("li", { testid: "uncovered-rule", "data-rule": u.rule }, "never fired: ", h("strong", {}, u.rule), " ",
        lineButton("line", u.line, onLine, `line ${u.line}`)))) : null,
    h("ul", { class: "case-list" }, body.cases.map((c) => h("li", { testid: "case-result", "data-passed": String(c.passed), class: c.passed ? "pass" : "fail" },
      h("span", { class: "mark" }, c.passed ? "✔" : "✘"), " ", c.name, " ",
      h("button", { type: "button", class: "link", onclick: () => onFacts(c.facts), testid: "case-load-facts",
                    "aria-label": `Load the facts of case ${c.name}` }, "load facts"),
      c.passed ? null : h("pre", { class: "fail-text" }, [...c.mismatches, c.error].filter(Boolean).join("\n"))))));
}

export function renderLint(root, body, { onLine, onWitness }) {
  const s = body.summary;
  const items = body.findings.map((f, i) => h("li", { testid: "lint-finding", class: `sev-${f.severity}`, "data-code": f.code, "data-line": f.line },
    h("div", { class: "item-head", "data-silenced": String(Boolean(f.silenced)) }, h("span", { class: "sev" }, f.silenced ? "silenced" : f.severity), " ",
      h("code", {}, f.code), " ", lineButton(f.file, f.line, onLine, `line ${f.line}`)),
    h("p", {}, f.message),
    f.silenced ? h("p", { class: "note" }, `silenced: ${f.silenced}`) : null,
    f.rules.length ? h("p", { class: "note" }, "rules: " + f.rules.map((r) => r.id).join(", ")) : null,
    f.core_text.length ? h("pre", {}, "cannot hold together:\n" + f.core_text.join("\n")) : null,
    f.region_text.length ? h("pre", { class: "region" }, f.region_text.join("\n")) : null,
    f.witness ? h("p", {}, `witness ${f.witness.order.id} → ${f.decided} ${f.confirmed ? "✔ confirmed" : "✘ not confirmed"} `,
      h("button", { type: "button", testid: "load-witness", "data-index": i, onclick: () => onWitness(f.witness),
                    "aria-label": `Load the witness order of finding ${i + 1} (${f.code}) into the facts` }, "Load witness")) : null,
    f.fix ? h("p", { class: "fix" }, `fix: ${f.fix}`) : null));
  root.replaceChildren(
    h("p", { testid: "lint-summary" }, `${s.errors} error(s), ${s.warnings} warning(s), ${s.silenced} silenced`),
    h("ol", { class: "findings" }, items));
}

export function renderDiff(root, body, onCell) {
  const share = body.orders ? ` (${((100 * body.changed) / body.orders).toFixed(1)}%)` : "";
  const cells = new Map(body.cells.map((c) => [`${c.old}\u0000${c.new}`, c]));
  const olds = body.outcomes.filter((o) => body.cells.some((c) => c.old === o));
  const news = body.outcomes.filter((o) => body.cells.some((c) => c.new === o));
  const head = h("tr", {}, h("th", { scope: "col" }, "served ↓ · edited →"), news.map((n) => h("th", { scope: "col" }, n)));
  const rows = olds.map((o) => h("tr", {}, h("th", { scope: "row" }, o), news.map((n) => {
    const cell = cells.get(`${o}\u0000${n}`);
    if (!cell) return h("td", { class: "empty" }, "·");
    let next = 0;
    return h("td", { class: o === n ? "same" : "moved" }, h("button", {
      type: "button", testid: "diff-cell", "data-old": o, "data-new": n, "data-count": cell.count,
      "aria-label": `${cell.count} orders from ${o} to ${n}, ${cell.changed} changed: load one into the facts`,
      onclick: () => { onCell(cell.examples[next % cell.examples.length], cell); next++; },
    }, String(cell.count), cell.changed && o === n ? h("small", {}, ` (${cell.changed} changed)`) : null));
  })));
  root.replaceChildren(
    h("p", { testid: "diff-summary" }, `${body.old} → ${body.new}: ${body.orders} orders, ${body.changed} changed${share}, ${body.invalid} undecidable`),
    h("p", { class: "note" }, `Corpus: ${body.sample}. Click a cell to load one of its orders (changed ones first).`),
    h("table", { class: "transitions", testid: "diff-table" }, h("thead", {}, head), h("tbody", {}, rows)),
    body.by_rule.length ? h("h4", {}, "By deciding rule (served → edited)") : null,
    h("ul", { class: "by-rule" }, body.by_rule.map((r) => h("li", {}, `${r.count} × ${r.old} → ${r.new}`))));
}
