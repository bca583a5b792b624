// app.js - Roda's fleet page: the gateway's state, its live alerts (/alerts, Server-Sent Events)
// and its sensors (/api/*). Everything that comes from devices is untrusted: it is only ever
// written as text (textContent, SVG attributes of numbers), never parsed as markup.
'use strict';

const POLL_MS = 2000;
const PAGE_ROWS = 50;
const ALERTS_SHOWN = 200;
const RECENT_SHOWN = 50;
// A stream the server refused (503: limits.max_sse_clients in use) is retried after this, doubled
// on each refusal up to the most.
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

const $ = (id) => document.getElementById(id);

// An element with a class and text (both optional); children appended in order.
function el(tag, className, text, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const c of children) e.appendChild(c);
  return e;
}

// Sensor ids are 64-bit: JavaScript numbers would round them, so they stay strings.
function parseExact(text) {
  return JSON.parse(text.replace(/"(sensor|ingest_time_ns)":(\d+)/g, '"$1":"$2"'));
}

async function getJSON(url) {
  const response = await fetch(url, { cache: 'no-store' });
  const text = await response.text();
  if (!response.ok) throw new Error(text.trim() || response.statusText);
  return parseExact(text);
}

function fmt(v) {
  if (v === null || v === undefined) return '-';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(6)));
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

// ---- Header: version, uptime, inputs, rates ----------------------------------------------

let previous = null;
let startedMs = null; // the gateway's start time (/api/summary): another one means it restarted

function totals(summary) {
  let readings = 0, drops = 0;
  for (const input of summary.inputs) {
    readings += input.readings;
    drops += input.dropped_messages + input.dropped_readings;
  }
  return { readings, drops, at: performance.now() };
}

async function refreshSummary() {
  try {
    const s = await getJSON('/api/summary');
    if (startedMs !== null && s.started_ms !== startedMs) restarted();
    startedMs = s.started_ms;
    $('version').textContent = 'v' + s.version;
    $('uptime').textContent = duration(s.uptime_s);
    $('sensor-count').textContent = s.sensors;
    $('device-count').textContent = s.devices;
    const now = totals(s);
    if (previous) {
      const dt = (now.at - previous.at) / 1000;
      $('rate').textContent = fmt(Math.round(Math.max(0, (now.readings - previous.readings) / dt)));
      $('drops').textContent = fmt(Math.round(Math.max(0, (now.drops - previous.drops) / dt)));
    }
    previous = now;
    const inputs = $('inputs');
    inputs.replaceChildren();
    for (const input of s.inputs) {
      if (!input.enabled) continue;
      const label = input.ready ? (input.name === 'mqtt' ? 'connected' : 'listening') : input.state;
      const badge = el('span', 'badge input-state ' + (input.ready ? 'ok' : 'bad'),
        input.name + ': ' + label);
      badge.title = input.state;
      inputs.appendChild(badge);
    }
  } catch (e) {
    $('version').textContent = 'gateway unreachable: ' + e.message;
  }
}

// ---- Alerts (SSE) --------------------------------------------------------------------------

let lastAlertId = null;
let source = null; // the /alerts EventSource
let retryMs = RETRY_MIN_MS;
let retryTimer = null;

function alertItem(a) {
  const li = el('li', a.severity + ' ' + a.state);
  li.dataset.id = a.id;
  li.dataset.sensor = a.sensor;
  li.appendChild(el('span', 'state ' + (a.state === 'firing' ? 'sev-' + a.severity : 'state-resolved'),
    a.state === 'firing' ? a.severity.toUpperCase() : 'resolved'));
  const sensor = a.sensor_name !== null ? a.sensor_name : a.sensor;
  li.appendChild(el('span', 'what', a.rule + ' on ' + (a.device !== null ? a.device : '?') + '/' +
    sensor + ': ' + fmt(a.value) + ' (limit ' + fmt(a.threshold) + ')'));
  li.appendChild(el('span', 'muted', ' ' + new Date(Number(a.ingest_time_ns) / 1e6).toLocaleTimeString()));
  li.addEventListener('click', () => openSensor(a.sensor));
  return li;
}

function prepend(list, li, max) {
  list.insertBefore(li, list.firstChild);
  while (list.children.length > max) list.removeChild(list.lastChild);
}

function showAlert(a) {
  lastAlertId = Number(a.id);
  prepend($('alerts'), alertItem(a), ALERTS_SHOWN);
}

// The stream resumes after the newest id shown, so an id at or below it means the alert ids
// started again: the gateway restarted with an in-memory alert journal.
function streamAlert(a) {
  if (lastAlertId !== null && Number(a.id) <= lastAlertId) restarted();
  else showAlert(a);
}

function showGap(data) {
  const li = el('li', 'gap', data.missed + ' alerts missed (the stream fell behind); resumed at ' +
    data.next_id);
  prepend($('alerts'), li, ALERTS_SHOWN);
}

function connectAlerts() {
  // Resumes after the newest alert shown; the browser then resends Last-Event-ID itself on each
  // reconnect, so nothing is shown twice or skipped silently (a gap event says what was lost).
  retryTimer = null;
  if (source !== null) source.close(); // one stream at a time, whatever started this one
  const url = lastAlertId !== null ? '/alerts?last_event_id=' + lastAlertId : '/alerts';
  const stream = new EventSource(url);
  source = stream;
  const conn = $('conn');
  stream.onopen = () => {
    retryMs = RETRY_MIN_MS;
    conn.textContent = 'live';
    conn.className = 'badge ok';
  };
  stream.onerror = () => {
    conn.textContent = 'reconnecting';
    conn.className = 'badge bad';
    // A lost connection is retried by the browser; a refused one (an HTTP error) closes the
    // EventSource for good, so a new one is made after a back-off.
    if (stream.readyState === EventSource.CLOSED && stream === source && retryTimer === null) {
      retryTimer = setTimeout(connectAlerts, retryMs);
      retryMs = Math.min(2 * retryMs, RETRY_MAX_MS);
    }
  };
  stream.addEventListener('alert', (e) => streamAlert(parseExact(e.data)));
  stream.addEventListener('gap', (e) => showGap(JSON.parse(e.data)));
}

// Shows the newest alerts (as many as /alerts/recent gives without a limit: limits.recent_alerts
// or 100, whichever is less, so never a 400), then follows the stream.
async function startAlerts() {
  try {
    const recent = await getJSON('/alerts/recent');
    for (const a of recent.slice(-RECENT_SHOWN)) showAlert(a);
  } catch (e) {
    $('conn').textContent = 'no recent alerts: ' + e.message;
  }
  connectAlerts();
}

// The gateway restarted (another start time, or alert ids that went back): its alert ids may
// have started again, so the list says so and the alerts start over from /alerts/recent.
function restarted() {
  startedMs = null;
  if (source !== null) source.close();
  source = null;
  clearTimeout(retryTimer);
  retryTimer = null;
  lastAlertId = null;
  prepend($('alerts'), el('li', 'gap restart', 'gateway restarted'), ALERTS_SHOWN);
  startAlerts();
}

// ---- Charts --------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// A polyline of the values in a width x height box; labels: min and max at the left.
function chart(values, width, height, className, labels) {
  const box = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: className,
    preserveAspectRatio: 'none' });
  const finite = values.filter((v) => typeof v === 'number' && isFinite(v));
  if (finite.length === 0) return box;
  const lo = Math.min(...finite), hi = Math.max(...finite);
  const span = hi - lo || 1, pad = labels ? 12 : 2;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = [];
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !isFinite(v)) return;
    const y = pad + (height - 2 * pad) * (1 - (v - lo) / span);
    points.push((i * step).toFixed(1) + ',' + y.toFixed(1));
  });
  box.appendChild(svg('polyline', { points: points.join(' ') }));
  if (labels) {
    const top = svg('text', { x: 2, y: 10 });
    top.textContent = fmt(hi);
    const bottom = svg('text', { x: 2, y: height - 2 });
    bottom.textContent = fmt(lo);
    box.appendChild(top);
    box.appendChild(bottom);
  }
  return box;
}

// ---- Sensors table -------------------------------------------------------------------------

const filter = { device: '', rule: '', severity: '', offset: 0 };
let nextOffset = null;

function sensorsURL(extra) {
  const q = new URLSearchParams({ limit: PAGE_ROWS, offset: filter.offset, ...extra });
  for (const k of ['device', 'rule', 'severity']) if (filter[k]) q.set(k, filter[k]);
  return '/api/sensors?' + q.toString();
}

function sensorRow(s) {
  const tr = el('tr');
  tr.dataset.sensor = s.id;
  tr.appendChild(el('td', 'device', s.device !== null ? s.device : '?'));
  tr.appendChild(el('td', 'sensor', s.name !== null ? s.name : s.id));
  tr.appendChild(el('td', null, fmt(s.last)));
  tr.appendChild(el('td', null, fmt(s.mean)));
  tr.appendChild(el('td', null, duration(s.age_ms / 1000)));
  const spark = el('td');
  spark.appendChild(chart(s.recent, 100, 20, 'spark', false));
  tr.appendChild(spark);
  tr.addEventListener('click', () => openSensor(s.id));
  return tr;
}

async function refreshSensors() {
  const error = $('filter-error');
  try {
    const page = await getJSON(sensorsURL({}));
    error.hidden = true;
    const body = $('sensors').tBodies[0];
    body.replaceChildren(...page.sensors.map(sensorRow));
    nextOffset = page.next_offset;
    const last = page.offset + page.sensors.length;
    $('page-info').textContent = page.total === 0 ? 'no sensors' :
      `${page.offset + 1}-${last} of ${page.total}`;
    $('prev').disabled = page.offset === 0;
    $('next').disabled = nextOffset === null;
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  }
}

function setupFilter() {
  $('filter').addEventListener('submit', (e) => {
    e.preventDefault();
    filter.device = $('f-device').value.trim();
    filter.rule = $('f-rule').value.trim();
    filter.severity = $('f-severity').value;
    filter.offset = 0;
    refreshSensors();
  });
  $('prev').addEventListener('click', () => {
    filter.offset = Math.max(0, filter.offset - PAGE_ROWS);
    refreshSensors();
  });
  $('next').addEventListener('click', () => {
    if (nextOffset === null) return;
    filter.offset = nextOffset;
    refreshSensors();
  });
}

// ---- Sensor view ---------------------------------------------------------------------------

let openId = null;

async function refreshSensorView() {
  if (openId === null) return;
  const id = openId;
  try {
    const page = await getJSON('/api/sensors?id=' + encodeURIComponent(id));
    const history = await getJSON('/api/alerts?limit=20&sensor=' + encodeURIComponent(id));
    if (id !== openId) return;
    const s = page.sensors[0];
    $('sv-title').textContent = (s.device !== null ? s.device : '?') + ' / ' +
      (s.name !== null ? s.name : s.id);
    $('sv-stats').textContent = `id ${s.id} · ${s.input || '?'} · ${s.count} readings · last ` +
      `${fmt(s.last)} · mean ${fmt(s.mean)} · min ${fmt(s.min)} · max ${fmt(s.max)} · ` +
      `${duration(s.age_ms / 1000)} ago`;
    $('sv-chart').replaceChildren(chart(s.recent, 600, 160, 'chart', true));
    const list = $('sv-alerts');
    list.replaceChildren(...history.reverse().map(alertItem));
    if (history.length === 0) list.appendChild(el('li', 'muted', 'no recent alerts'));
  } catch (e) {
    $('sv-stats').textContent = e.message;
  }
}

function openSensor(id) {
  openId = String(id);
  $('sensor-view').hidden = false;
  refreshSensorView();
}

// ---- Start ---------------------------------------------------------------------------------

function start() {
  $('sv-close').addEventListener('click', () => {
    openId = null;
    $('sensor-view').hidden = true;
  });
  setupFilter();
  refreshSummary();
  refreshSensors();
  startAlerts();
  setInterval(() => {
    refreshSummary();
    refreshSensors();
    refreshSensorView();
  }, POLL_MS);
}

start();
