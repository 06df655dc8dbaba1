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
    filter: '',          // the station filter, lower case ('' shows all)
    filterText: '',      // as typed
    page: 0,             // the stations table's page, from 0
    shown: [],           // the stations of that page: what the table and the station charts draw
    station: null,       // the station open in the station view (the URL's #station=NAME)
  };

  // ---------- small helpers ----------

  const $ = (id) => document.getElementById(id);
  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const arr = (x) => (Array.isArray(x) ? x : []);
  const obj = (x) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? x : null);

  // ---------- numbers for people: the one home of formatting ----------
  // Every number a person reads is rounded here, and only here: counts with
  // thousands separators, averages and sums to 2 decimals (°C where they are
  // temperatures), ages in s/min/h/d, axis labels compact. The exact value —
  // JSON's own shortest form, String(x) — goes to the element's title (shown
  // on hover) by setNum; the API stays exact. One locale on purpose: the page
  // is English, and 1,234.57 reads the same on every browser.
  const LOCALE = 'en-US';
  const INT = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
  const DEC1 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const DEC2 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const CELSIUS = '\u00a0°C'; // a no-break space: the unit never wraps away from its number

  const fmt = {
    // A JSON number exactly as JSON gives it; null and missing: a dash.
    exact: (x) => (isNum(x) ? String(x) : DASH),
    text: (x) => (x === null || x === undefined || x === '' ? DASH : String(x)),
    // Counts, offsets, lags: 1,234,567.
    count: (x) => (isNum(x) ? INT.format(Math.trunc(x)) : DASH),
    // Sums and averages: 1,234.57.
    dec2: (x) => (isNum(x) ? DEC2.format(x) : DASH),
    // A sum or an average of temperatures: 27.71 °C.
    temp: (x) => (isNum(x) ? DEC2.format(x) + CELSIUS : DASH),
    // One daily maximum, where room is short (the small charts): 27.7°.
    reading: (x) => (isNum(x) ? DEC1.format(x) + '°' : DASH),
    // Ages: "0.4 s", "42 s", "3 min", "2.5 h", "4 d".
    age(s) {
      if (!isNum(s)) return DASH;
      const a = Math.abs(s);
      let out;
      if (a < 10) out = DEC1.format(a) + ' s';
      else if (a < 60) out = Math.round(a) + ' s';
      else if (a < 3600) out = Math.floor(a / 60) + ' min';
      else if (a < 86400) out = (a < 36000 ? DEC1.format(a / 3600) : INT.format(Math.floor(a / 3600))) + ' h';
      else out = INT.format(Math.floor(a / 86400)) + ' d';
      return (s < 0 ? '-' : '') + out;
    },
    // Axis labels: 950, 12k, 1.5M.
    compact(v) {
      const a = Math.abs(v);
      if (a >= 1e9) return +(v / 1e9).toFixed(1) + 'G';
      if (a >= 1e6) return +(v / 1e6).toFixed(1) + 'M';
      if (a >= 1e4) return +(v / 1e3).toFixed(1) + 'k';
      return String(+v.toFixed(2));
    },
    clock(ms) {
      try {
        return new Date(ms).toLocaleTimeString(undefined, { hour12: false });
      } catch (e) {
        return new Date(ms).toISOString().slice(11, 19);
      }
    },
    // "1 station", "100,000 stations".
    plural: (n, one, many) => fmt.count(n) + ' ' + (n === 1 ? one : many),
  };

  // setNum shows text (a number rounded by fmt) and the exact value x on hover.
  function setNum(el, text, x) {
    setText(el, text);
    const exact = isNum(x) ? String(x) : '';
    if (el && el.title !== exact) el.title = exact;
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
    setText($('topic'), fmt.text(v.topic));
    const id = $('topic-id');
    const tid = typeof v.topic_id === 'string' ? v.topic_id : '';
    setText(id, tid);
    setHidden(id, tid === '');

    const up = $('updated');
    const t = parseTime(v.time);
    if (Number.isNaN(t)) {
      setText(up, fmt.text(v.time));
      up.removeAttribute('datetime');
    } else {
      setText(up, fmt.clock(t));
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
        items.push(['partition ' + fmt.text(p.partition), 'its snapshot does not load: ' + why]);
      } else {
        items.push(['partition ' + fmt.text(p.partition), 'no snapshot: nobody checkpoints it']);
      }
    }
    for (const n of arr(v.unread)) {
      if (seen.has(n)) continue;
      seen.add(n);
      items.push(['partition ' + fmt.text(n), 'no snapshot: nobody checkpoints it']);
    }
    const partitions = items.length;
    // Stations whose partitions' stats cannot be added up (null numbers).
    for (const s of arr(v.stations)) {
      if (obj(s) && typeof s.error === 'string' && s.error) items.push(['station ' + fmt.text(s.station), s.error]);
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

  // The stations table shows one page of the stations that match the filter:
  // at most PAGE_SIZE rows in the DOM, whether the view has ten stations or
  // 100,000. The charts of stations (averages, latest maxima) draw the same
  // page, so they stay bounded too.
  const PAGE_SIZE = 25;
  const STATION_CELLS = ['station', 'count num', 'sum num', 'avg num', 'start', 'end', 'partitions'];

  // The view's stations (valid rows), and those matching the filter: each
  // computed once per view (and per filter), not per page turn.
  const cache = { view: null, all: [], filter: null, matched: [], reports: 0 };

  function stationsOf(v) {
    if (cache.view !== v) {
      cache.view = v;
      cache.all = arr(v.stations).filter((s) => obj(s) && s.station !== undefined && s.station !== null);
      cache.filter = null;
      cache.reports = 0;
      for (const s of cache.all) if (isNum(s.count)) cache.reports += s.count;
    }
    if (cache.filter !== state.filter) {
      cache.filter = state.filter;
      const q = state.filter;
      cache.matched = q ? cache.all.filter((s) => String(s.station).toLowerCase().includes(q)) : cache.all;
    }
    return cache;
  }

  const stationHash = (name) => '#station=' + encodeURIComponent(name);

  function makeStationRow() {
    const tr = makeRow(STATION_CELLS);
    tr.cells[0].appendChild(html('a', 'station-link'));
    return tr;
  }

  function renderStations(v) {
    const { all, matched, reports } = stationsOf(v);
    const pages = Math.max(1, Math.ceil(matched.length / PAGE_SIZE));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const from = state.page * PAGE_SIZE;
    const shown = matched.slice(from, from + PAGE_SIZE);
    state.shown = shown;
    syncRows(
      $('stations').tBodies[0],
      shown,
      (s) => String(s.station),
      'station',
      makeStationRow,
      (tr, s) => {
        const c = tr.cells;
        const name = String(s.station);
        const link = c[0].firstChild;
        setText(link, name);
        const href = stationHash(name);
        if (link.getAttribute('href') !== href) link.setAttribute('href', href);
        tr.classList.toggle('selected', name === state.station);
        setNum(c[1], fmt.count(s.count), s.count);
        setNum(c[2], fmt.temp(s.sum), s.sum);
        setNum(c[3], fmt.temp(s.avg), s.avg);
        setText(c[4], fmt.text(s.start));
        setText(c[5], fmt.text(s.end));
        setText(c[6], arr(s.partitions).length ? arr(s.partitions).join(', ') : DASH);
      },
    );

    const empty = $('stations-empty');
    setText(empty, all.length ? 'No station matches \u201c' + state.filterText + '\u201d.' : 'No stations yet.');
    setHidden(empty, shown.length > 0);
    const summary = $('stations-summary');
    setText(summary, all.length ? fmt.plural(all.length, 'station', 'stations') + ' · ' + fmt.plural(reports, 'report', 'reports') : '');

    // The pager: "1–25 of 100,000", "26–50 of 312 matching".
    let info = 'none';
    if (shown.length) {
      info = fmt.count(from + 1) + '\u2013' + fmt.count(from + shown.length) + ' of ' + fmt.count(matched.length);
      if (state.filter) info += ' matching';
    }
    setText($('page-info'), info);
    const prev = $('page-prev');
    const next = $('page-next');
    if (prev.disabled !== (state.page === 0)) prev.disabled = state.page === 0;
    if (next.disabled !== (state.page >= pages - 1)) next.disabled = state.page >= pages - 1;
    setHidden($('pager'), all.length === 0);
    const note = shown.length ? 'stations ' + info + ' (the table\u2019s page)' : '';
    setText($('avg-note'), shown.length ? '°C · ' + note : '°C');
    setText($('latest-note'), shown.length ? 'oldest → newest · ' + note : 'oldest → newest');
  }

  // The table, and the charts that draw its page, again (a filter typed, a
  // page turned, a station selected): no new view needed.
  function renderPage() {
    if (!state.view) return;
    const v = state.view;
    guard('stations', () => renderStations(v));
    guard('avg chart', () => renderAvg(v));
    guard('latest chart', () => renderLatest(v));
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
        setText(badge, fmt.text(p.state));
        setClass(badge, 'badge badge-' + st);
        setNum(c[2], fmt.count(p.offset), p.offset);
        setNum(c[3], fmt.count(p.log_end), p.log_end);
        setNum(c[4], fmt.count(p.lag), p.lag);
        setNum(c[5], fmt.age(p.checkpoint_age_seconds), p.checkpoint_age_seconds);
        setNum(c[6], fmt.age(p.newest_report_age_seconds), p.newest_report_age_seconds);
        setNum(c[7], fmt.count(p.stations), p.stations);
        let details = '';
        if (st === 'error') details = typeof p.error === 'string' && p.error ? p.error : 'its snapshot does not load';
        else if (st === 'unread') details = 'no snapshot: nobody checkpoints it';
        setText(c[8], details);
        setClass(c[8], st === 'error' ? 'details error' : 'details');
      },
    );
    setHidden($('partitions-empty'), list.length > 0);
    const bits = [];
    if (list.length) bits.push(fmt.plural(list.length, 'partition', 'partitions'));
    for (const k of ['ok', 'error', 'unread']) if (counts[k]) bits.push(fmt.count(counts[k]) + ' ' + k);
    if (lagKnown) bits.push('total lag ' + fmt.count(totalLag));
    setText($('partitions-summary'), bits.join(' · '));
  }

  // ---------- chart: average per station (horizontal bars) ----------

  function renderAvg(v) {
    const el = $('chart-avg');
    // The table's page only: at most PAGE_SIZE bars, whatever the view holds.
    const list = arr(state.shown).filter((s) => isNum(s.avg));
    const W = chartWidth(el, 600);
    const nodes = [];
    if (!list.length) {
      const H = 80;
      el.setAttribute('viewBox', `0 0 ${W} ${H}`);
      nodes.push(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', 'dominant-baseline': 'middle', class: 'empty-text' }, 'No stations yet'));
      el.replaceChildren(...nodes);
      return;
    }
    const row = list.length <= 12 ? 31 : 20; // about a table row; thinner when the page is long
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
    const valW = Math.min(Math.round(W * 0.3), 12 + 7 * Math.max(...list.map((s) => fmt.dec2(s.avg).length)));
    const x0 = labelW + (lo < 0 ? valW : 0);
    const x1 = W - (hi > 0 ? valW : 6);
    const sx = (val) => x0 + frac(val, lo, hi) * Math.max(10, x1 - x0);
    const zero = sx(0);

    el.setAttribute('viewBox', `0 0 ${W} ${H}`);
    list.forEach((s, i) => {
      const y = top + i * row;
      const g = svg('g', { class: 'bar-row' });
      g.appendChild(svg('title', null, `${s.station}: avg ${s.avg} °C` + (isNum(s.count) ? ` over ${fmt.count(s.count)} reports` : '')));
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
      }, fmt.dec2(s.avg)));
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
    const labelW = Math.max(...yLabels.map((y) => fmt.compact(y).length)) * 7 + 10;

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
      nodes.push(svg('text', { x: m.left - 6, y: yy, 'text-anchor': 'end', 'dominant-baseline': 'central', class: 'tick' }, fmt.compact(y)));
    }
    // x axis: a tick per minute, in minutes before the newest point.
    for (let i = 5; i >= 0; i--) {
      const xx = r1(sx(tEnd - i * 60000));
      nodes.push(svg('line', { x1: xx, x2: xx, y1: m.top + ph, y2: m.top + ph + 4, class: 'axis-line' }));
      nodes.push(svg('text', { x: xx, y: m.top + ph + 16, 'text-anchor': i === 0 ? 'end' : i === 5 ? 'start' : 'middle', class: 'tick' }, i === 0 ? 'now' : `-${i} min`));
    }
    nodes.push(svg('text', { x: m.left, y: 12, 'text-anchor': 'start', class: 'axis-title' }, 'lag (records)'));
    nodes.push(svg('text', { x: m.left + pw, y: H - 4, 'text-anchor': 'end', class: 'axis-title' },
      pts.length ? 'time (now = ' + fmt.clock(tEnd) + ')' : 'time'));

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
      const val = html('span', 'legend-value');
      setNum(val, fmt.count(current[k]), current[k]);
      li.appendChild(val);
      return li;
    });
    legend.replaceChildren(...items);
  }

  // ---------- chart: latest daily maxima (one sparkline per station) ----------

  // A sparkline of reports (oldest first, each {date, degrees}), W×H.
  function sparkline(name, reports, W, H, cls) {
    const pad = 4;
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of reports) {
      lo = Math.min(lo, r.degrees);
      hi = Math.max(hi, r.degrees);
    }
    const n = reports.length;
    const lastR = reports[n - 1];
    const sx = (i) => (n === 1 ? W / 2 : pad + (i / (n - 1)) * (W - 2 * pad));
    const sy = (d) => (hi === lo ? H / 2 : pad + (1 - frac(d, lo, hi)) * (H - 2 * pad));
    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: cls, role: 'img', 'aria-label': `${name}: latest daily maxima` });
    s.appendChild(svg('title', null,
      `${name}: ${n} day${n === 1 ? '' : 's'}, ${fmt.text(reports[0].date)} … ${fmt.text(lastR.date)}, min ${lo} °C, max ${hi} °C`));
    let d = '';
    reports.forEach((r, i) => {
      d += (i ? 'L' : 'M') + r1(sx(i)) + ' ' + r1(sy(r.degrees));
    });
    if (n > 1) {
      s.appendChild(svg('path', { d: d + `L${r1(sx(n - 1))} ${H}L${r1(sx(0))} ${H}Z`, class: 'spark-area' }));
      s.appendChild(svg('path', { d, class: 'spark-line', fill: 'none' }));
    }
    s.appendChild(svg('circle', { cx: r1(sx(n - 1)), cy: r1(sy(lastR.degrees)), r: 2.8, class: 'spark-dot' }));
    return { el: s, lo, hi };
  }

  const reportsOf = (v, name) => arr((obj(v.latest) || {})[name]).filter((r) => obj(r) && isNum(r.degrees));

  // The latest maxima of the table's page's stations (at most PAGE_SIZE cards).
  function renderLatest(v) {
    const box = $('chart-latest');
    const cards = [];
    for (const st of arr(state.shown)) {
      const name = String(st.station);
      const reports = reportsOf(v, name);
      if (!reports.length) continue;
      const card = html('a', 'spark');
      card.setAttribute('href', stationHash(name));
      card.dataset.station = name;
      const head = html('div', 'spark-head');
      head.appendChild(html('span', 'spark-name', name));
      const lastR = reports[reports.length - 1];
      const val = html('span', 'spark-value', fmt.reading(lastR.degrees));
      val.title = `${fmt.text(lastR.date)}: ${lastR.degrees} °C`;
      head.appendChild(val);
      card.appendChild(head);
      const { el, lo, hi } = sparkline(name, reports, 160, 44, 'spark-svg');
      card.appendChild(el);
      const foot = html('div', 'spark-foot');
      foot.appendChild(html('span', 'spark-range', `${fmt.reading(lo)} – ${fmt.reading(hi)}`));
      foot.appendChild(html('span', 'spark-date', fmt.text(lastR.date)));
      card.appendChild(foot);
      cards.push(card);
    }
    box.replaceChildren(...cards);
    setHidden($('latest-empty'), cards.length > 0);
  }

  // ---------- one station: #station=NAME ----------

  // The station named by the URL's hash, or null.
  function stationFromHash() {
    const m = /^#station=(.+)$/.exec(window.location.hash);
    if (!m) return null;
    try {
      return decodeURIComponent(m[1]);
    } catch (e) {
      return m[1];
    }
  }

  function fact(dl, term, text, exact) {
    const div = html('div', 'fact');
    div.appendChild(html('dt', null, term));
    const dd = html('dd', null);
    setNum(dd, text, exact);
    div.appendChild(dd);
    dl.appendChild(div);
  }

  // The station of state.station: its numbers, each of its partitions with
  // that partition's state and lag (from the view's partitions), and its
  // latest reports (the view's latest, when the tail of its partition holds
  // any). Redrawn at every view while open.
  function renderStationView(v) {
    const box = $('station-view');
    const name = state.station;
    setHidden(box, name === null);
    if (name === null) return;
    setText($('sv-name'), name);
    const body = [];
    const st = v ? arr(v.stations).find((s) => obj(s) && String(s.station) === name) : null;
    if (!v) {
      body.push(html('p', 'empty', 'Waiting for the first view\u2026'));
    } else if (!st) {
      body.push(html('p', 'empty sv-missing',
        'No station \u201c' + name + '\u201d in this view: it has no reports yet, or its partition is in error or unread (see Partitions).'));
    } else {
      const dl = html('dl', 'facts');
      fact(dl, 'Reports', fmt.count(st.count), st.count);
      fact(dl, 'Average', fmt.temp(st.avg), st.avg);
      fact(dl, 'Sum', fmt.temp(st.sum), st.sum);
      fact(dl, 'First day', fmt.text(st.start));
      fact(dl, 'Last day', fmt.text(st.end));
      body.push(dl);
      if (typeof st.error === 'string' && st.error) body.push(html('p', 'details error', st.error));

      const parts = arr(st.partitions);
      const table = html('table', 'data sv-partitions');
      const head = table.createTHead().insertRow();
      for (const [t, c] of [['Partition', 'num'], ['State', ''], ['Offset', 'num'], ['Log end', 'num'], ['Lag', 'num'], ['Snapshot age', 'num']]) {
        const th = html('th', c || null, t);
        th.setAttribute('scope', 'col');
        head.appendChild(th);
      }
      const tbody = table.createTBody();
      for (const n of parts) {
        const p = arr(v.partitions).find((row) => obj(row) && row.partition === n) || { partition: n };
        const st2 = STATES.has(p.state) ? p.state : 'unknown';
        const tr = makeRow(['partition num', 'state', 'offset num', 'log-end num', 'lag num', 'checkpoint-age num']);
        tr.dataset.partition = String(n);
        tr.className = 'state-' + st2;
        setText(tr.cells[0], String(n));
        tr.cells[1].appendChild(html('span', 'badge badge-' + st2, fmt.text(p.state)));
        setNum(tr.cells[2], fmt.count(p.offset), p.offset);
        setNum(tr.cells[3], fmt.count(p.log_end), p.log_end);
        setNum(tr.cells[4], fmt.count(p.lag), p.lag);
        setNum(tr.cells[5], fmt.age(p.checkpoint_age_seconds), p.checkpoint_age_seconds);
        tbody.appendChild(tr);
      }
      const wrap = html('div', 'table-wrap');
      wrap.appendChild(table);
      body.push(html('h3', null, parts.length === 1 ? 'Its partition' : 'Its partitions'), wrap);
    }

    if (v) {
      const reports = reportsOf(v, name);
      body.push(html('h3', null, 'Latest reports'));
      if (!reports.length) {
        body.push(html('p', 'empty', 'None in the tail of its partition (the newest records of each partition are read).'));
      } else {
        body.push(sparkline(name, reports, 600, 90, 'spark-svg sv-chart').el);
        const table = html('table', 'data sv-latest');
        const head = table.createTHead().insertRow();
        for (const [t, c] of [['Date', ''], ['Daily maximum', 'num']]) {
          const th = html('th', c || null, t);
          th.setAttribute('scope', 'col');
          head.appendChild(th);
        }
        const tbody = table.createTBody();
        for (let i = reports.length - 1; i >= 0; i--) { // newest first
          const tr = makeRow(['date', 'degrees num']);
          setText(tr.cells[0], fmt.text(reports[i].date));
          setNum(tr.cells[1], fmt.temp(reports[i].degrees), reports[i].degrees);
          tbody.appendChild(tr);
        }
        const wrap = html('div', 'table-wrap sv-latest-wrap');
        wrap.appendChild(table);
        body.push(wrap);
      }
    }
    $('sv-body').replaceChildren(...body);
  }

  // Opens (or closes) the station the hash names; scrolls to it when asked.
  function followHash(scroll) {
    state.station = stationFromHash();
    guard('station view', () => renderStationView(state.view));
    renderPage();
    if (scroll && state.station !== null) $('station-view').scrollIntoView({ block: 'nearest' });
  }

  function closeStation() {
    if (state.station === null) return;
    // No "#" left behind, and no hashchange event: render by hand.
    window.history.pushState(null, '', window.location.pathname + window.location.search);
    followHash(false);
  }

  // ---------- the view ----------

  function render(v) {
    guard('header', () => renderHeader(v));
    guard('banners', () => renderBanners(v));
    guard('station view', () => renderStationView(v));
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

  // The filter, the pager and the station view: the page's own controls.
  function wireControls() {
    const filter = $('station-filter');
    filter.addEventListener('input', () => {
      state.filterText = filter.value.trim();
      state.filter = state.filterText.toLowerCase();
      state.page = 0;
      renderPage();
    });
    $('page-prev').addEventListener('click', () => {
      state.page--;
      renderPage();
    });
    $('page-next').addEventListener('click', () => {
      state.page++;
      renderPage();
    });
    $('sv-close').addEventListener('click', closeStation);
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') closeStation();
    });
    window.addEventListener('hashchange', () => followHash(true));
    window.addEventListener('popstate', () => followHash(false));
  }

  function start() {
    setStatus('connecting');
    wireControls();
    followHash(false);
    seedLag();
    // No fetch of /api/v1/view: the stream sends the current view as soon as
    // it connects (or the first one, once the dashboard has it), and a fetch
    // before the first refresh would be a 503 in the console.
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
