// showcase explorer: one page over the explorer's JSON API, or over data embedded in a static report.
// No library, no network: bars are plain HTML, the state lives in the URL (#r=...&p=...&s=...).
"use strict";

const EMBEDDED = window.SHOWCASE_STATIC || null;

// ---- data sources: the server's API, or the embedded data of a static report ------------------
const api = {
  async get(path) {
    const response = await fetch(path);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  },
  releases() { return this.get("api/releases"); },
  overview(id) { return this.get(`api/${encodeURIComponent(id)}/overview`); },
  explore(id, selection) {
    return this.get(`api/${encodeURIComponent(id)}/explore?s=${encodeURIComponent(JSON.stringify(selection))}`);
  },
  files(id) { return this.get(`api/${encodeURIComponent(id)}/files`); },
  quality() { return this.get("api/quality"); },
};
const source = EMBEDDED ? window.ShowcaseStatic(EMBEDDED) : api;

// ---- state, kept in the URL so that a view can be shared and reloaded -------------------------
const state = { release: null, page: "explore", selection: {}, shown: null, other: null, history: [], focus: null };

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  state.release = params.get("r") || state.release;
  state.page = params.get("p") || state.page;
  state.other = params.get("o") || null;
  try { state.selection = JSON.parse(params.get("s") || "{}"); } catch (e) { state.selection = {}; }
  try { state.shown = params.get("c") ? JSON.parse(params.get("c")) : null; } catch (e) { state.shown = null; }
}

function writeHash() {
  const params = new URLSearchParams();
  params.set("r", state.release);
  params.set("p", state.page);
  if (Object.keys(state.selection).length) params.set("s", JSON.stringify(state.selection));
  if (state.shown) params.set("c", JSON.stringify(state.shown));
  if (state.other) params.set("o", state.other);
  const hash = "#" + params.toString();
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

// ---- helpers ----------------------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en"));
// A name or value from the data, isolated in running text: a right-to-left override in it
// (U+202E) must not reverse the words and numbers around it ("24 released" shown as "42").
function iso(text) {
  return `\u2068${visible(text)}\u2069`;
}

// A name or value as it can be told apart on screen: edge spaces as "␠", invisible and control
// characters as \uXXXX ("x", " x" and "x\u200b" are three values that would look alike).
function visible(text) {
  return String(text)
    .replace(/^ +| +$/g, (spaces) => "\u2420".repeat(spaces.length))
    .replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
function showError(error) {
  const box = el("p", { class: "warning", role: "alert" }, String(error.message || error));
  document.querySelector(".page.active")?.prepend(box);
}

// ---- selection --------------------------------------------------------------------------------
function toggle(column, value, focus = null) {
  state.focus = focus;
  state.history.push(JSON.stringify(state.selection));
  const values = new Set(state.selection[column] || []);
  values.has(value) ? values.delete(value) : values.add(value);
  if (values.size) state.selection[column] = [...values].sort();
  else delete state.selection[column];
  refresh();
}

function chips() {
  const box = $("chips");
  box.replaceChildren();
  for (const [column, values] of Object.entries(state.selection)) {
    for (const value of values) {
      box.append(el("button", { class: "chip", type: "button", title: "Remove", "aria-label": `Remove ${iso(column)}: ${iso(value)}`,
        onclick: () => toggle(column, value) }, `${iso(column)}: ${iso(value)}`));
    }
  }
}

// ---- pages ------------------------------------------------------------------------------------
let overviewCache = {};

async function renderOverview(stale) {
  const info = await overviewOf(state.release);
  if (stale()) return;
  const page = $("overview");
  const rows = [
    ["Protection", info.mechanism === "differential-privacy"
      ? `differential privacy, ε = ${info.epsilon}, δ = ${Number(info.delta).toExponential(2)}`
      : info.resolution ? `k-anonymity, k = ${info.resolution}` : info.mechanism || "–"],
    ["Longest reported combination", info.reporting_length ?? "–"],
    ["Records (protected count)", fmt(info.protected_records)],
    ["Synthetic records", fmt(info.synthetic_records)],
  ];
  const facts = el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
  page.replaceChildren(
    el("h2", {}, "What this release is"),
    info.seeded ? el("p", { class: "warning" }, "This release was seeded for testing: do not publish it.") : "",
    facts,
    el("h3", {}, "The guarantee, in words"),
    el("p", { class: "help" }, info.guarantee || "–"),
    info.synthesis_guarantee ? el("p", { class: "help" }, "Synthetic records: ", info.synthesis_guarantee) : "",
    el("h3", {}, "What was left out, and why"),
    el("ul", { class: "help" }, ...(info.left_out || []).map((line) => el("li", {}, line))),
    el("h3", {}, "Values of each column (synthetic records)"),
    el("div", { id: "distributions", class: "charts-grid" }),
  );
  const answer = await source.explore(state.release, {});
  if (stale()) return;
  const box = page.querySelector("#distributions");
  for (const column of info.columns) box.append(chart(column, answer.columns[column.name], false, 8));
}

async function overviewOf(id) {
  if (!overviewCache[id]) overviewCache[id] = await source.overview(id);
  return overviewCache[id];
}

function chart(column, bars, clickable = true, limit = Infinity) {
  const selected = new Set(state.selection[column.name] || []);
  const shown = bars.filter((b) => b.synthetic > 0 || (b.aggregate || 0) > 0 || selected.has(b.value))
    .sort((a, b) => b.best - a.best || (a.value < b.value ? -1 : 1)).slice(0, limit);
  const top = Math.max(1, ...shown.map((b) => Math.max(b.synthetic, b.high ?? b.aggregate ?? 0)));
  const box = el("div", { class: "chart", "data-column": column.name },
    el("h3", {}, el("bdi", {}, visible(column.name)), " ", el("small", {}, [column.side, column.multi_value ? "several values per record" : ""].filter(Boolean).join(" · "))));
  for (const bar of shown) {
    const track = el("div", { class: "track" },
      el("div", { class: "synthetic", style: `width:${(100 * bar.synthetic) / top}%`, title: `synthetic: ${fmt(bar.synthetic)}` }));
    if (bar.aggregate !== null && bar.aggregate !== undefined) {
      track.append(el("div", { class: "aggregate", style: `width:${(100 * bar.aggregate) / top}%`, title: `released: ${fmt(bar.aggregate)}` }));
      if (bar.high > bar.low) {
        track.append(el("div", { class: "range", style: `left:${(100 * Math.max(0, bar.low)) / top}%;width:${(100 * (bar.high - Math.max(0, bar.low))) / top}%`, title: `95 % range ${fmt(bar.low)}–${fmt(bar.high)}` }));
      }
    }
    track.setAttribute("aria-hidden", "true");
    const best = el("div", { class: "best" }, fmt(bar.best), " ", el("small", {}, bar.best_from === "aggregate" ? "released" : "synthetic"));
    const row = el("div", {
      class: "bar" + (selected.has(bar.value) ? " selected" : ""), "data-value": bar.value,
      "data-synthetic": bar.synthetic, "data-aggregate": bar.aggregate ?? "",
      title: `${iso(column.name)} = ${iso(bar.value)}`,
    }, el("span", { class: "label" }, visible(bar.value)), track, best);
    if (clickable) operable(row, column.name, bar, selected.has(bar.value));
    box.append(row);
  }
  if (!shown.length) box.append(el("p", { class: "help" }, "No record matches the other columns' selection."));
  return box;
}

// A bar row as a toggle button for keyboards and screen readers: Enter or Space selects, and the
// focus comes back to the same bar once the charts are drawn again.
function operable(row, column, bar, pressed) {
  const released = bar.aggregate === null || bar.aggregate === undefined ? "no released count" : `released ${fmt(bar.aggregate)}`;
  row.setAttribute("role", "button");
  row.setAttribute("tabindex", "0");
  row.setAttribute("aria-pressed", pressed ? "true" : "false");
  row.setAttribute("aria-label", `${iso(column)} = ${iso(bar.value)}: synthetic ${fmt(bar.synthetic)}, ${released}`);
  row.addEventListener("click", () => toggle(column, bar.value));
  row.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    event.preventDefault();
    toggle(column, bar.value, { column, value: bar.value });
  });
}

function restoreFocus() {
  if (!state.focus) return;
  const { column, value } = state.focus;
  state.focus = null;
  const rows = document.querySelectorAll(`.page.active .chart[data-column="${CSS.escape(column)}"] .bar`);
  for (const row of rows) if (row.dataset.value === value) { row.focus(); return; }
}

function rangeWords(kind, low, high) {
  if (!(high > low)) return "";
  if (kind === "dp") return ` (95 % range ${fmt(Math.max(0, low))}–${fmt(high)}: noise was added for privacy)`;
  return ` (the true count is ${fmt(low)}–${fmt(high)}: counts are rounded down to a multiple of k)`;
}

function partWords(part) {
  const what = part.attributes.map(([name, value]) => `${iso(name)} = ${iso(value)}`).join(" and ");
  if (part.count === null) return `${what}: fewer than ${fmt(part.high + 1)} (not reported)`;
  return `${what}: ${fmt(part.count)} released`;
}

function trustSentence(answer) {
  // The released count of the whole selection: the bar of a selected value in a column where it is the only one.
  const entries = Object.entries(state.selection);
  if (!entries.length) return [`${fmt(answer.total)} synthetic records in all. Click bars to select.`];
  for (const [column, values] of entries) {
    if (values.length !== 1 || !answer.columns[column]) continue;
    const bar = answer.columns[column].find((b) => b.value === values[0]);
    if (bar && bar.aggregate !== null && bar.aggregate !== undefined) {
      return [`Best estimate: ${fmt(bar.aggregate)} records, the released count${rangeWords(answer.interval, bar.low, bar.high)}. ` +
        `The synthetic records say ${fmt(answer.total)}; trust the released count.`];
    }
  }
  const lines = [`Best estimate: ${fmt(answer.total)} records, from the synthetic records. ` +
    "No count was released for this whole combination, so it is a model's estimate: read it as a rough size, not an exact number."];
  if (answer.parts && answer.parts.length) {
    const smallest = answer.parts[0];
    lines.push(`The released counts of its parts bound it: at most ${fmt(Math.max(0, smallest.high))} ` +
      `(${partWords(smallest)}${answer.interval === "dp" && smallest.count !== null ? ", upper end of its 95 % range" : ""}).`);
  }
  return lines;
}

async function renderExplore(stale) {
  const info = await overviewOf(state.release);
  const answer = await source.explore(state.release, state.selection);
  if (stale()) return; // a newer selection is being drawn: never draw an older answer over it
  const shown = state.shown || info.columns.map((c) => c.name);
  $("total").replaceChildren(...trustSentence(answer).map((line, i) => el(i ? "span" : "b", {}, line, " ")));
  chips();
  // the column picker, grouped by side (victim / perpetrator) when the release is linked
  const picker = $("columns");
  picker.replaceChildren();
  const sides = [...new Set(info.columns.map((c) => c.side))];
  for (const side of sides) {
    const group = el("div", { class: "group" }, el("b", {}, side || "columns"), " ");
    for (const column of info.columns.filter((c) => c.side === side)) {
      const box = el("input", { type: "checkbox", "data-column": column.name });
      box.checked = shown.includes(column.name);
      box.addEventListener("change", () => {
        const now = new Set(state.shown || info.columns.map((c) => c.name));
        box.checked ? now.add(column.name) : now.delete(column.name);
        state.shown = info.columns.map((c) => c.name).filter((n) => now.has(n));
        refresh();
      });
      group.append(el("label", {}, box, column.name), " ");
    }
    picker.append(group);
  }
  const charts = $("charts");
  charts.replaceChildren(...info.columns.filter((c) => shown.includes(c.name)).map((c) => chart(c, answer.columns[c.name])));
  restoreFocus();
}

function protectionWords(info) {
  if (info.mechanism === "differential-privacy") return `differential privacy, ε = ${info.epsilon}`;
  if (info.resolution) return `k-anonymity, k = ${info.resolution}`;
  return info.mechanism || "unprotected";
}

// One column of two releases: per value, each release's best estimate as a bar (with the released
// count's range when there is one), the numbers side by side and their difference.
function compareChart(column, mine, theirs) {
  const other = new Map((theirs || []).map((bar) => [bar.value, bar]));
  const values = new Map((mine || []).map((bar) => [bar.value, [bar, other.get(bar.value)]]));
  for (const bar of theirs || []) if (!values.has(bar.value)) values.set(bar.value, [undefined, bar]);
  const rows = [...values.values()].filter(([a, b]) => (a?.best || 0) > 0 || (b?.best || 0) > 0)
    .sort(([a1, b1], [a2, b2]) => Math.max(a2?.best || 0, b2?.best || 0) - Math.max(a1?.best || 0, b1?.best || 0));
  const top = Math.max(1, ...rows.flatMap((pair) => pair.map((bar) => Math.max(bar?.best || 0, bar?.high || 0))));
  const box = el("div", { class: "chart compared", "data-column": column.name },
    el("h3", {}, el("bdi", {}, visible(column.name)), " ", el("small", {}, column.side || "")));
  for (const [a, b] of rows) {
    const track = el("div", { class: "track pair", "aria-hidden": "true" });
    [a, b].forEach((bar, i) => {
      const cls = i ? "second" : "first";
      if (!bar) return;
      track.append(el("div", { class: cls, style: `width:${(100 * bar.best) / top}%` }));
      if (bar.best_from === "aggregate" && bar.high > bar.low) {
        track.append(el("div", { class: `range ${cls}`, style: `left:${(100 * Math.max(0, bar.low)) / top}%;width:${(100 * (bar.high - Math.max(0, bar.low))) / top}%` }));
      }
    });
    const value = (a || b).value;
    const difference = (b?.best || 0) - (a?.best || 0);
    const numbers = el("div", { class: "best" }, fmt(a?.best || 0), " · ", fmt(b?.best || 0), " ",
      el("small", {}, difference ? `(${difference > 0 ? "+" : "−"}${fmt(Math.abs(difference))})` : "(same)"));
    box.append(el("div", {
      class: "bar", "data-value": value, "data-first": a?.best || 0, "data-second": b?.best || 0,
      role: "group", "aria-label": `${iso(column.name)} = ${iso(value)}: ${state.release} ${fmt(a?.best || 0)}, ${state.other} ${fmt(b?.best || 0)}`,
    }, el("span", { class: "label", title: visible(value) }, visible(value)), track, numbers));
  }
  if (!rows.length) box.append(el("p", { class: "help" }, "No record matches the other columns' selection in either release."));
  return box;
}

async function renderCompare(stale) {
  const { releases } = await source.releases();
  if (stale()) return;
  const other = $("other");
  other.replaceChildren(...releases.filter((r) => r !== state.release).map((r) => el("option", { value: r }, r)));
  if (!state.other || state.other === state.release) state.other = other.value || null;
  other.value = state.other || "";
  const box = $("comparison");
  if (!state.other) { box.replaceChildren(el("p", { class: "help" }, "Serve two releases to compare them.")); return; }
  const [a, b] = await Promise.all([source.explore(state.release, state.selection), source.explore(state.other, state.selection)]);
  const [info, theirs] = await Promise.all([overviewOf(state.release), overviewOf(state.other)]);
  if (stale()) return;
  const shown = state.shown || info.columns.map((c) => c.name);
  const names = new Set(info.columns.map((c) => c.name));
  const columns = [...info.columns, ...theirs.columns.filter((c) => !names.has(c.name))].filter((c) => shown.includes(c.name) || !names.has(c.name));
  const chosen = Object.entries(state.selection).flatMap(([column, values]) => values.map((v) => `${column}: ${v}`));
  box.replaceChildren(
    el("p", { class: "legend" },
      el("span", { class: "key first" }), ` ${state.release} (${protectionWords(info)}): ${fmt(a.total)} records match; `,
      el("span", { class: "key second" }), ` ${state.other} (${protectionWords(theirs)}): ${fmt(b.total)}.`),
    el("p", { class: "help" }, chosen.length ? `Selection: ${chosen.join(", ")}. ` : "No selection: all records. ",
      "Each bar is a release's best estimate (its released count when it has one, with the 95 % range or rounding, else its synthetic count); ",
      "the numbers are the two estimates and the second's difference from the first."),
    el("div", { class: "compare-grid" }, ...columns.map((c) => compareChart(c, a.columns[c.name], b.columns[c.name]))));
}

async function renderDownload(stale) {
  const { files } = await source.files(state.release);
  if (stale()) return;
  const rows = files.map((f) => el("tr", {},
    el("td", {}, EMBEDDED ? f.name : el("a", { href: `download/${encodeURIComponent(state.release)}/${encodeURIComponent(f.name)}` }, f.name)),
    el("td", { class: "n" }, `${(f.bytes / 1024).toFixed(1)} KiB`), el("td", {}, f.holds)));
  $("download").replaceChildren(el("h2", {}, "Files of this release"),
    el("table", {}, el("tr", {}, el("th", {}, "file"), el("th", {}, "size"), el("th", {}, "what it holds")), ...rows));
}

const pct = (x) => (x === null || x === undefined ? "–" : `${Number(x).toFixed(1)} %`);
const num = (x, digits = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));

function meter(value, max = 100) {
  return el("div", { class: "track meter" }, el("div", { class: "aggregate", style: `width:${Math.max(0, Math.min(100, (100 * value) / max))}%` }));
}

const hidden = (text) => el("span", { class: "visually-hidden" }, text);

function qualityTable(head, rows) {
  return el("table", {}, el("tr", {}, ...head.map((h) => el("th", {}, h))), ...rows);
}

// A multi-value column's indicators (``COL:value``, each "value" or "(missing)") as one chart of COL:
// the share of records holding each value.
function groupIndicators(distributions) {
  const out = [], groups = new Map();
  for (const d of distributions) {
    // A multi-value column's values are columns of their own ("means:debt"): evaluation.json names
    // their column and value (a ":" in a plain column's name says nothing).
    if (d.group === undefined || d.value === undefined) { out.push(d); continue; }
    const name = d.group, value = d.value;
    const i = d.labels.indexOf(value);
    if (!groups.has(name)) { groups.set(name, { column: name, labels: [], sensitive_share: [], release_share: [] }); out.push(groups.get(name)); }
    const g = groups.get(name);
    g.labels.push(value);
    g.sensitive_share.push(i < 0 ? 0 : d.sensitive_share[i]);
    g.release_share.push(i < 0 ? 0 : d.release_share[i]);
  }
  for (const g of groups.values()) {
    const order = g.labels.map((_, i) => i).sort((a, b) => g.sensitive_share[b] - g.sensitive_share[a]);
    for (const key of ["labels", "sensitive_share", "release_share"]) g[key] = order.map((i) => g[key][i]);
  }
  return out;
}

async function renderQuality(stale) {
  const q = await source.quality();
  if (stale()) return;
  const o = q.overall || {};
  const whose = q.of_release ? `release “${q.of_release}”` : "a release not served here (its synthetic file does not match any)";
  const byLength = (q.by_length || []).map((m) => el("tr", {}, el("td", {}, m.length),
    el("td", { class: "n" }, fmt(m.sensitive_combinations)), el("td", { class: "n" }, pct(m.preserved_pct)), el("td", {}, meter(m.preserved_pct)),
    el("td", { class: "n" }, pct(m.fabricated_pct)), el("td", { class: "n" }, num(m.mean_absolute_error)), el("td", { class: "n" }, pct(100 * (m.mean_proportional_error ?? 0)))));
  const byBucket = (q.by_count_bucket || []).filter((m) => m.sensitive_combinations > 0).map((m) => el("tr", {}, el("td", {}, m.bucket),
    el("td", { class: "n" }, fmt(m.sensitive_combinations)), el("td", { class: "n" }, pct(m.preserved_pct)), el("td", {}, meter(m.preserved_pct)),
    el("td", { class: "n" }, num(m.mean_absolute_error)), el("td", { class: "n" }, pct(100 * (m.mean_proportional_error ?? 0)))));
  const distributions = el("div", { class: "charts-grid" });
  for (const d of groupIndicators(q.column_distributions || [])) {
    const top = Math.max(1e-9, ...d.sensitive_share, ...d.release_share);
    const box = el("div", { class: "chart", "data-column": d.column }, el("h3", {}, el("bdi", {}, visible(d.column))));
    d.labels.slice(0, 10).forEach((label, i) => {
      box.append(el("div", { class: "bar" }, el("span", { class: "label", title: label }, label),
        el("div", { class: "track" },
          el("div", { class: "synthetic", style: `width:${(100 * d.release_share[i]) / top}%`, title: `release: ${pct(100 * d.release_share[i])}` }),
          el("div", { class: "aggregate", style: `width:${(100 * d.sensitive_share[i]) / top}%`, title: `sensitive: ${pct(100 * d.sensitive_share[i])}` })),
        el("div", { class: "best" }, pct(100 * d.sensitive_share[i]), " ", el("small", {}, "real"))));
    });
    distributions.append(box);
  }
  const byColumn = el("div", { class: "chart by-column" });
  for (const row of (q.k_marginal && q.k_marginal.by_column) || []) {
    byColumn.append(el("div", { class: "bar", "data-value": row.column },
      el("span", { class: "label", title: row.column }, row.column),
      el("div", { class: "track", "aria-hidden": "true" }, el("div", { class: "aggregate", style: `width:${Math.max(0, row.score) / 10}%` })),
      el("div", { class: "best" }, num(row.score, 0))));
  }
  const score = q.k_marginal ? q.k_marginal.score : null;
  $("quality").replaceChildren(
    el("p", { class: "warning" }, "For the data owner only, not for publication: this evaluation holds exact statistics of the sensitive data."),
    el("h2", {}, "How well the release keeps what the data says"),
    el("p", {}, `Evaluation of ${whose}: ${fmt(q.sensitive_records)} sensitive records, ${fmt(q.release_records)} in the release, combinations of up to ${q.reporting_length} attributes.`),
    score !== null ? el("p", {}, el("b", {}, `k-marginal score ${num(score, 0)} of 1000`),
      ` (NIST's measure over all ${q.k_marginal.k}-attribute marginals). Rule of thumb: above 900 the release's tables match the data's closely; 700–900 the main patterns hold; below 700 read only the largest counts.`) : "",
    el("p", {}, `Overall: ${pct(o.preserved_pct)} of the data's combinations are in the release, ${pct(o.fabricated_pct)} of the release's combinations are not in the data, ` +
      `and a count is off by ${num(o.mean_absolute_error, 1)} records on average. ${pct(o.leakage_pct)} of the rare combinations (fewer than ${q.resolution} records) appear in the release.`),
    byColumn.childElementCount ? el("h3", {}, "Which columns the release keeps worst") : "",
    byColumn.childElementCount ? el("p", { class: "help" }, `Each column's k-marginal score over the ${q.k_marginal.k}-attribute marginals that hold it, lowest first. ` +
      "Rule of thumb: a column far below the overall score is where the release's tables differ most from the data; read its selections with care.") : "",
    byColumn.childElementCount ? byColumn : "",
    el("h3", {}, "By length of combination"),
    qualityTable(["length", "in the data", "preserved", hidden("preserved, as a bar"), "fabricated", "mean absolute error", "mean relative error"], byLength),
    el("p", { class: "help" }, "Rule of thumb: short combinations (1–2 attributes) should be nearly all preserved; longer ones lose more, so trust long selections less."),
    el("h3", {}, "By size of the true count"),
    qualityTable(["records holding it", "combinations", "preserved", hidden("preserved, as a bar"), "mean absolute error", "mean relative error"], byBucket),
    el("p", { class: "help" }, "Rule of thumb: small groups (under 10 records) are where protection removes and blurs the most; counts in the hundreds are reliable to within the errors shown."),
    el("h3", {}, "Each column: real shares (dark) against the release (light)"),
    distributions,
    el("p", { class: "help" }, "Values held by fewer than k real records are merged into one bar, so no rare value is shown; " +
      "for a column with several values per record, each bar is the share of records holding that value."),
  );
}

const PAGES = { overview: renderOverview, explore: renderExplore, compare: renderCompare, download: renderDownload, quality: renderQuality };

// Each refresh draws only if no later refresh began meanwhile: answers may arrive out of order.
// body[data-settled] counts the refreshes that have finished, drawn or not (tests wait on it).
let drawing = 0;
let settled = 0;

async function refresh() {
  const mine = ++drawing;
  writeHash();
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.page === state.page);
    if (button.dataset.page === state.page) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const page of document.querySelectorAll(".page")) page.classList.toggle("active", page.id === state.page);
  try { await PAGES[state.page](() => mine !== drawing); document.body.dataset.ready = "1"; } catch (error) { showError(error); }
  finally { document.body.dataset.settled = String(++settled); }
}

async function start() {
  readHash();
  const { releases, quality } = await source.releases();
  if (!releases.includes(state.release)) state.release = releases[0];
  $("release").replaceChildren(...releases.map((r) => el("option", { value: r }, r)));
  $("release").value = state.release;
  $("release").addEventListener("change", (e) => { state.release = e.target.value; state.selection = {}; state.shown = null; refresh(); });
  $("other").addEventListener("change", (e) => { state.other = e.target.value; refresh(); });
  document.querySelector('[data-page="quality"]').hidden = !quality;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => { state.page = button.dataset.page; refresh(); });
  }
  $("undo").addEventListener("click", () => { if (state.history.length) { state.selection = JSON.parse(state.history.pop()); refresh(); } });
  $("clear").addEventListener("click", () => { state.history.push(JSON.stringify(state.selection)); state.selection = {}; refresh(); });
  // A shared URL pasted into an open explorer: take its state (the page's own changes replace the
  // hash without this event).
  window.addEventListener("hashchange", () => { readHash(); state.history = []; refresh(); });
  await refresh();
}

start().catch(showError);
