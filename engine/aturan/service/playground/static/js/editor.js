// A plain <textarea> with a line-number gutter and line markers (errors, warnings, rules no
// case fired). A textarea keeps what a browser gives for free: undo, selection, the screen
// reader, and Tab moving focus on (YAML has no tabs), so keyboard-only use just works.

const KINDS = ["error", "warning", "fail", "lint", "uncovered"]; // most serious first

export class Editor {
  constructor(box, onChange) {
    this.box = box;
    this.area = box.querySelector("textarea");
    this.gutter = box.querySelector(".gutter");
    this.bands = box.querySelector(".bands");
    this.markers = new Map(); // line -> [{kind, message}]
    this.lines = 0;
    this.area.addEventListener("input", () => {
      this.render();
      onChange?.();
    });
    this.area.addEventListener("scroll", () => this.sync());
    this.area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.area.blur(); // a way out besides Tab
    });
    new ResizeObserver(() => this.sync()).observe(this.area);
    this.render();
  }

  get value() {
    return this.area.value;
  }

  set value(text) {
    this.area.value = text;
    this.area.scrollTop = 0;
    this.render();
  }

  lineHeight() {
    return parseFloat(getComputedStyle(this.area).lineHeight) || 18;
  }

  // markers: [{line, col?, kind, message}]; lines past the end are shown on the last line;
  // a marker with a column also underlines the word there
  setMarkers(markers, kinds = KINDS) {
    for (const [line, list] of this.markers) {
      const kept = list.filter((m) => !kinds.includes(m.kind));
      if (kept.length) this.markers.set(line, kept);
      else this.markers.delete(line);
    }
    for (const m of markers) {
      if (!m.line) continue;
      const list = this.markers.get(m.line) || [];
      list.push({ kind: m.kind, message: m.message, col: m.col });
      this.markers.set(m.line, list);
    }
    this.render(true);
  }

  clearMarkers(kinds = KINDS) {
    this.setMarkers([], kinds);
  }

  render(force = false) {
    const count = this.area.value.split("\n").length;
    if (count !== this.lines || force) {
      this.lines = count;
      const rows = [];
      for (let n = 1; n <= count; n++) {
        const row = document.createElement("div");
        row.className = "gl";
        row.dataset.line = String(n);
        row.textContent = String(n);
        rows.push(row);
      }
      this.gutter.replaceChildren(...rows);
      this.paintMarkers();
    }
    this.sync();
  }

  paintMarkers() {
    const height = this.lineHeight();
    const bands = [];
    for (const [line, list] of this.markers) {
      const shown = Math.min(line, this.lines);
      const kind = KINDS.find((k) => list.some((m) => m.kind === k));
      const row = this.gutter.children[shown - 1];
      const text = list.map((m) => m.message).join("\n");
      if (row) {
        row.classList.add(`m-${kind}`);
        row.dataset.marker = kind;
        row.dataset.testid = `marker-${kind}`;
        row.title = text;
      }
      const band = document.createElement("div");
      band.className = `band b-${kind}`;
      band.style.top = `${(shown - 1) * height}px`;
      band.style.height = `${height}px`;
      bands.push(band);
      for (const m of list.filter((m) => m.col && m.kind === kind)) {
        const text = this.area.value.split("\n")[shown - 1] || "";
        const rest = text.slice(m.col - 1);
        const close = { "{": "}", "[": "]" }[rest[0]];
        const word = close && rest.includes(close) ? rest.indexOf(close) + 1 // a flow mapping
          : /^[^\s,:{}\[\]]*/.exec(rest)[0].length || 1;
        const squiggle = document.createElement("div");
        squiggle.className = `squiggle s-${kind}`;
        squiggle.dataset.testid = "squiggle";
        squiggle.dataset.line = String(shown);
        squiggle.dataset.col = String(m.col);
        squiggle.style.top = `${shown * height - 3}px`;
        squiggle.style.left = `calc(8px + ${m.col - 1}ch)`;
        squiggle.style.width = `${word}ch`;
        bands.push(squiggle);
      }
    }
    this.bands.replaceChildren(...bands);
  }

  sync() {
    const top = this.area.scrollTop;
    this.gutter.scrollTop = top;
    this.bands.style.transform = `translate(${-this.area.scrollLeft}px, ${-top}px)`;
  }

  // put the cursor at a line and column and bring it into view
  goTo(line, col = 1) {
    const rows = this.area.value.split("\n");
    const n = Math.min(Math.max(line, 1), rows.length);
    let offset = 0;
    for (let k = 0; k < n - 1; k++) offset += rows[k].length + 1;
    const at = offset + Math.min(Math.max(col - 1, 0), rows[n - 1].length);
    this.area.focus();
    this.area.setSelectionRange(at, at);
    const height = this.lineHeight();
    const want = (line - 1) * height;
    if (want < this.area.scrollTop || want > this.area.scrollTop + this.area.clientHeight - height) {
      this.area.scrollTop = Math.max(0, want - this.area.clientHeight / 3);
    }
    this.sync();
  }
}

// JSON pointer -> 1-based line of its value (object members: the line of their key), read
// from the text as written, so a facts error found by pointer is marked on its line. Stops
// quietly at the first syntax error (the server reports that one with its own line).
export function pointerLines(text) {
  const lines = new Map();
  let i = 0;
  let line = 1;
  const space = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) {
      if (text[i] === "\n") line++;
      i++;
    }
  };
  const string = () => {
    let out = "";
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") {
        out += text[i + 1] === "u" ? String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)) : text[i + 1];
        i += text[i + 1] === "u" ? 6 : 2;
      } else {
        if (text[i] === "\n") line++;
        out += text[i++];
      }
    }
    i++;
    return out;
  };
  const token = (name) => name.replaceAll("~", "~0").replaceAll("/", "~1");
  const value = (pointer, at) => {
    space();
    lines.set(pointer || "/", at ?? line);
    const c = text[i];
    if (c === "{") {
      i++;
      space();
      if (text[i] === "}") return i++;
      for (;;) {
        space();
        if (text[i] !== '"') throw new Error("key");
        const keyLine = line;
        const key = string();
        space();
        if (text[i++] !== ":") throw new Error(":");
        value(`${pointer}/${token(key)}`, keyLine);
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return; }
        throw new Error("}");
      }
    }
    if (c === "[") {
      i++;
      space();
      if (text[i] === "]") return i++;
      for (let n = 0; ; n++) {
        value(`${pointer}/${n}`);
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return; }
        throw new Error("]");
      }
    }
    if (c === '"') return string();
    const match = /^[^,\]}\s]+/.exec(text.slice(i, i + 400));
    if (!match) throw new Error("value");
    i += match[0].length;
  };
  try {
    value("");
  } catch {
    // partial map: enough for the pointers before the syntax error
  }
  return lines;
}

// the line of a pointer, or of its nearest ancestor that was written
export function lineOf(lines, pointer) {
  let probe = pointer || "/";
  while (probe) {
    if (lines.has(probe)) return lines.get(probe);
    probe = probe.includes("/") ? probe.slice(0, probe.lastIndexOf("/")) : "";
  }
  return lines.get("/") || 1;
}
