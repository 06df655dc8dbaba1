// The dashboard page: fills the tables and draws the charts from /api/v1/view,
// then follows /api/v1/events (Server-Sent Events, one `view` per refresh).
// No libraries, no build step. The Content-Security-Policy forbids inline styles:
// everything is styled by classes (style.css) and SVG presentation attributes.
'use strict';

(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const DASH = '—';
  const LAG_WINDOW_MS = 5 * 60 * 1000; // the lag chart keeps the last 5 minutes
  const LAG_MAX_POINTS = 5000;         // a bound, whatever the refresh interval
  const PALETTE_SIZE = 8;              // classes c0 … c7 in style.css
  const RECONNECT_MS = 3000;           // only when EventSource gave up by itself

  const state = {
    view: null,          // the last view rendered
    lag: new Map(),      // time (ms) -> {"0": 12, "1": null, …}
  };

  // ---------- small helpers ----------

  const $ = (id) => document.getElementById(id);
  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const arr = (x) => (Array.isArray(x) ? x : []);
  const obj = (x) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? x : null);

  // A JSON number exactly as JSON gives it (String(x)); null and missing: a dash.
  const fmtExact = (x) => (isNum(x) ? String(x) : DASH);
  const fmtText = (x) => (x === null || x === undefined || x === '' ? DASH : String(x));

  // Ages: "0.4 s", "42 s", "3 min", "2.5 h", "4 d".
  function fmtAge(s) {
    if (!isNum(s)) return DASH;
    const a = Math.abs(s);
    let out;
    if (a < 10) out = a.toFixed(1) + ' s';
    else if (a < 60) out = Math.round(a) + ' s';
    else if (a < 3600) out = Math.floor(a / 60) + ' min';
    else if (a < 86400) out = (a < 36000 ? (a / 3600).toFixed(1) : String(Math.floor(a / 3600))) + ' h';
    else out = Math.floor(a / 86400) + ' d';
    return (s < 0 ? '-' : '') + out;
  }

  // Axis labels: 950, 12k, 1.5M.
  function fmtCompact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
    if (a >= 1e4) return +(v / 1e3).toFixed(1) + 'k';
    return String(+v.toFixed(2));
  }

  function fmtClock(ms) {
    try {
      return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
    } catch (e) {
      return new Date(ms).toISOString().slice(11, 19);
    }
  }

  const parseTime = (s) => (typeof s === 'string' ? Date.parse(s) : NaN);

  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setClass(el, cls) {
    if (el && el.getAttribute('class') !== cls) el.setAttribute('class', cls);
  }

  function setHidden(el, hidden) {
    if (el && el.hidden !== hidden) el.hidden = hidden;
  }

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVGNS, tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v !== undefined && v !== null) el.setAttribute(k, String(v));
      }
    }
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function html(tag, cls, text) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // Round to 0.1 px: shorter path data. Never NaN in an attribute.
  const r1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : 0);

  // Where val lies between lo and hi, 0 … 1; halves first, so that even
  // -1e308 … 1e308 (valid JSON) does not overflow to Infinity.
  const frac = (val, lo, hi) => {
    const span = hi / 2 - lo / 2;
    return span > 0 ? (val / 2 - lo / 2) / span : 0.5;
  };

  // The drawing width of a chart in CSS pixels, so that 1 viewBox unit = 1 px
  // and the text stays readable on a phone; the viewBox still scales it.
  function chartWidth(el, fallback) {
    const w = el ? el.getBoundingClientRect().width : 0;
    return w >= 120 ? Math.round(w) : fallback;
  }

  const colorClass = (p) => 'c' + (((Number(p) % PALETTE_SIZE) + PALETTE_SIZE) % PALETTE_SIZE || 0);

  // A guard per section: one bad field never stops the rest of the page.
  function guard(name, fn) {
    try {
      fn();
    } catch (e) {
      console.warn('dashboard: could not render ' + name + ':', e);
    }
  }

  // Keyed rows: existing rows are updated in place (no flicker, selection and
  // scroll position survive), new ones created, gone ones removed.
  function syncRows(tbody, items, keyOf, dataKey, create, update) {
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) {
      const k = tr.dataset[dataKey];
      if (k !== undefined && !old.has(k)) old.set(k, tr);
      else tr.remove();
    }
    let prev = null;
    for (const item of items) {
      const k = keyOf(item);
      let tr = old.get(k);
      if (tr) old.delete(k);
      else {
        tr = create();
        tr.dataset[dataKey] = k;
      }
      update(tr, item);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const tr of old.values()) tr.remove();
  }

  function makeRow(classes) {
    const tr = document.createElement('tr');
    for (const c of classes) tr.appendChild(html('td', c));
    return tr;
  }

  // ---------- header and banners ----------

  function setStatus(s) {
    const el = $('status');
    setText(el, s);
    setClass(el, 'status status-' + s);
    document.body.classList.toggle('is-disconnected', s === 'disconnected');
    const title = s === 'disconnected' ? 'Weather stats (disconnected)' : 'Weather stats';
    if (document.title !== title) document.title = title;
  }

  function renderHeader(v) {
    setText($('topic'), fmtText(v.topic));
    const id = $('topic-id');
    const tid = typeof v.topic_id === 'string' ? v.topic_id : '';
    setText(id, tid);
    setHidden(id, tid === '');

    const up = $('updated');
    const t = parseTime(v.time);
    if (Number.isNaN(t)) {
      setText(up, fmtText(v.time));
      up.removeAttribute('datetime');
    } else {
      setText(up, fmtClock(t));
      up.setAttribute('datetime', v.time);
      up.title = v.time;
    }
  }

  function renderBanners(v) {
    const ke = $('kafka-error');
    const kerr = typeof v.kafka_error === 'string' ? v.kafka_error : '';
    setText($('kafka-error-text'), kerr);
    setHidden(ke, kerr === '');

    const inc = $('incomplete');
    if (v.complete !== false) {
      setHidden(inc, true);
      return;
    }
    // Which partitions are not counted, and why.
    const items = [];
    const seen = new Set();
    for (const p of arr(v.partitions)) {
      if (!obj(p) || (p.state !== 'error' && p.state !== 'unread')) continue;
      seen.add(p.partition);
      if (p.state === 'error') {
        const why = typeof p.error === 'string' && p.error ? p.error : 'unknown error';
        items.push(['partition ' + fmtText(p.partition), 'its snapshot does not load: ' + why]);
      } else {
        items.push(['partition ' + fmtText(p.partition), 'no snapshot: nobody checkpoints it']);
      }
    }
    for (const n of arr(v.unread)) {
      if (seen.has(n)) continue;
      seen.add(n);
      items.push(['partition ' + fmtText(n), 'no snapshot: nobody checkpoints it']);
    }
    const partitions = items.length;
    // Stations whose partitions' stats cannot be added up (null numbers).
    for (const s of arr(v.stations)) {
      if (obj(s) && typeof s.error === 'string' && s.error) items.push(['station ' + fmtText(s.station), s.error]);
    }
    const box = $('incomplete-text');
    const lead = partitions
      ? 'the stations do not count ' + (partitions === 1 ? 'this partition' : 'these partitions') + ':'
      : items.length
        ? 'not every station can be shown:'
        : 'some partitions of the topic are not counted in the stations.';
    const parts = [html('span', 'banner-lead', lead)];
    if (items.length) {
      const ul = html('ul', 'banner-list');
      for (const [who, why] of items) {
        const li = html('li');
        li.appendChild(html('strong', null, who));
        li.appendChild(document.createTextNode(' — ' + why));
        ul.appendChild(li);
      }
      parts.push(ul);
    }
    box.replaceChildren(...parts);
    setHidden(inc, false);
  }

  // ---------- tables ----------

  const STATION_CELLS = ['station', 'count num', 'sum num', 'avg num', 'start', 'end', 'partitions'];

  function renderStations(v) {
    const table = $('stations');
    const list = arr(v.stations).filter((s) => obj(s) && s.station !== undefined && s.station !== null);
    syncRows(
      table.tBodies[0],
      list,
      (s) => String(s.station),
      'station',
      () => makeRow(STATION_CELLS),
      (tr, s) => {
        const c = tr.cells;
        setText(c[0], String(s.station));
        setText(c[1], isNum(s.count) ? String(Math.trunc(s.count)) : DASH);
        setText(c[2], fmtExact(s.sum));
        setText(c[3], fmtExact(s.avg));
        setText(c[4], fmtText(s.start));
        setText(c[5], fmtText(s.end));
        setText(c[6], arr(s.partitions).length ? arr(s.partitions).join(', ') : DASH);
      },
    );
    setHidden($('stations-empty'), list.length > 0);
    let reports = 0;
    for (const s of list) if (isNum(s.count)) reports += s.count;
    setText(
      $('stations-summary'),
      list.length
        ? list.length + (list.length === 1 ? ' station · ' : ' stations · ') + reports + (reports === 1 ? ' report' : ' reports')
        : '',
    );
  }

  const PARTITION_CELLS = ['partition num', 'state', 'offset num', 'log-end num', 'lag num',
    'checkpoint-age num', 'report-age num', 'stations num', 'details'];
  const STATES = new Set(['ok', 'error', 'unread']);

  function renderPartitions(v) {
    const table = $('partitions');
    const list = arr(v.partitions).filter((p) => obj(p) && p.partition !== undefined && p.partition !== null);
    const counts = { ok: 0, error: 0, unread: 0 };
    let totalLag = 0;
    let lagKnown = false;
    syncRows(
      table.tBodies[0],
      list,
      (p) => String(p.partition),
      'partition',
      () => {
        const tr = makeRow(PARTITION_CELLS);
        tr.cells[1].appendChild(html('span', 'badge'));
        return tr;
      },
      (tr, p) => {
        const st = STATES.has(p.state) ? p.state : 'unknown';
        if (st in counts) counts[st]++;
        if (isNum(p.lag)) {
          totalLag += p.lag;
          lagKnown = true;
        }
        setClass(tr, 'state-' + st);
        const c = tr.cells;
        setText(c[0], String(p.partition));
        const badge = c[1].firstChild;
        setText(badge, fmtText(p.state));
        setClass(badge, 'badge badge-' + st);
        setText(c[2], fmtExact(p.offset));
        setText(c[3], fmtExact(p.log_end));
        setText(c[4], fmtExact(p.lag));
        setText(c[5], fmtAge(p.checkpoint_age_seconds));
        setText(c[6], fmtAge(p.newest_report_age_seconds));
        setText(c[7], fmtExact(p.stations));
        let details = '';
        if (st === 'error') details = typeof p.error === 'string' && p.error ? p.error : 'its snapshot does not load';
        else if (st === 'unread') details = 'no snapshot: nobody checkpoints it';
        setText(c[8], details);
        setClass(c[8], st === 'error' ? 'details error' : 'details');
      },
    );
    setHidden($('partitions-empty'), list.length > 0);
    const bits = [];
    if (list.length) bits.push(list.length + (list.length === 1 ? ' partition' : ' partitions'));
    for (const k of ['ok', 'error', 'unread']) if (counts[k]) bits.push(counts[k] + ' ' + k);
    if (lagKnown) bits.push('total lag ' + totalLag);
    setText($('partitions-summary'), bits.join(' · '));
  }

  // ---------- chart: average per station (horizontal bars) ----------

  function renderAvg(v) {
    const el = $('chart-avg');
    const list = arr(v.stations).filter((s) => obj(s) && s.station !== undefined && s.station !== null && isNum(s.avg));
    const W = chartWidth(el, 600);
    const nodes = [];
    if (!list.length) {
      const H = 80;
      el.setAttribute('viewBox', `0 0 ${W} ${H}`);
      nodes.push(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'dominant-baseline': 'middle', class: 'empty-text' }, 'No stations yet'));
      el.replaceChildren(...nodes);
      return;
    }
    const row = 31; // about a table row: the chart is as tall as the table beside it
    const top = 4;
    const bottom = 4;
    const H = top + list.length * row + bottom;
    const longest = Math.max(...list.map((s) => String(s.station).length));
    const labelW = Math.min(Math.round(W * 0.35), 14 + longest * 7.4);
    let lo = 0;
    let hi = 0;
    for (const s of list) {
      lo = Math.min(lo, s.avg);
      hi = Math.max(hi, s.avg);
    }
    if (lo === hi) hi = 1;
    // room for the value label at a bar's end
    const valW = Math.min(Math.round(W * 0.3), 12 + 7 * Math.max(...list.map((s) => s.avg.toFixed(2).length)));
    const x0 = labelW + (lo < 0 ? valW : 0);
    const x1 = W - (hi > 0 ? valW : 6);
    const sx = (val) => x0 + frac(val, lo, hi) * Math.max(10, x1 - x0);
    const zero = sx(0);

    el.setAttribute('viewBox', `0 0 ${W} ${H}`);
    list.forEach((s, i) => {
      const y = top + i * row;
      const g = svg('g', { class: 'bar-row' });
      g.appendChild(svg('title', null, `${s.station}: avg ${s.avg}` + (isNum(s.count) ? ` over ${s.count} reports` : '')));
      g.appendChild(svg('text', { x: labelW - 8, y: y + row / 2, 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'label' }, String(s.station)));
      const a = sx(Math.min(0, s.avg));
      const b = sx(Math.max(0, s.avg));
      g.appendChild(svg('rect', {
        x: r1(a), y: y + 4, width: r1(Math.max(1, b - a)), height: row - 8, rx: 3,
        class: s.avg < 0 ? 'bar bar-neg' : 'bar',
      }));
      const neg = s.avg < 0;
      g.appendChild(svg('text', {
        x: r1(neg ? a - 5 : b + 5), y: y + row / 2, 'text-anchor': neg ? 'end' : 'start',
        'dominant-baseline': 'central', class: 'value',
      }, s.avg.toFixed(2)));
      nodes.push(g);
    });
    nodes.push(svg('line', { x1: r1(zero), x2: r1(zero), y1: top, y2: H - bottom, class: 'zero' }));
    el.replaceChildren(...nodes);
  }

  // ---------- chart: lag per partition (lines over the last 5 minutes) ----------

  function addLagPoint(t, lag, override) {
    if (!isNum(t) || !obj(lag)) return;
    if (!override && state.lag.has(t)) return;
    const clean = {};
    for (const [k, val] of Object.entries(lag)) clean[k] = isNum(val) ? val : null;
    state.lag.set(t, clean);
  }

  // Keep the points within 5 minutes of the newest one (server time: the
  // browser's clock may differ from the server's).
  function pruneLag() {
    let newest = -Infinity;
    for (const t of state.lag.keys()) if (t > newest) newest = t;
    for (const t of Array.from(state.lag.keys())) if (t < newest - LAG_WINDOW_MS) state.lag.delete(t);
    if (state.lag.size > LAG_MAX_POINTS) {
      const keys = Array.from(state.lag.keys()).sort((a, b) => a - b);
      for (const t of keys.slice(0, keys.length - LAG_MAX_POINTS)) state.lag.delete(t);
    }
  }

  function lagFromView(v) {
    const out = {};
    for (const p of arr(v.partitions)) {
      if (obj(p) && p.partition !== undefined && p.partition !== null) out[String(p.partition)] = isNum(p.lag) ? p.lag : null;
    }
    return out;
  }

  function niceStep(max, n) {
    const raw = max / n;
    const pow = 10 ** Math.floor(Math.log10(raw));
    const f = raw / pow;
    const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return Math.max(1, m * pow);
  }

  function renderLag() {
    const el = $('chart-lag');
    const legend = $('lag-legend');
    const pts = Array.from(state.lag.entries()).sort((a, b) => a[0] - b[0]);
    const keys = new Set();
    for (const [, lag] of pts) for (const k of Object.keys(lag)) keys.add(k);
    if (state.view) for (const k of Object.keys(lagFromView(state.view))) keys.add(k);
    const series = Array.from(keys).sort((a, b) => (Number(a) - Number(b)) || (a < b ? -1 : a > b ? 1 : 0));

    const W = chartWidth(el, 600);
    const H = Math.round(Math.min(280, Math.max(200, W * 0.42)));
    const nodes = [];
    el.setAttribute('viewBox', `0 0 ${W} ${H}`);

    let maxVal = 0;
    let any = false;
    for (const [, lag] of pts) {
      for (const val of Object.values(lag)) {
        if (isNum(val)) {
          any = true;
          if (val > maxVal) maxVal = val;
        }
      }
    }
    const step = niceStep(Math.max(maxVal, 4), 4);
    const yMax = Math.ceil(Math.max(maxVal, 4) / step) * step;
    const yLabels = [];
    for (let i = 0; i <= 10 && i * step <= yMax + step / 2; i++) yLabels.push(i * step);
    const labelW = Math.max(...yLabels.map((y) => fmtCompact(y).length)) * 7 + 10;

    const m = { top: 22, right: 14, bottom: 40, left: Math.max(30, labelW) };
    const pw = Math.max(10, W - m.left - m.right);
    const ph = Math.max(10, H - m.top - m.bottom);
    const tEnd = pts.length ? pts[pts.length - 1][0] : Date.now();
    const tStart = tEnd - LAG_WINDOW_MS;
    const sx = (t) => m.left + ((t - tStart) / LAG_WINDOW_MS) * pw;
    const sy = (val) => m.top + ph - frac(val, 0, yMax) * ph;

    // Grid and y axis.
    for (const y of yLabels) {
      const yy = r1(sy(y));
      nodes.push(svg('line', { x1: m.left, x2: m.left + pw, y1: yy, y2: yy, class: y === 0 ? 'axis-line' : 'grid-line' }));
      nodes.push(svg('text', { x: m.left - 6, y: yy, 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'tick' }, fmtCompact(y)));
    }
    // x axis: a tick per minute, in minutes before the newest point.
    for (let i = 5; i >= 0; i--) {
      const xx = r1(sx(tEnd - i * 60000));
      nodes.push(svg('line', { x1: xx, x2: xx, y1: m.top + ph, y2: m.top + ph + 4, class: 'axis-line' }));
      nodes.push(svg('text', { x: xx, y: m.top + ph + 16, 'text-anchor': i === 0 ? 'end' : i === 5 ? 'start' : 'middle', class: 'tick' }, i === 0 ? 'now' : `-${i} min`));
    }
    nodes.push(svg('text', { x: m.left, y: 12, 'text-anchor': 'start', class: 'axis-title' }, 'lag (records)'));
    nodes.push(svg('text', { x: m.left + pw, y: H - 4, 'text-anchor': 'end', class: 'axis-title' },
      pts.length ? 'time (now = ' + fmtClock(tEnd) + ')' : 'time'));

    // A gap in time (the stream was down) breaks the line.
    const steps = [];
    for (let i = 1; i < pts.length; i++) steps.push(pts[i][0] - pts[i - 1][0]);
    steps.sort((a, b) => a - b);
    const median = steps.length ? steps[Math.floor(steps.length / 2)] : 1000;
    const maxGap = Math.max(10000, 3 * median);

    const current = {};
    for (const k of series) {
      let d = '';
      let run = 0;
      let prevT = -Infinity;
      let last = null;
      const singles = [];
      let runStart = null;
      for (const [t, lag] of pts) {
        const val = lag[k];
        if (!isNum(val) || t - prevT > maxGap) {
          if (run === 1 && runStart) singles.push(runStart);
          run = 0;
        }
        if (isNum(val)) {
          const p = [r1(sx(t)), r1(sy(val))];
          d += (run === 0 ? 'M' : 'L') + p[0] + ' ' + p[1];
          if (run === 0) runStart = p;
          run++;
          last = { p, val };
          prevT = t;
        } else {
          prevT = -Infinity;
        }
      }
      if (run === 1 && runStart) singles.push(runStart);
      const cls = colorClass(k);
      const g = svg('g', { class: 'series ' + cls });
      g.appendChild(svg('title', null, 'partition ' + k));
      if (d) g.appendChild(svg('path', { d, class: 'line', fill: 'none' }));
      for (const p of singles) g.appendChild(svg('circle', { cx: p[0], cy: p[1], r: 2, class: 'dot' }));
      if (last) g.appendChild(svg('circle', { cx: last.p[0], cy: last.p[1], r: 3.5, class: 'dot dot-last' }));
      nodes.push(g);
      const lastPt = pts.length ? pts[pts.length - 1][1] : null;
      current[k] = lastPt && isNum(lastPt[k]) ? lastPt[k] : null;
    }
    if (!any) {
      nodes.push(svg('text', { x: m.left + pw / 2, y: m.top + ph / 2, 'text-anchor': 'middle', 'dominant-baseline': 'central', class: 'empty-text' },
        series.length ? 'No lag known yet' : 'No partitions yet'));
    }
    el.replaceChildren(...nodes);

    const items = series.map((k) => {
      const li = html('li', 'legend-item ' + colorClass(k));
      li.appendChild(html('span', 'swatch'));
      li.appendChild(html('span', 'legend-name', 'partition ' + k));
      li.appendChild(html('span', 'legend-value', fmtExact(current[k])));
      return li;
    });
    legend.replaceChildren(...items);
  }

  // ---------- chart: latest daily maxima (one sparkline per station) ----------

  function renderLatest(v) {
    const box = $('chart-latest');
    const latest = obj(v.latest) || {};
    const names = Object.keys(latest).sort();
    const cards = [];
    for (const name of names) {
      const reports = arr(latest[name]).filter((r) => obj(r) && isNum(r.degrees));
      if (!reports.length) continue;
      const card = html('div', 'spark');
      card.dataset.station = name;
      const head = html('div', 'spark-head');
      head.appendChild(html('span', 'spark-name', name));
      const lastR = reports[reports.length - 1];
      const val = html('span', 'spark-value', lastR.degrees.toFixed(1) + '°');
      val.title = `${fmtText(lastR.date)}: ${lastR.degrees}`;
      head.appendChild(val);
      card.appendChild(head);

      const W = 160;
      const H = 44;
      const pad = 4;
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of reports) {
        lo = Math.min(lo, r.degrees);
        hi = Math.max(hi, r.degrees);
      }
      const n = reports.length;
      const sx = (i) => (n === 1 ? W / 2 : pad + (i / (n - 1)) * (W - 2 * pad));
      const sy = (d) => (hi === lo ? H / 2 : pad + (1 - frac(d, lo, hi)) * (H - 2 * pad));
      const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark-svg', role: 'img', 'aria-label': `${name}: latest daily maxima` });
      s.appendChild(svg('title', null,
        `${name}: ${n} day${n === 1 ? '' : 's'}, ${fmtText(reports[0].date)} … ${fmtText(lastR.date)}, min ${lo}, max ${hi}`));
      let d = '';
      reports.forEach((r, i) => {
        d += (i ? 'L' : 'M') + r1(sx(i)) + ' ' + r1(sy(r.degrees));
      });
      if (n > 1) {
        s.appendChild(svg('path', { d: d + `L${r1(sx(n - 1))} ${H}L${r1(sx(0))} ${H}Z`, class: 'spark-area' }));
        s.appendChild(svg('path', { d, class: 'spark-line', fill: 'none' }));
      }
      s.appendChild(svg('circle', { cx: r1(sx(n - 1)), cy: r1(sy(lastR.degrees)), r: 2.8, class: 'spark-dot' }));
      card.appendChild(s);

      const foot = html('div', 'spark-foot');
      foot.appendChild(html('span', 'spark-range', `${lo.toFixed(1)}–${hi.toFixed(1)}`));
      foot.appendChild(html('span', 'spark-date', fmtText(lastR.date)));
      card.appendChild(foot);
      cards.push(card);
    }
    box.replaceChildren(...cards);
    setHidden($('latest-empty'), cards.length > 0);
  }

  // ---------- the view ----------

  function render(v) {
    guard('header', () => renderHeader(v));
    guard('banners', () => renderBanners(v));
    guard('stations', () => renderStations(v));
    guard('avg chart', () => renderAvg(v));
    guard('lag chart', () => renderLag());
    guard('latest chart', () => renderLatest(v));
    guard('partitions', () => renderPartitions(v));
  }

  function applyView(v) {
    if (!obj(v)) return;
    state.view = v;
    guard('lag points', () => {
      addLagPoint(parseTime(v.time), lagFromView(v), true);
      pruneLag();
    });
    render(v);
  }

  function seedLag() {
    fetch('/api/v1/lag', { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : null))
      .then((d) => {
        const points = obj(d) ? arr(d.points) : [];
        for (const p of points) if (obj(p)) addLagPoint(parseTime(p.time), p.lag, false);
        pruneLag();
        guard('lag chart', renderLag);
      })
      .catch(() => {});
  }

  let source = null;
  let retry = 0;

  function connect() {
    if (typeof EventSource !== 'function') {
      setStatus('disconnected');
      return;
    }
    try {
      source = new EventSource('/api/v1/events');
    } catch (e) {
      setStatus('disconnected');
      scheduleReconnect();
      return;
    }
    source.addEventListener('view', (ev) => {
      let v;
      try {
        v = JSON.parse(ev.data);
      } catch (e) {
        console.warn('dashboard: a view event that is not JSON');
        return;
      }
      setStatus('live');
      applyView(v);
    });
    source.addEventListener('error', () => {
      setStatus('disconnected');
      // EventSource reconnects by itself, unless the server answered with an
      // error status or another content type: then it is closed for good.
      if (source && source.readyState === EventSource.CLOSED) {
        source.close();
        scheduleReconnect();
      }
    });
  }

  function scheduleReconnect() {
    if (retry) return;
    retry = setTimeout(() => {
      retry = 0;
      connect();
    }, RECONNECT_MS);
  }

  // Charts are drawn at the size they are shown: redraw when that changes.
  let resizeFrame = 0;
  let lastWidth = window.innerWidth;
  window.addEventListener('resize', () => {
    if (window.innerWidth === lastWidth || resizeFrame) return;
    resizeFrame = requestAnimationFrame(() => {
      resizeFrame = 0;
      lastWidth = window.innerWidth;
      if (state.view) {
        guard('avg chart', () => renderAvg(state.view));
        guard('lag chart', renderLag);
      }
    });
  });

  function start() {
    setStatus('connecting');
    seedLag();
    // No fetch of /api/v1/view: the stream sends the current view as soon as
    // it connects (or the first one, once the dashboard has it), and a fetch
    // before the first refresh would be a 503 in the console.
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
