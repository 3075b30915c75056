// UltraMotion live monitor: fills the page from /api/v1/history (seed), /api/v1/config and the
// server-sent events of /api/v1/events (one "metrics" event per sample period). Charts use
// Chart.js (Debian libjs-chart.js), loaded before this file. Nothing here computes a figure:
// it only displays what the server measured.
'use strict';

const MAX_POINTS = 240;
const STATE_LEVEL = { unknown: 0, lost: 1, relocalizing: 2, visible: 3 };
const STATE_NAMES = ['unknown', 'lost', 'relocalizing', 'visible'];
const STATE_COLOURS = { unknown: '#6b7785', lost: '#d64545', relocalizing: '#e0a000',
                        visible: '#2fb36d' };

const $ = (id) => document.getElementById(id);
const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v))
  ? '\u2013' : Number(v).toFixed(digits);
const bytes = (b) => (b === null || b === undefined) ? '\u2013'
  : (b >= 1 << 30 ? fmt(b / (1 << 30), 2) + ' GiB' : fmt(b / (1 << 20), 1) + ' MiB');

function lineChart(canvasId, series, yTitle, extra = {}) {
  return new Chart($(canvasId), {
    type: 'line',
    data: { datasets: series.map(([label, colour]) => ({
      label, data: [], borderColor: colour, backgroundColor: colour, pointRadius: 0,
      borderWidth: 2, spanGaps: false, ...extra })) },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'time since start (s)' },
             ticks: { color: '#9fb0c0' }, grid: { color: '#26313d' } },
        y: { beginAtZero: true, title: { display: true, text: yTitle },
             ticks: { color: '#9fb0c0' }, grid: { color: '#26313d' } },
      },
      plugins: { legend: { labels: { color: '#e6edf3' } } },
    },
  });
}

Chart.defaults.color = '#e6edf3';
const charts = {
  latency: lineChart('chart-latency', [['p50', '#4aa3ff'], ['p95', '#e0a000'],
                                        ['p99', '#d64545']], 'ms'),
  fps: lineChart('chart-fps', [['in', '#2fb36d'], ['out', '#4aa3ff']], 'frames/s'),
  drops: lineChart('chart-drops', [['drops/s', '#d64545']], 'drops/s'),
  visibility: lineChart('chart-visibility', [['state', '#2fb36d']], 'state', {
    stepped: 'before', borderWidth: 4,
    // Each stretch coloured by the state it shows.
    segment: { borderColor: (ctx) => STATE_COLOURS[STATE_NAMES[ctx.p1.parsed.y]] } }),
  stages: new Chart($('chart-stages'), {
    type: 'bar',
    data: { labels: [], datasets: [
      { label: 'p50', data: [], backgroundColor: '#4aa3ff' },
      { label: 'p95', data: [], backgroundColor: '#e0a000' },
      { label: 'max', data: [], backgroundColor: '#d64545' }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
               scales: { y: { beginAtZero: true, title: { display: true, text: 'ms' } } } },
  }),
};
charts.visibility.options.scales.y = {
  min: 0, max: 3, ticks: { stepSize: 1, color: '#9fb0c0', callback: (v) => STATE_NAMES[v] || '' },
  grid: { color: '#26313d' },
};

function pushPoint(chart, index, x, y) {
  const data = chart.data.datasets[index].data;
  if (data.length && data[data.length - 1].x >= x) return;  // same sample seen twice
  data.push({ x, y });
  while (data.length > MAX_POINTS) data.shift();
}

// One history point (from /api/v1/history or derived from a metrics event).
function addPoint(p) {
  const lat = p.rx_to_tx_ms;
  pushPoint(charts.latency, 0, p.t_s, lat ? lat.p50 : null);
  pushPoint(charts.latency, 1, p.t_s, lat ? lat.p95 : null);
  pushPoint(charts.latency, 2, p.t_s, lat ? lat.p99 : null);
  pushPoint(charts.fps, 0, p.t_s, p.fps_in);
  pushPoint(charts.fps, 1, p.t_s, p.fps_out);
  pushPoint(charts.drops, 0, p.t_s, p.drop_rate);
}

// The visibility chart is drawn from the exact transition times the server keeps
// (visibility.timeline), over the same span as the other charts.
function drawVisibility(m) {
  const fps = charts.fps.data.datasets[0].data;
  const from = fps.length ? fps[0].x : 0;
  const level = (s) => STATE_LEVEL[s] ?? 0;
  let inForce = 'unknown';
  const pts = [];
  for (const c of m.visibility.timeline) {
    if (c.t_s <= from) { inForce = c.state; continue; }
    pts.push({ x: c.t_s, y: level(c.state) });
  }
  pts.unshift({ x: from, y: level(inForce) });
  pts.push({ x: m.uptime_s, y: level(m.visibility.state) });
  charts.visibility.data.datasets[0].data = pts;
}

function table(id, header, rows) {
  const el = $(id);
  const head = '<tr>' + header.map((h) => `<th>${h}</th>`).join('') + '</tr>';
  const body = rows.length ? rows.map((r) => '<tr>' + r.map((c) => `<td>${c}</td>`).join('')
    + '</tr>').join('') : `<tr><td colspan="${header.length}">none recorded</td></tr>`;
  el.innerHTML = head + body;
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;',
                                                            '>': '&gt;', '"': '&quot;' }[c]));

function histRows(obj) {
  return Object.entries(obj).map(([name, h]) => [esc(name), h.count, fmt(h.p50, 2), fmt(h.p95, 2),
    fmt(h.p99, 2), fmt(h.max, 2), h.total.count]);
}

let lastFrameSeq = -1;

// Several probes in one gateway: one row per stream (hidden for a single-stream gateway).
function renderStreams(list) {
  $('streams-card').classList.toggle('hidden', list.length === 0);
  if (list.length === 0) return;
  $('streams-first').textContent = list[0].name;
  table('table-streams', ['stream', 'link', 'fps in / out', 'frames in / out', 'RX\u2192TX p50',
    'p95', 'p99', 'max', 'drops', 'D-FINE ran / tracked', 'visibility'],
  list.map((s) => {
    const rx = (s.latency_ms && s.latency_ms.rx_to_tx) || {};
    const state = s.visibility.state;
    return [esc(s.name),
      (s.connected ? 'connected' : '<b>DISCONNECTED</b>') + `, ${s.reconnects} reconnects`,
      `${fmt(s.fps.in)} / ${fmt(s.fps.out)}`, `${s.frames.received} / ${s.frames.sent}`,
      fmt(rx.p50, 2), fmt(rx.p95, 2), fmt(rx.p99, 2), fmt(rx.max, 2), s.drops.total,
      `${(s.detector || {}).detected ?? 0} / ${(s.detector || {}).tracked ?? 0}`,
      `<span style="color:${STATE_COLOURS[state] || ''}">${esc(state.toUpperCase())}</span>`];
  }));
}

function render(m) {
  const banner = $('synthetic-banner');
  banner.classList.toggle('hidden', !m.synthetic_weights.active);
  $('synthetic-detail').textContent = m.synthetic_weights.detail || '';

  const health = $('health');
  health.className = 'pill ' + m.health.status;
  $('health-status').textContent = m.health.status.toUpperCase();
  $('health-reasons').textContent = m.health.reasons.join('; ');
  $('uptime').textContent = fmt(m.uptime_s, 0);

  $('fps-in').textContent = fmt(m.fps.in);
  $('fps-out').textContent = fmt(m.fps.out);
  const rx = m.latency_ms.rx_to_tx || {};
  $('rx-p50').textContent = fmt(rx.p50, 2);
  $('rx-p95').textContent = fmt(rx.p95, 2);
  $('rx-p99').textContent = fmt(rx.p99, 2);
  $('rx-max').textContent = fmt(rx.max, 2);
  $('pct-window').textContent = fmt(m.latency_ms.window_s, 0);
  const frames = m.frames || {};
  $('frames').textContent = `${frames.received ?? 0} / ${frames.sent ?? 0}`;
  $('drops').textContent = `${m.drops.total}, ${fmt(m.drops.rate_per_s, 2)}/s`;
  // Detector skipping: frames where D-FINE ran vs frames segmented from the tracker's box.
  const det = m.detector || {};
  $('detector').textContent = `${det.detected ?? 0} / ${det.tracked ?? 0}` + (det.tracked_share == null
    ? '' : ` (${fmt(100 * det.tracked_share, 0)} % tracked)`);
  const vis = $('vis-state');
  vis.textContent = m.visibility.state.toUpperCase();
  vis.style.color = STATE_COLOURS[m.visibility.state] || '';
  $('vis-seconds').textContent = 'time per state: ' + Object.entries(m.visibility.seconds)
    .map(([k, v]) => `${k} ${fmt(v, 1)} s`).join(', ') + ` (${m.visibility.transitions} changes)`;

  const p = m.process;
  $('process').textContent = p.available
    ? `${p.cpu_percent === null ? '\u2013' : fmt(p.cpu_percent, 0)} % / ${bytes(p.rss_bytes)}`
    : 'unavailable';
  const g = m.gpu;
  $('gpu').textContent = g.available
    ? g.devices.map((d) => `#${d.index} ${d.name}: ${fmt(d.utilization_pct, 0)} %, `
        + `${bytes(d.memory_used_bytes)} / ${bytes(d.memory_total_bytes)}`).join(' | ')
    : `unavailable (${g.reason})`;

  table('table-stages', ['stage', 'n', 'p50', 'p95', 'p99', 'max', 'total n'],
        histRows(m.latency_ms.stages));
  table('table-hops', ['from \u2192 to', 'n', 'p50', 'p95', 'p99', 'max', 'total n'],
        histRows(m.latency_ms.interstage));
  table('table-drops', ['stage', 'reason', 'count'],
        m.drops.by.map((d) => [esc(d.stage), esc(d.reason), d.count]));
  const qrows = Object.entries(m.queues).map(([q, v]) => ['queue ' + esc(q), fmt(v, 0)]);
  for (const [s, v] of Object.entries(m.streams)) {
    qrows.push(['stream ' + esc(s), (v.connected ? 'connected' : 'DISCONNECTED')
      + `, ${v.reconnects ?? 0} reconnects`]);
  }
  table('table-queues', ['name', 'value'], qrows);

  renderStreams(m.per_stream || []);

  const names = Object.keys(m.latency_ms.stages);
  charts.stages.data.labels = names;
  charts.stages.data.datasets[0].data = names.map((n) => m.latency_ms.stages[n].p50);
  charts.stages.data.datasets[1].data = names.map((n) => m.latency_ms.stages[n].p95);
  charts.stages.data.datasets[2].data = names.map((n) => m.latency_ms.stages[n].max);
  charts.stages.update();

  addPoint({ t_s: m.uptime_s, fps_in: m.fps.in, fps_out: m.fps.out, drop_rate: m.drops.rate_per_s,
             state: m.visibility.state, rx_to_tx_ms: rx.count ? rx : null });
  drawVisibility(m);
  for (const c of [charts.latency, charts.fps, charts.drops, charts.visibility]) c.update();

  if (m.frame && m.frame.seq !== lastFrameSeq) {
    lastFrameSeq = m.frame.seq;
    $('frame-img').src = `/api/v1/frame.png?seq=${m.frame.seq}`;
    const score = m.frame.score === null ? '\u2013' : fmt(m.frame.score, 2);
    $('frame-caption').textContent = `#${m.frame.frame_id} ${m.frame.width}x${m.frame.height} `
      + `${m.frame.state} score ${score}` + (m.frame.box ? '' : ' (no box)');
  }
}

async function start() {
  try {
    const cfg = await fetch('/api/v1/config').then((r) => r.json());
    $('config').textContent = JSON.stringify(cfg, null, 2);
  } catch (e) {
    $('config').textContent = 'config unavailable: ' + e;
  }
  try {
    const h = await fetch('/api/v1/history').then((r) => r.json());
    h.points.forEach(addPoint);
  } catch (e) { /* the event stream fills the charts anyway */ }
  const es = new EventSource('/api/v1/events');
  es.addEventListener('metrics', (ev) => {
    $('stream-status').textContent = 'live';
    render(JSON.parse(ev.data));
  });
  es.onerror = () => { $('stream-status').textContent = 'reconnecting'; };
}

start();
