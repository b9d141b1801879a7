// The explorer's data source in a static report: the same answers as the server's API, computed here
// from the records and aggregates embedded in the page (window.SHOWCASE_STATIC).
"use strict";

window.ShowcaseStatic = function (data) {
  // data.releases[id] = {overview, files, columns: [{name, values, multi_value, side, rows}], n,
  //                      aggregates: {key: count}, interval: {kind, half: [..by length..], k}}
  // key: the combination's "column.value" positions, sorted as numbers and joined by ";".
  // rows: single-value column: one value index per record (-1: none); multi-value: a list per record.
  const releases = data.releases;

  function holds(column, r, wanted) {
    const cell = column.rows[r];
    if (column.multi_value) return cell.some((v) => wanted.has(v));
    return wanted.has(cell);
  }

  function interval(release, length, count) {
    const rule = release.interval;
    if (rule.kind === "dp") {
      const half = rule.half[length - 1] ?? rule.half[rule.half.length - 1];
      return [count - half, count + half];
    }
    if (rule.kind === "k") return [count, count + rule.k - 1];
    return [count, count];
  }

  function explore(id, selection) {
    const release = releases[id];
    if (!release) throw new Error("no such release");
    const byName = new Map(release.columns.map((c) => [c.name, c]));
    const place = placeOf(release);
    const wanted = new Map();
    for (const [name, values] of Object.entries(selection)) {
      const column = byName.get(name);
      if (!column) throw new Error(`unknown column '${name}'`);
      const positions = new Set();
      for (const value of values) {
        const i = column.values.indexOf(value);
        if (i < 0) throw new Error(`column '${name}' has no value '${value}'`);
        positions.add(i);
      }
      wanted.set(column, positions);
    }
    const selected = [...wanted.keys()];
    const counts = new Map(release.columns.map((c) => [c, new Array(c.values.length).fill(0)]));
    let total = 0;
    for (let r = 0; r < release.n; r++) {
      let failed = null, fails = 0;
      for (const column of selected) {
        if (!holds(column, r, wanted.get(column))) { fails++; failed = column; if (fails > 1) break; }
      }
      if (fails > 1) continue;
      if (fails === 0) total++;
      for (const column of (fails === 0 ? release.columns : [failed])) {
        const cell = column.rows[r], row = counts.get(column);
        if (column.multi_value) for (const v of cell) row[v]++;
        else if (cell >= 0) row[cell]++;
      }
    }
    const answer = { total, columns: {} };
    for (const column of release.columns) {
      const rest = Object.entries(selection).filter(([name]) => name !== column.name);
      const single = rest.every(([, values]) => values.length === 1);
      const length = 1 + rest.length;
      answer.columns[column.name] = column.values.map((value, i) => {
        let aggregate = null;
        if (single && length <= release.reporting_length) {
          const found = release.aggregates[keyOf([place(column.name, value), ...rest.map(([name, values]) => place(name, values[0]))])];
          aggregate = found === undefined ? null : found;
        }
        const bar = { value, synthetic: counts.get(column)[i], aggregate };
        if (aggregate !== null) [bar.low, bar.high] = interval(release, length, aggregate);
        bar.best = aggregate !== null ? aggregate : bar.synthetic;
        bar.best_from = aggregate !== null ? "aggregate" : "synthetic";
        return bar;
      });
    }
    answer.interval = ["dp", "k"].includes(release.interval.kind) ? release.interval.kind : "exact";
    answer.parts = parts(release, selection);
    return answer;
  }

  // (column name, value) → [column position, value position], as the embedded aggregates are keyed.
  function placeOf(release) {
    const columns = new Map(release.columns.map((c, i) => [c.name, [i, c]]));
    return (name, value) => {
      const [i, column] = columns.get(name);
      return [i, column.values.indexOf(value)];
    };
  }

  // A combination's key: its positions sorted as numbers, "column.value" joined by ";" (as report.py writes).
  function keyOf(places) {
    return places.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([c, v]) => `${c}.${v}`).join(";");
  }

  // The released sub-combinations, of the reporting length, of a longer one-value-per-column selection.
  function parts(release, selection) {
    const place = placeOf(release);
    const entries = Object.entries(selection);
    const length = release.reporting_length;
    if (entries.some(([, values]) => values.length !== 1) || entries.length <= length || entries.length > 8) return [];
    const pairs = entries.map(([name, values]) => [name, values[0]]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const found = [];
    const pick = (start, chosen) => {
      if (chosen.length === length) {
        const count = release.aggregates[keyOf(chosen.map(([name, value]) => place(name, value)))];
        if (count !== undefined) {
          const [low, high] = interval(release, length, count);
          found.push({ attributes: chosen.slice(), count, low, high });
        } else if (release.interval.kind === "k") {
          found.push({ attributes: chosen.slice(), count: null, low: 0, high: release.interval.k - 1 });
        }
        return;
      }
      for (let i = start; i < pairs.length; i++) { chosen.push(pairs[i]); pick(i + 1, chosen); chosen.pop(); }
    };
    pick(0, []);
    return found.sort((a, b) => a.high - b.high);
  }

  return {
    async releases() { return { releases: Object.keys(releases), quality: false }; },
    async overview(id) { return releases[id].overview; },
    async explore(id, selection) { return explore(id, selection); },
    async files(id) { return { files: releases[id].files }; },
    async quality() { throw new Error("a static report holds no evaluation"); },
  };
};
