// The dashboard: reads and writes through the REST API with the session cookie (writes
// carry the CSRF token), follows the event stream for live updates. No dependencies.
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const me = JSON.parse(document.querySelector('meta[name="principal"]').content);
const view = document.getElementById('view');
const live = document.getElementById('live');

const esc = (v) => String(v ?? '').replace(/[&<>"']/g,
  (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const money = (m) => (m ? `${m.amount} ${m.currency}` : '—');
const time = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const when = (t) => (t ? new Date(t).toLocaleString() : '—');

class Problem extends Error {
  constructor(body, status) { super(body.detail || body.title || `HTTP ${status}`); this.status = status; }
}

// Read-your-writes: the commit position of this tab's last write (Stockline-Position), sent
// back with every request, so that a read replica answers only once it has that write (the
// primary answers meanwhile). Kept for the tab's session, reloads included.
const POSITION_KEY = 'stockline-position';
let position = sessionStorage.getItem(POSITION_KEY);
async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') { headers['X-CSRF-Token'] = csrf; headers['Content-Type'] = 'application/json'; }
  if (position) headers['Stockline-Read-After'] = position;
  const answer = await fetch(path, { method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body) });
  const written = answer.headers.get('Stockline-Position');
  if (written) { position = written; sessionStorage.setItem(POSITION_KEY, written); }
  const data = answer.headers.get('content-type')?.includes('json') ? await answer.json() : await answer.text();
  if (!answer.ok) throw new Problem(typeof data === 'object' ? data : {}, answer.status);
  return data;
}
const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v != null)).toString();
async function all(path, params, pages = 10) {
  const items = []; let cursor = null;
  for (let i = 0; i < pages; i += 1) {
    const page = await api(`${path}?${query({ ...params, limit: 500, cursor })}`);
    items.push(...page.items); cursor = page.next_cursor; if (!cursor) break;
  }
  return items;
}
async function tryApi(path, fallback) {
  try { return await api(path); } catch (e) { return fallback(e); }
}
// Every read is the server's to scope: with the session, a key limited to some locations
// reads those only, even what its role may read elsewhere over the API with the key itself.
const levelsOf = (params, pages) => all('/v1/inventory', params, pages);
const refused = (e) => `<p class="muted">${esc(e.status === 403 ? 'Not available to your role.' : e.message)}</p>`;

function table(caption, columns, rows, empty = 'Nothing to show.') {
  if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
  const head = columns.map((c) => `<th scope="col" class="${c.n ? 'n' : ''}">${esc(c.label)}</th>`).join('');
  const body = rows.map((r) => `<tr class="${r._class || ''}">${columns.map((c) =>
    `<td data-label="${esc(c.label)}" class="${c.n ? 'n' : ''}">${c.html ? c.html(r) : esc(c.value(r))}</td>`).join('')}</tr>`).join('');
  return `<div class="scroll"><table class="responsive"><caption class="sr">${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

// ---- the event stream: one EventSource, resumed by the browser with Last-Event-ID ----
const handlers = new Set();
let eventTimes = [];
let lastId = null; // the id of the last event handled: each is handled once
const TYPES = ['inventory.changed', 'inventory.low_stock', 'sale.recorded', 'sale.returned', 'sale.updated',
  'transfer.shipped', 'transfer.received', 'transfer.cancelled', 'transfer.closed', 'reservation.created',
  'reservation.committed', 'reservation.released', 'reservation.expired', 'count_task.opened',
  'count_task.completed', 'feedback.received', 'product.changed', 'location.updated', 'supplier.updated'];
const REOPEN_MS = 3000;
function connect() {
  // A dropped connection is reopened by the browser itself, with Last-Event-ID. One it gave
  // up on (an answer that was not a stream, such as a proxy's 502) is opened anew here,
  // after the last id handled; a session that has ended shows the sign-in form instead.
  const source = new EventSource(lastId === null ? '/v1/events/stream' : `/v1/events/stream?after=${lastId}`);
  source.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
  source.onerror = async () => {
    live.textContent = 'reconnecting'; live.className = 'live off';
    if (source.readyState !== EventSource.CLOSED) return;
    const probe = await fetch('/v1/events?limit=1', { credentials: 'same-origin' }).catch(() => null);
    if (probe && probe.status === 401) { window.location.reload(); return; }
    setTimeout(connect, REOPEN_MS);
  };
  for (const type of TYPES) {
    source.addEventListener(type, (message) => {
      const id = Number(message.lastEventId);
      if (lastId !== null && id <= lastId) return;
      lastId = id;
      const event = JSON.parse(message.data);
      eventTimes.push(performance.now());
      for (const handler of handlers) handler(event);
    });
  }
  source.addEventListener('reset', (message) => { lastId = Number(message.lastEventId); });
}
function eventsPerSecond() {
  const now = performance.now(); eventTimes = eventTimes.filter((t) => now - t < 5000);
  return (eventTimes.filter((t) => now - t < 1000).length).toFixed(0);
}
const debounced = (fn, ms = 150) => { let t; return () => { clearTimeout(t); t = setTimeout(fn, ms); }; };
// One draw at a time: a call while one runs queues one more to start after it (calls while
// one is queued share it), so an answer read earlier never lands over one read later.
function serial(fn) {
  let tail = Promise.resolve(); let queued = null;
  return () => {
    if (queued) return queued;
    queued = tail.then(() => { queued = null; return fn(); });
    tail = queued.catch(() => {});
    return queued;
  };
}

// ---- Network ----
function heat(level) {
  const point = level.reorder_point ?? 0;
  if (level.available <= point) return 0;
  if (level.available <= point * 2) return 1;
  return level.available <= point * 4 ? 2 : 3;
}
const levelColumns = [
  { label: 'Location', html: (l) => `<a href="#level/${esc(l.location_id)}/${esc(l.sku)}">${esc(l.location_id)}</a>` },
  { label: 'SKU', value: (l) => l.sku },
  { label: 'On hand', n: true, value: (l) => l.on_hand },
  { label: 'Available', n: true, html: (l) => `${esc(l.available)}${heat(l) === 0 ? '<span class="tag low">low</span>' : ''}` },
  { label: 'In transit', n: true, value: (l) => l.in_transit },
];
const LOW_SHOWN = 12;
const lowColumns = [
  { label: 'Level', html: (l) => `<a href="#level/${esc(l.location_id)}/${esc(l.sku)}">${esc(l.location_id)} · ${esc(l.sku)}</a>` },
  { label: 'Available', n: true, html: (l) => `${esc(l.available)}<span class="tag low">low</span>` },
  { label: 'Reorder point', n: true, value: (l) => l.reorder_point ?? '—' },
];
const locationColumns = [
  { label: 'Location', html: (l) => `<a href="#network/location/${esc(l.location_id)}">${esc(l.location_id)}</a> <span class="muted">${esc(l.location_type)}</span>` },
  { label: 'SKUs', n: true, value: (l) => l.skus },
  { label: 'On hand', n: true, value: (l) => l.on_hand },
  { label: 'Available', n: true, value: (l) => l.available },
  { label: 'In transit', n: true, value: (l) => l.in_transit },
  { label: 'Low', n: true, html: (l) => (l.low ? `${l.low}<span class="tag low">low</span>` : '0') },
];
function saleItem(sale, fresh) {
  const skus = sale.lines.map((l) => `${l.quantity}× ${l.sku}`).join(', ');
  return `<li class="${fresh ? 'new' : ''}" data-sale="${esc(sale.id)}"><strong>${esc(sale.location_id)}</strong> · ${esc(skus)} · <strong>${esc(money(sale.total))}</strong> <span class="muted">${esc(time(sale.occurred_at))}</span></li>`;
}
// Units sold in each hour of a day, from the sales report summed by hour (each store's
// local hours, as the server keeps its days).
function perHour(rows) {
  const counts = new Array(24).fill(0);
  for (const r of rows) counts[Number(r.hour.slice(11, 13))] += r.units;
  return counts;
}
const hoursOf = async (from, to) => perHour((await api(`/v1/reports/sales?${query({
  from: from.toISOString(), to: to.toISOString(), group_by: 'hour' })}`)).rows);
const daysAfter = (day, n) => { const d = new Date(day); d.setDate(d.getDate() + n); return d; };
function hourChart(today, last) {
  const max = Math.max(1, ...today, ...last); const W = 720; const H = 180; const bw = W / 24;
  const y = (v) => H - 20 - (v / max) * (H - 30);
  const bars = today.map((v, h) => `<rect class="bar-last" x="${h * bw + 2}" y="${y(last[h])}" width="${bw / 2 - 2}" height="${H - 20 - y(last[h])}"><title>${h}:00 last week: ${last[h]} units</title></rect>
    <rect class="bar-today" x="${h * bw + bw / 2}" y="${y(v)}" width="${bw / 2 - 2}" height="${H - 20 - y(v)}"><title>${h}:00 today: ${v} units</title></rect>
    ${h % 3 === 0 ? `<text x="${h * bw + 2}" y="${H - 5}">${h}h</text>` : ''}`).join('');
  return `<div class="legend" aria-hidden="true"><span><span class="key today"></span>Today (solid)</span><span><span class="key last"></span>Same weekday last week (hatched)</span></div>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Units sold per hour, today against the same weekday last week">
    <defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="5" height="5" fill="#fff"/><line x1="0" y1="0" x2="0" y2="5" stroke="#7a8792" stroke-width="3"/></pattern></defs>
    <line class="axis" x1="0" y1="${H - 20}" x2="${W}" y2="${H - 20}"/>${bars}</svg>
    <details><summary>As a table</summary>${table('Units per hour', [{ label: 'Hour', value: (r) => `${r.h}:00` },
      { label: 'Today', n: true, value: (r) => r.t }, { label: 'Last week', n: true, value: (r) => r.l }],
      today.map((t, h) => ({ h, t, l: last[h] })).filter((r) => r.t || r.l), 'No sales in either day yet.')}</details>`;
}
async function network(params) {
  const filter = { kind: params[0] || 'sku', value: decodeURIComponent(params[1] || '') };
  view.innerHTML = `<h1>Network</h1><div class="grid">
   <section class="card wide" aria-labelledby="stock-h"><h2 id="stock-h">Stock by location</h2>
    <form class="inline" id="filter"><label>Show<select name="kind"><option value="sku">SKU</option><option value="category">Category</option><option value="location">Location</option></select></label>
     <label>SKU, category or location<input name="value" value="${esc(filter.value)}" placeholder="all"></label><button type="submit">Show</button></form>
    <p class="muted">Shading and the “low” tag mark levels at or below their reorder point.</p><div id="levels">Loading…</div></section>
   <section class="card" aria-labelledby="ticker-h"><h2 id="ticker-h">Live sales</h2>
    <dl class="stats"><div><dt>Sales since opened</dt><dd id="sales-count">0</dd></div><div><dt>Events per second</dt><dd id="eps">0</dd></div></dl>
    <ol class="ticker" id="ticker" aria-live="polite" aria-label="Sales as they happen"></ol></section>
   <section class="card" aria-labelledby="low-h"><h2 id="low-h">Low stock</h2><div id="low">Loading…</div></section>
   <section class="card wide" aria-labelledby="hours-h"><h2 id="hours-h">Sales per hour</h2><div id="hours">Loading…</div></section></div>`;
  const form = view.querySelector('#filter'); form.kind.value = filter.kind;
  form.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#network/${form.kind.value}/${encodeURIComponent(form.value.value.trim())}`; });
  const levels = new Map();
  const perLevel = filter.value && filter.kind !== 'category';
  const inScope = (l) => !perLevel || (filter.kind === 'location' ? l.location_id === filter.value : l.sku === filter.value);
  let summary = [];
  const drawLevels = () => {
    const box = view.querySelector('#levels');
    if (!perLevel) {
      for (const r of summary) r._class = `heat-${r.low === 0 ? 3 : r.low * 10 < r.skus ? 2 : r.low * 4 < r.skus ? 1 : 0}`;
      box.innerHTML = table('Stock by location', locationColumns, summary, 'No stock yet.');
      return;
    }
    const rows = [...levels.values()].sort((a, b) => a.location_id.localeCompare(b.location_id) || a.sku.localeCompare(b.sku));
    for (const r of rows) r._class = `heat-${heat(r)}`;
    box.innerHTML = table('Stock by location', levelColumns, rows, 'No levels match.');
  };
  const loadSummary = serial(async () => {
    const params = filter.kind === 'category' ? { category: filter.value } : {};
    try { summary = (await api(`/v1/inventory/by-location?${query(params)}`)).items; } catch (e) { summary = []; }
    drawLevels();
  });
  let lowRows = new Map();
  const drawLow = () => {
    const low = [...lowRows.values()].filter((l) => heat(l) === 0 && inScope(l));
    view.querySelector('#low').innerHTML = table('Low stock', lowColumns, low.slice(0, LOW_SHOWN), 'Nothing at or below its reorder point.')
      + (low.length > LOW_SHOWN ? `<p class="muted">and ${low.length - LOW_SHOWN} more</p>` : '');
  };
  if (perLevel) {
    const narrow = filter.kind === 'location' ? { location_id: filter.value } : { sku: filter.value };
    for (const l of await levelsOf(narrow, 2).catch(() => [])) levels.set(`${l.location_id}/${l.sku}`, l);
    drawLevels();
  } else await loadSummary();
  lowRows = new Map((await levelsOf({ below_reorder_point: true }, 2).catch(() => [])).map((l) => [`${l.location_id}/${l.sku}`, l]));
  drawLow();
  const reloadSummary = debounced(loadSummary, 150);
  const ticker = view.querySelector('#ticker'); let seen = 0;
  const recent = await tryApi(`/v1/sales?limit=15`, () => ({ items: [] }));
  ticker.innerHTML = recent.items.map((s) => saleItem(s, false)).join('');
  const start = new Date(); start.setHours(0, 0, 0, 0); const lastStart = daysAfter(start, -7);
  let last = new Array(24).fill(0);
  const loadHours = serial(async () => {
    try { view.querySelector('#hours').innerHTML = hourChart(await hoursOf(start, daysAfter(start, 1)), last); } catch (e) { view.querySelector('#hours').innerHTML = refused(e); }
  });
  last = await hoursOf(lastStart, daysAfter(lastStart, 1)).catch(() => last);
  await loadHours();
  const reloadHours = debounced(loadHours, 300);
  return (event) => {
    view.querySelector('#eps').textContent = eventsPerSecond();
    if (event.type === 'inventory.changed') {
      const key = `${event.location_id}/${event.sku}`;
      const known = levels.get(key) || lowRows.get(key);
      const now = { reorder_point: null, ...known, location_id: event.location_id, sku: event.sku, ...event.data };
      if (perLevel && inScope(event)) { levels.set(key, now); drawLevels(); }
      if (!perLevel) reloadSummary();
      if (known && lowRows.has(key)) { lowRows.set(key, now); drawLow(); }
    }
    if (event.type === 'inventory.low_stock') {
      api(`/v1/inventory/${encodeURIComponent(event.location_id)}/${encodeURIComponent(event.sku)}`)
        .then((l) => { lowRows.set(`${l.location_id}/${l.sku}`, l); drawLow(); }).catch(() => {});
    }
    if (event.type === 'sale.recorded' && event.data.lines) {
      const d = event.data;
      const sale = { id: d.sale_id, location_id: event.location_id, lines: d.lines, total: d.total, occurred_at: event.occurred_at };
      ticker.insertAdjacentHTML('afterbegin', saleItem(sale, true));
      while (ticker.children.length > 50) ticker.lastElementChild.remove();
      seen += 1; view.querySelector('#sales-count').textContent = seen;
      reloadHours();
    }
  };
}

// ---- Level ----
function ledgerChart(moves) {
  if (moves.length < 1) return '<p class="muted">No ledger entries yet.</p>';
  const pts = [...moves].sort((a, b) => a.id - b.id).map((m) => ({ t: new Date(m.occurred_at).getTime(), v: m.balance_after }));
  const W = 720; const H = 200; const t0 = pts[0].t; const t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  const max = Math.max(1, ...pts.map((p) => p.v));
  const x = (t) => 40 + ((t - t0) / (t1 - t0)) * (W - 60); const y = (v) => H - 25 - (v / max) * (H - 40);
  let path = `M${x(pts[0].t)},${y(pts[0].v)}`;
  for (let i = 1; i < pts.length; i += 1) path += ` H${x(pts[i].t)} V${y(pts[i].v)}`;
  const dots = pts.map((p) => `<circle class="point" cx="${x(p.t)}" cy="${y(p.v)}" r="3"><title>${new Date(p.t).toLocaleString()}: ${p.v}</title></circle>`).join('');
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="On hand over time, from ${pts[0].v} to ${pts[pts.length - 1].v} units">
   <line class="axis" x1="40" y1="${H - 25}" x2="${W - 20}" y2="${H - 25}"/><line class="axis" x1="40" y1="10" x2="40" y2="${H - 25}"/>
   <text x="2" y="${y(max) + 4}">${max}</text><text x="2" y="${H - 21}">0</text>
   <text x="40" y="${H - 6}">${esc(new Date(t0).toLocaleString())}</text><text x="${W - 200}" y="${H - 6}">${esc(new Date(t1).toLocaleString())}</text>
   <path class="line" d="${path}"/>${dots}</svg>`;
}
async function level(params) {
  const [loc = '', sku = ''] = params.map(decodeURIComponent);
  view.innerHTML = `<h1>Level</h1><form class="inline card" id="pick"><label>Location<input name="loc" value="${esc(loc)}" required></label>
    <label>SKU<input name="sku" value="${esc(sku)}" required></label><button type="submit">Show</button></form><div id="detail"></div>`;
  const form = view.querySelector('#pick');
  form.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#level/${encodeURIComponent(form.loc.value.trim())}/${encodeURIComponent(form.sku.value.trim())}`; });
  if (!loc || !sku) return null;
  const detail = view.querySelector('#detail');
  const draw = serial(async () => {
    const base = `location_id=${encodeURIComponent(loc)}&sku=${encodeURIComponent(sku)}`;
    let lv;
    try { lv = await api(`/v1/inventory/${encodeURIComponent(loc)}/${encodeURIComponent(sku)}`); } catch (e) { detail.innerHTML = `<p class="alert" role="alert">${esc(e.message)}</p>`; return; }
    const [moves, holds, sugg] = await Promise.all([tryApi(`/v1/stock-movements?${base}&limit=200`, () => ({ items: [] })),
      tryApi(`/v1/reservations?status=active&location_id=${encodeURIComponent(loc)}&limit=200`, () => ({ items: [] })),
      tryApi(`/v1/replenishment/suggestions?${base}`, () => ({ items: [] }))]);
    const held = holds.items.filter((r) => r.lines.some((l) => l.sku === sku));
    const s = sugg.items[0];
    detail.innerHTML = `<div class="grid"><section class="card" aria-labelledby="num-h"><h2 id="num-h">${esc(loc)} · ${esc(sku)}</h2>
      <dl class="stats"><div><dt>On hand</dt><dd id="lv-on-hand">${lv.on_hand}</dd></div><div><dt>Available</dt><dd id="lv-available">${lv.available}</dd></div>
      <div><dt>Reserved</dt><dd>${lv.reserved}</dd></div><div><dt>In transit</dt><dd>${lv.in_transit}</dd></div><div><dt>Reorder point</dt><dd>${lv.reorder_point ?? '—'}</dd></div></dl></section>
      <section class="card" aria-labelledby="rep-h"><h2 id="rep-h">Replenishment</h2>${s ? `<p>Bring in <strong>${s.quantity}</strong> units from ${esc(s.source ? `${s.source.type} ${s.source.id}` : 'no known source')} (selling ${s.daily_velocity.toFixed(1)} a day; ${s.on_order} already on the way).</p>` : '<p class="muted">No suggestion: above its reorder point.</p>'}
      <h2>Lots</h2>${table('Lots', [{ label: 'Lot', value: (l) => l.lot ?? '(none)' }, { label: 'On hand', n: true, value: (l) => l.on_hand }, { label: 'Expires', value: (l) => l.expires_on ?? '—' }], lv.lots || [], 'Not kept in lots.')}
      <h2>Holds</h2>${table('Holds', [{ label: 'Reservation', value: (r) => r.id }, { label: 'Units', n: true, value: (r) => r.lines.filter((l) => l.sku === sku).reduce((n, l) => n + l.quantity, 0) }, { label: 'Expires', value: (r) => when(r.expires_at) }], held, 'No active holds.')}</section>
      <section class="card wide" aria-labelledby="chart-h"><h2 id="chart-h">On hand over time</h2>${ledgerChart(moves.items)}</section>
      <section class="card wide" aria-labelledby="ledger-h"><h2 id="ledger-h">Ledger</h2>${table('Ledger', [{ label: 'When', value: (m) => when(m.occurred_at) }, { label: 'Type', value: (m) => `${m.type} (${m.reason})` },
        { label: 'Change', n: true, value: (m) => (m.delta > 0 ? `+${m.delta}` : m.delta) }, { label: 'On hand after', n: true, value: (m) => m.balance_after }, { label: 'By', value: (m) => m.actor }], moves.items, 'No entries.')}</section></div>`;
  });
  await draw();
  const redraw = debounced(draw);
  return (event) => { if (event.location_id === loc && (event.sku === sku || event.type.startsWith('reservation'))) redraw(); };
}

// ---- Transfers and purchase orders ----
const OVERDUE_DAYS = 3; // a transfer in transit longer than this is flagged
const lineText = (lines) => lines.map((l) => `${l.quantity}× ${l.sku}${l.received != null ? ` (${l.received} in)` : ''}`).join(', ');
async function transfers() {
  view.innerHTML = `<h1>Transfers and purchase orders</h1><div id="msg" role="status" aria-live="polite"></div><div class="grid">
    <section class="card wide" aria-labelledby="tr-h"><h2 id="tr-h">Transfers in transit</h2><div id="transfers">Loading…</div></section>
    <section class="card wide" aria-labelledby="po-h"><h2 id="po-h">Open purchase orders</h2><div id="orders">Loading…</div></section></div>`;
  const msg = view.querySelector('#msg');
  const draw = serial(async () => {
    const now = Date.now();
    try {
      const [moving, short] = await Promise.all([all('/v1/stock-movements/transfers', { status: 'in_transit' }, 2),
        all('/v1/stock-movements/transfers', { status: 'partially_received' }, 2)]);
      const rows = [...moving, ...short].map((t) => ({ ...t, overdue: t.status === 'in_transit' && now - new Date(t.created_at) > OVERDUE_DAYS * 86400e3 }));
      view.querySelector('#transfers').innerHTML = table('Transfers', [{ label: 'Transfer', value: (t) => t.id },
        { label: 'Route', value: (t) => `${t.from_location_id} → ${t.to_location_id}` }, { label: 'Lines', value: (t) => lineText(t.lines) },
        { label: 'State', html: (t) => `${esc(t.status.replace('_', ' '))}${t.overdue ? '<span class="tag over">overdue</span>' : ''}${t.status === 'partially_received' ? '<span class="tag low">short</span>' : ''}` },
        { label: 'Shipped', value: (t) => when(t.created_at) },
        { label: 'Actions', html: (t) => `<div class="actions"><button data-act="receive" data-id="${esc(t.id)}">Receive</button>${t.status === 'in_transit' ? `<button class="secondary" data-act="cancel" data-id="${esc(t.id)}">Cancel</button>` : `<button class="secondary" data-act="close" data-id="${esc(t.id)}">Close short</button>`}</div>` }],
      rows, 'Nothing in transit.');
    } catch (e) { view.querySelector('#transfers').innerHTML = refused(e); }
    try {
      const orders = [...await all('/v1/purchase-orders', { status: 'ordered' }, 2), ...await all('/v1/purchase-orders', { status: 'partially_received' }, 2)];
      view.querySelector('#orders').innerHTML = table('Purchase orders', [{ label: 'Order', value: (o) => o.id },
        { label: 'Supplier → location', value: (o) => `${o.supplier_id} → ${o.location_id}` }, { label: 'Lines', value: (o) => lineText(o.lines) },
        { label: 'State', html: (o) => `${esc(o.status.replace('_', ' '))}${o.expected_at && new Date(o.expected_at) < now ? '<span class="tag over">overdue</span>' : ''}` },
        { label: 'Expected', value: (o) => when(o.expected_at) },
        { label: 'Actions', html: (o) => `<div class="actions"><button data-act="po-receive" data-id="${esc(o.id)}">Receive all</button>${o.status === 'ordered' ? `<button class="secondary" data-act="po-cancel" data-id="${esc(o.id)}">Cancel</button>` : ''}</div>` }],
      orders, 'No open orders.');
    } catch (e) { view.querySelector('#orders').innerHTML = refused(e); }
  });
  const paths = { receive: (id) => [`/v1/stock-movements/transfers/${id}/receive`, {}], cancel: (id) => [`/v1/stock-movements/transfers/${id}/cancel`, {}],
    close: (id) => [`/v1/stock-movements/transfers/${id}/close`, { remainder: 'lost' }], 'po-receive': (id) => [`/v1/purchase-orders/${id}/receive`, {}],
    'po-cancel': (id) => [`/v1/purchase-orders/${id}/cancel`, {}] };
  view.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-act]'); if (!button) return;
    const [path, body] = paths[button.dataset.act](encodeURIComponent(button.dataset.id));
    button.disabled = true;
    try { await api(path, { method: 'POST', body }); msg.className = 'ok'; msg.textContent = `Done: ${button.textContent} ${button.dataset.id}`; await draw(); } catch (err) { msg.className = 'alert'; msg.textContent = err.message; button.disabled = false; }
  });
  await draw();
  const redraw = debounced(draw, 300);
  return (event) => { if (event.type.startsWith('transfer.') || event.type === 'inventory.changed') redraw(); };
}

// ---- Accuracy ----
const locationField = () => (me.locations && me.locations.length === 1
  ? `<input type="hidden" name="location_id" value="${esc(me.locations[0])}"><p class="muted">Store: ${esc(me.locations[0])}</p>`
  : me.locations ? `<label for="d-loc">Store</label><select id="d-loc" name="location_id">${me.locations.map((l) => `<option>${esc(l)}</option>`).join('')}</select>`
    : '<label for="d-loc">Location</label><input id="d-loc" name="location_id" required autocomplete="off">');
async function accuracy() {
  view.innerHTML = `<h1>Accuracy</h1><div id="msg" role="status" aria-live="polite"></div><div class="grid">
    <section class="card" aria-labelledby="rep-h"><h2 id="rep-h">Report a discrepancy</h2>
     <form class="stack" id="report">${locationField()}<label for="d-sku">SKU</label><input id="d-sku" name="sku" required autocomplete="off">
      <label for="d-qty">Units on the shelf</label><input id="d-qty" name="observed_quantity" type="number" min="0" inputmode="numeric">
      <label for="d-note">Note</label><input id="d-note" name="note" maxlength="500"><button type="submit">Report a discrepancy</button></form></section>
    <section class="card" aria-labelledby="q-h"><h2 id="q-h">Count tasks</h2><div id="tasks">Loading…</div></section>
    <section class="card" aria-labelledby="rate-h"><h2 id="rate-h">How quickly does the system show what you see?</h2>
     <fieldset class="rating" id="rating"><legend class="sr">Rating from 1 (slow) to 5 (instant)</legend>${[1, 2, 3, 4, 5].map((n) => `<button type="button" class="secondary" data-rating="${n}" aria-label="${n} of 5">${n}</button>`).join('')}</fieldset>
     <p class="muted">1: slow · 5: instant</p></section>
    <section class="card" aria-labelledby="dr-h"><h2 id="dr-h">Discrepancy reports</h2><div id="reports">Loading…</div></section>
    <section class="card wide" aria-labelledby="acc-h"><h2 id="acc-h">Accuracy per store (30 days)</h2><div id="acc">Loading…</div></section></div>`;
  const msg = view.querySelector('#msg');
  const say = (text, ok = true) => { msg.className = ok ? 'ok' : 'alert'; msg.textContent = text; };
  // Tasks are redrawn as events arrive: a task already listed keeps its element, so that
  // a count being typed into it is not lost.
  const taskItem = (t) => `<li data-task-id="${esc(t.id)}"><strong>${esc(t.location_id)} · ${esc(t.sku)}</strong> <span class="muted">${esc(t.reason)}, ${t.reports} report(s), opened ${esc(when(t.opened_at))}</span>
        <form class="inline" data-task="${esc(t.id)}"><label>Units counted<input name="quantity" type="number" min="0" inputmode="numeric" required></label><button type="submit">Complete count</button></form></li>`;
  const drawTasks = serial(async () => {
    const box = view.querySelector('#tasks');
    try {
      const tasks = await all('/v1/count-tasks', { status: 'open' }, 1);
      if (!tasks.length) { box.innerHTML = '<p class="muted">No open count tasks.</p>'; return; }
      let list = box.querySelector('ul.plain');
      if (!list) { box.innerHTML = '<ul class="plain"></ul>'; list = box.querySelector('ul.plain'); }
      const kept = new Map([...list.children].map((li) => [li.dataset.taskId, li]));
      const items = tasks.map((t) => {
        if (kept.has(t.id)) return kept.get(t.id);
        const holder = document.createElement('ul'); holder.innerHTML = taskItem(t); return holder.firstElementChild;
      });
      list.replaceChildren(...items);
    } catch (e) { box.innerHTML = refused(e); }
  });
  const drawReports = serial(async () => {
    const reports = await tryApi('/v1/feedback?kind=discrepancy&limit=20', (e) => e);
    view.querySelector('#reports').innerHTML = reports instanceof Error ? refused(reports) : table('Discrepancy reports', [{ label: 'Where', value: (f) => `${f.location_id} · ${f.sku}` },
      { label: 'Seen', n: true, value: (f) => f.observed_quantity ?? '—' }, { label: 'By', value: (f) => f.actor }, { label: 'When', value: (f) => when(f.created_at) }], reports.items, 'No reports.');
    const to = new Date(Date.now() + 60e3); const from = new Date(to.getTime() - 30 * 86400e3);
    const acc = await tryApi(`/v1/reports/accuracy?${query({ from: from.toISOString(), to: to.toISOString() })}`, (e) => e);
    view.querySelector('#acc').innerHTML = acc instanceof Error ? refused(acc) : table('Accuracy per store', [{ label: 'Location', value: (r) => r.location_id },
      { label: 'Counts', n: true, value: (r) => r.counts_done }, { label: 'Exact', n: true, value: (r) => (r.matched_share == null ? '—' : `${Math.round(r.matched_share * 100)}%`) },
      { label: 'Found', n: true, value: (r) => r.units_found }, { label: 'Lost', n: true, value: (r) => r.units_lost },
      { label: 'Hours to count', n: true, value: (r) => (r.median_hours_to_count == null ? '—' : r.median_hours_to_count.toFixed(1)) }], acc.rows, 'No counts yet.');
  });
  view.querySelector('#report').addEventListener('submit', async (e) => {
    e.preventDefault(); const f = e.target;
    const body = { kind: 'discrepancy', location_id: f.location_id.value.trim(), sku: f.sku.value.trim() };
    if (f.observed_quantity.value !== '') body.observed_quantity = Number(f.observed_quantity.value);
    if (f.note.value.trim()) body.note = f.note.value.trim();
    try { const made = await api('/v1/feedback', { method: 'POST', body }); say(`Reported; count task ${made.count_task_id ?? 'pending'} is open.`); f.reset(); await Promise.all([drawTasks(), drawReports()]); } catch (err) { say(err.message, false); }
  });
  view.addEventListener('submit', async (e) => {
    const f = e.target.closest('form[data-task]'); if (!f) return; e.preventDefault();
    try { const done = await api(`/v1/count-tasks/${encodeURIComponent(f.dataset.task)}/complete`, { method: 'POST', body: { quantity: Number(f.quantity.value) } });
      say(`Counted ${done.counted_quantity} at ${done.location_id} · ${done.sku} (system had ${done.system_quantity}).`); await Promise.all([drawTasks(), drawReports()]); } catch (err) { say(err.message, false); }
  });
  view.querySelector('#rating').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-rating]'); if (!b) return;
    const body = { kind: 'sync_delay', rating: Number(b.dataset.rating) };
    if (me.locations && me.locations.length === 1) body.location_id = me.locations[0];
    try { await api('/v1/feedback', { method: 'POST', body }); say('Thank you: rating sent.'); } catch (err) { say(err.message, false); }
  });
  await Promise.all([drawTasks(), drawReports()]);
  const redraw = debounced(() => Promise.all([drawTasks(), drawReports()]), 200);
  return (event) => { if (event.type.startsWith('count_task.') || event.type === 'feedback.received') redraw(); };
}

// ---- Health ----
async function health() {
  view.innerHTML = `<h1>Health</h1><div class="grid">
    <section class="card" aria-labelledby="rec-h"><h2 id="rec-h">Reconciliation</h2><div id="rec">Checking…</div><button type="button" class="secondary" id="recheck">Check again</button></section>
    <section class="card" aria-labelledby="ev-h"><h2 id="ev-h">Events and outbox</h2><div id="events">Loading…</div></section>
    <section class="card" aria-labelledby="wh-h"><h2 id="wh-h">Webhooks</h2><div id="hooks">Loading…</div></section>
    <section class="card" aria-labelledby="node-h"><h2 id="node-h">Nodes</h2><div id="nodes">Loading…</div></section></div>`;
  const recheck = async () => {
    const started = new Date();
    const r = await tryApi('/v1/admin/reconcile', (e) => e);
    view.querySelector('#rec').innerHTML = r instanceof Error ? refused(r)
      : `<dl class="stats"><div><dt>Levels checked</dt><dd>${r.checked}</dd></div><div><dt>Drift</dt><dd>${r.drift_total}${r.drift_total ? ' ⚠' : ' ✓'}</dd></div></dl><p class="muted">Last run ${esc(started.toLocaleTimeString())}</p>
        ${table('Drift', [{ label: 'Check', value: (d) => d.check }, { label: 'Where', value: (d) => [d.location_id, d.sku].filter(Boolean).join(' · ') }, { label: 'Detail', value: (d) => d.detail ?? JSON.stringify(d) }], r.drift, 'Every invariant holds.')}`;
  };
  view.querySelector('#recheck').addEventListener('click', recheck);
  const status = await tryApi('/v1/admin/status', (e) => e);
  if (status instanceof Error) {
    view.querySelector('#events').innerHTML = refused(status); view.querySelector('#nodes').innerHTML = refused(status);
  } else {
    view.querySelector('#events').innerHTML = `<dl class="stats"><div><dt>Newest event</dt><dd>${status.outbox.newest_event_id ?? '—'}</dd></div>
      <div><dt>Waiting in outbox</dt><dd>${status.outbox.pending}</dd></div><div><dt>Oldest waiting</dt><dd>${status.outbox.oldest_pending_seconds == null ? '—' : `${status.outbox.oldest_pending_seconds.toFixed(1)} s`}</dd></div>
      <div><dt>Events per second here</dt><dd id="eps">0</dd></div></dl>`;
    const ago = (t) => (t ? `${Math.max(0, Math.round((Date.now() - new Date(t)) / 1000))} s ago` : '—');
    view.querySelector('#nodes').innerHTML = table('Nodes', [{ label: 'Node', value: (n) => n.name },
      { label: 'Role', value: (n) => `${n.leads_relay ? 'relay leader' : 'serving'}${n.this_node ? ' (this node)' : ''}` },
      { label: 'Started', value: (n) => when(n.started_at) }, { label: 'Last seen', value: (n) => ago(n.last_seen) },
      { label: 'Lease until', value: (n) => when(n.lease_until) }], status.nodes, 'No node is serving.');
  }
  const hooks = await tryApi('/v1/webhooks?limit=100', (e) => e);
  view.querySelector('#hooks').innerHTML = hooks instanceof Error ? refused(hooks) : table('Webhooks', [{ label: 'URL', value: (w) => w.url },
    { label: 'Status', html: (w) => `${esc(w.status)}${w.status !== 'active' ? `<span class="tag low">${esc(w.paused_reason || 'paused')}</span>` : ''}` }], hooks.items, 'No webhooks.');
  await recheck();
  return () => { const eps = view.querySelector('#eps'); if (eps) eps.textContent = eventsPerSecond(); };
}

// ---- routing ----
const PAGES = { network, level, transfers, accuracy, health };
let current = null; let routed = 0;
async function route() {
  const turn = ++routed;
  const [name, ...params] = (location.hash.slice(1) || 'network').split('/');
  const page = PAGES[name] ? name : 'network';
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('href') === `#${page}`) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  handlers.delete(current); current = null;
  view.dataset.page = page; view.removeAttribute('data-ready');
  const handler = await PAGES[page](params);
  if (turn !== routed) return; // another page was opened while this one loaded
  if (handler) { current = handler; handlers.add(handler); }
  view.dataset.ready = 'true';
}
window.addEventListener('hashchange', route);
setInterval(() => { const eps = document.getElementById('eps'); if (eps) eps.textContent = eventsPerSecond(); }, 1000);
connect();
route();
