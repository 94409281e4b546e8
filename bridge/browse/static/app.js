// loopbridge browse: the page. Data from /api/*, audio from /audio, plots with the bundled plotly (WebGL map).
"use strict";

// rows per table page: 50, or ?page_size=N in the address
const PAGE_SIZE = Math.max(1, Number(new URLSearchParams(location.search).get("page_size")) || 50);
const REASON_COLOURS = {
  silence: "#888", clipping: "#d62728", click: "#ff7f0e", clicks: "#ff7f0e", dropout: "#9467bd",
  dc: "#8c564b", polarity: "#e377c2", truncation: "#7f7f7f", noise: "#bcbd22", level: "#17becf",
};
const state = {
  data: null, thresholds: {}, quantile: 0.95, selected: null,
  sort: { key: "score", dir: -1 }, page: 0, rows: [],
};
const $ = (id) => document.getElementById(id);

function flaggedBy(t) {
  const p = state.data.primary;
  const kinds = t.head_scores[p] > state.thresholds[p] ? [p] : [];
  return kinds.concat(t.reasons.map((r) => r.kind));
}
const ratio = (t) => t.head_scores[state.data.primary] / state.thresholds[state.data.primary];
const audioUrl = (path) => "/audio?path=" + encodeURIComponent(path);
const fmt = (x, d = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));

function topReason(t) {
  if (t.reasons.length) return t.reasons[0].message;
  if (flaggedBy(t).length) return `${state.data.primary} score above its threshold`;
  return "no reason";
}

// ---- map ------------------------------------------------------------------------------------------
function hoverText(t) {
  const top = t.reasons.length ? t.reasons[0].message : "no technical problem found";
  return `${t.name}<br>${state.data.primary} score ${fmt(t.score)}<br>${top}`;
}

// Colour is the primary head's score on a scale centred on the threshold: a new sensitivity moves only the
// scale's ends, and Plotly.react redraws 10k WebGL points without rebuilding their colours.
function colourScale() {
  const thr = state.thresholds[state.data.primary];
  return {
    cmin: 0, cmax: 2 * thr,
    colorbar: { title: { text: "score" }, thickness: 10, tickvals: [0, thr, 2 * thr], ticktext: ["0", "threshold", "2×"] },
  };
}

const dense = () => state.data.takes.length > 2000;
const markerSize = () => (dense() ? 5 : 9);

function flaggedTrace() {
  const f = state.data.takes.filter((t) => flaggedBy(t).length);
  return {
    type: "scattergl", mode: "markers", name: "flagged", x: f.map((t) => t.x), y: f.map((t) => t.y), hoverinfo: "skip",
    marker: { size: markerSize() + 4, color: "rgba(0,0,0,0)", line: { color: "rgba(0,0,0,0.7)", width: dense() ? 0.8 : 1.5 } },
  };
}

function mapTraces() {
  const { takes, library } = state.data;
  return [
    {
      type: "scattergl", mode: "markers", name: "library", x: library.map((l) => l.x), y: library.map((l) => l.y),
      customdata: library.map((l) => l.id), text: library.map((l) => l.name), hovertemplate: "%{text}<extra>library</extra>",
      marker: { color: "#bbb", size: 6 },
    },
    {
      type: "scattergl", mode: "markers", name: "takes", x: takes.map((t) => t.x), y: takes.map((t) => t.y),
      customdata: takes.map((t) => t.id), text: takes.map(hoverText), hovertemplate: "%{text}<extra></extra>",
      marker: {
        color: takes.map((t) => t.head_scores[state.data.primary]), colorscale: [[0, "#2c7bb6"], [0.5, "#ffd700"], [1, "#d7191c"]],
        size: markerSize(), showscale: true, ...colourScale(),
      },
    },
    selectedTrace(),
    flaggedTrace(),
  ];
}

function selectedTrace() {
  const t = state.selected === null ? null : state.data.takes[state.selected];
  return {
    type: "scatter", mode: "markers", name: "selected", hoverinfo: "skip",
    x: t ? [t.x] : [], y: t ? [t.y] : [], marker: { size: 20, color: "rgba(0,0,0,0)", line: { color: "#000", width: 2 } },
  };
}

function drawMap() {
  Plotly.react("map", mapTraces(), {
    margin: { l: 30, r: 10, t: 10, b: 30 }, showlegend: false, hovermode: "closest", dragmode: "pan",
    xaxis: { zeroline: false, title: { text: state.data.map.toUpperCase() + " 1" } },
    yaxis: { zeroline: false, title: { text: state.data.map.toUpperCase() + " 2" } },
  }, { responsive: true, scrollZoom: true, displaylogo: false });
}

// ---- table ----------------------------------------------------------------------------------------
function filteredRows() {
  const onlyFlagged = $("flagged-only").checked;
  const kind = $("kind").value;
  const name = $("name-filter").value.trim().toLowerCase();
  const { key, dir } = state.sort;
  const rows = state.data.takes.filter((t) => {
    const by = flaggedBy(t);
    return (!onlyFlagged || by.length) && (!kind || by.includes(kind)) && (!name || t.name.toLowerCase().includes(name));
  });
  const value = (t) => (key === "name" ? t.name.toLowerCase() : t[key] === null ? -Infinity : t[key]);
  return rows.sort((a, b) => (value(a) < value(b) ? -dir : value(a) > value(b) ? dir : a.id - b.id));
}

function drawTable() {
  state.rows = filteredRows();
  const pages = Math.max(1, Math.ceil(state.rows.length / PAGE_SIZE));
  state.page = Math.min(state.page, pages - 1);
  $("page").textContent = `page ${state.page + 1} of ${pages} (${state.rows.length} takes)`;
  const body = document.querySelector("#takes tbody");
  body.replaceChildren(...state.rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE).map((t) => {
    const tr = document.createElement("tr");
    const by = flaggedBy(t);
    tr.dataset.id = t.id;
    tr.dataset.path = t.path;
    tr.className = (by.length ? "flagged" : "") + (t.id === state.selected ? " selected" : "");
    for (const cell of [by.length ? "OFF" : "ok", t.name, t.folder, fmt(t.duration_s, 2), fmt(t.score, 4), fmt(ratio(t), 2), by.join(" ")]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.append(td);
    }
    tr.addEventListener("click", () => select(t.id));
    return tr;
  }));
  document.querySelectorAll("#takes th[data-sort]").forEach((th) => {
    th.classList.toggle("sorted", th.dataset.sort === state.sort.key);
    th.dataset.dir = th.dataset.sort === state.sort.key ? (state.sort.dir > 0 ? "asc" : "desc") : "";
  });
}

function drawCounts() {
  const flagged = state.data.takes.filter((t) => flaggedBy(t).length).length;
  $("flagged-count").textContent = flagged;
  $("take-count").textContent = state.data.takes.length;
  $("quantile-value").textContent = (100 * state.quantile).toFixed(1) + " %";
}

function redraw() {
  drawCounts();
  drawMap();
  drawTable();
  if (state.selected !== null) drawHeads(state.data.takes[state.selected]);
}

// ---- the selected take ------------------------------------------------------------------------------
async function select(id) {
  state.selected = id;
  const take = await (await fetch(`/api/take/${id}`)).json();
  const d = $("detail");
  d.innerHTML = `
    <h2 id="detail-name"></h2><p class="path" id="detail-path"></p>
    <audio id="player" controls preload="auto"></audio>
    <div id="wave"></div>
    <ul id="reasons"></ul>
    <table id="heads"><thead><tr><th>head</th><th>score</th><th>threshold</th><th>÷</th></tr></thead><tbody></tbody></table>
    <h3>Nearest library loops</h3><ul id="neighbours"></ul>
    <audio id="neighbour-player" controls></audio>`;
  $("detail-name").textContent = take.name;
  $("detail-path").textContent = take.path;
  const player = $("player");
  player.src = audioUrl(take.path);
  $("reasons").replaceChildren(...(take.reasons.length ? take.reasons : [{ kind: "", message: "no technical problem found" }]).map((r) => {
    const li = document.createElement("li");
    li.textContent = r.kind ? `${r.kind} at ${fmt(r.start_s, 3)} s: ${r.message}` : r.message;
    return li;
  }));
  $("neighbours").replaceChildren(...take.neighbours.map((n) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.textContent = "▶";
    b.title = "listen";
    b.addEventListener("click", () => { const p = $("neighbour-player"); p.src = audioUrl(n.path); p.play(); });
    li.append(b, ` ${n.name} (cosine distance ${fmt(n.distance, 3)})`);
    return li;
  }));
  drawWave(take);
  drawHeads(state.data.takes[id]);
  Plotly.restyle("map", { x: [[take.x]], y: [[take.y]] }, [2]);
  drawTable();
  player.addEventListener("timeupdate", () => {
    if (document.getElementById("wave").layout) Plotly.relayout("wave", { "shapes[0].x0": player.currentTime, "shapes[0].x1": player.currentTime });
  });
}

function drawWave(take) {
  const w = take.waveform;
  if (!w || w.error) {
    $("wave").textContent = w ? w.error : "no waveform";
    return;
  }
  const cursor = { type: "line", xref: "x", yref: "paper", x0: 0, x1: 0, y0: 0, y1: 1, line: { color: "#000", width: 1 } };
  const spans = take.reasons.map((r) => ({
    type: "rect", xref: "x", yref: "paper", y0: 0, y1: 1, x0: r.start_s, x1: r.start_s + r.duration_s,
    fillcolor: REASON_COLOURS[r.kind] || "#d62728", opacity: 0.35, line: { width: 2, color: REASON_COLOURS[r.kind] || "#d62728" },
    name: r.kind,
  }));
  const labels = take.reasons.map((r) => ({ x: r.start_s, y: 1, yref: "paper", text: r.kind, showarrow: false, yanchor: "bottom" }));
  Plotly.newPlot("wave", [
    { x: w.t, y: w.max, type: "scatter", mode: "lines", line: { width: 0.5, color: "#36c" }, hoverinfo: "skip" },
    { x: w.t, y: w.min, type: "scatter", mode: "lines", fill: "tonexty", line: { width: 0.5, color: "#36c" }, hoverinfo: "skip" },
  ], {
    margin: { l: 30, r: 10, t: 20, b: 30 }, showlegend: false, height: 180, shapes: [cursor, ...spans], annotations: labels,
    xaxis: { range: [0, w.duration_s], title: { text: "seconds" } }, yaxis: { range: [-1, 1], fixedrange: true },
  }, { displaylogo: false, responsive: true });
  $("wave").on("plotly_click", (ev) => { $("player").currentTime = ev.points[0].x; });
}

function drawHeads(t) {
  const body = document.querySelector("#heads tbody");
  if (!body) return;
  body.replaceChildren(...state.data.heads.map((h) => {
    const tr = document.createElement("tr");
    const over = t.head_scores[h] > state.thresholds[h];
    tr.className = over ? "flagged" : "";
    for (const cell of [h + (h === state.data.primary ? " (decides)" : ""), fmt(t.head_scores[h], 4), fmt(state.thresholds[h], 4), fmt(t.head_scores[h] / state.thresholds[h], 2)]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.append(td);
    }
    return tr;
  }));
}

// ---- sensitivity, uploads, statistics -------------------------------------------------------------
let pendingQuantile = null;
async function setQuantile(q) {
  pendingQuantile = q;
  const res = await (await fetch(`/api/sensitivity?quantile=${q}`)).json();
  if (pendingQuantile !== q) return; // a newer slider position is on its way
  state.quantile = res.quantile;
  state.thresholds = res.thresholds;
  redraw();
  document.body.dataset.quantile = String(res.quantile);
}

async function upload(files) {
  for (const file of files) {
    $("status").textContent = `scoring ${file.name}…`;
    const res = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
    const body = await res.json();
    if (!res.ok) {
      $("status").textContent = `${file.name}: ${body.error}`;
      continue;
    }
    state.data.takes.push(...body.takes);
    $("status").textContent = `${file.name} scored`;
    redraw();
    select(body.takes[0].id);
  }
}

async function drawStats() {
  const stats = await (await fetch("/api/stats")).json();
  const rows = [];
  const traces = [];
  for (const [set, groups] of [["library", stats.library], ["takes", stats.takes]]) {
    for (const g of groups) {
      const tempo = g.tempi.length ? `${Math.min(...g.tempi)}–${Math.max(...g.tempi)} bpm (${g.tempo_unknown} unknown)` : "unknown";
      const keys = Object.entries(g.keys).slice(0, 3).map(([k, n]) => `${k} ×${n}`).join(", ") || "unknown";
      rows.push([set, g.folder, g.count, fmt(g.total_s, 1), fmt(g.mean_s, 2), `${fmt(g.min_s, 2)}–${fmt(g.max_s, 2)}`, tempo, keys]);
      traces.push({ type: "scattergl", mode: "markers", name: `${set}: ${g.folder.split("/").pop()}`, y: g.durations, x: g.durations.map(() => `${set}: ${g.folder.split("/").pop()}`), marker: { size: 5, opacity: 0.6 } });
    }
  }
  document.querySelector("#stats tbody").replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    for (const c of r) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    return tr;
  }));
  Plotly.newPlot("stats-plot", traces, {
    height: 260, margin: { l: 40, r: 10, t: 10, b: 60 }, showlegend: false, yaxis: { title: { text: "duration s" } },
  }, { displaylogo: false, responsive: true });
}

async function start() {
  state.data = await (await fetch("/api/data")).json();
  state.quantile = state.data.quantile;
  state.thresholds = state.data.thresholds;
  $("model").textContent = `· model ${state.data.model} (primary head ${state.data.primary})`;
  $("quantile").value = state.quantile;
  const seen = state.data.takes.flatMap((t) => t.reasons.map((r) => r.kind)); // kinds the checks list, and any other found
  for (const k of new Set([...state.data.kinds, ...seen])) $("kind").append(new Option(k, k));
  redraw();
  $("map").on("plotly_click", (ev) => {
    const p = ev.points[0];
    if (p.curveNumber === 1) select(p.customdata);
    else if (p.curveNumber === 0) { const l = state.data.library[p.customdata]; $("status").textContent = `library: ${l.name}`; new Audio(audioUrl(l.path)).play(); }
  });
  $("quantile").addEventListener("input", (e) => setQuantile(Number(e.target.value)));
  for (const id of ["flagged-only", "kind", "name-filter"]) $(id).addEventListener("input", () => { state.page = 0; drawTable(); });
  document.querySelectorAll("#takes th[data-sort]").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.sort;
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : key === "name" ? 1 : -1 };
    drawTable();
  }));
  $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); drawTable(); });
  $("next").addEventListener("click", () => { state.page += 1; drawTable(); });
  $("upload").addEventListener("change", (e) => upload(e.target.files));
  document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dropping"); });
  document.addEventListener("dragleave", () => document.body.classList.remove("dropping"));
  document.addEventListener("drop", (e) => { e.preventDefault(); document.body.classList.remove("dropping"); upload(e.dataTransfer.files); });
  drawStats();
  document.body.dataset.ready = "1";
}

start();
