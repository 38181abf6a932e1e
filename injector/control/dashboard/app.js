// The game-day page: live figures over Server-Sent Events (EventSource
// reconnects by itself after a restart), and the controls. No library, no
// request to anywhere but this server.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  // Each outcome has its own colour, picked to stay apart for colour-blind
  // eyes too (Okabe–Ito, and greys), and always a word in the legend.
  const colourOf = {
    'normal': '#009e73', 'pass': '#56b4e9', 'answer': '#0072b2', 'servfail': '#d55e00',
    'nxdomain': '#e69f00', 'empty': '#f0e442', 'drop': '#cc79a7', 'refused': '#bbbbbb',
    'upstream failure': '#ffffff', 'notimp': '#8c6bb1', 'formerr': '#a6761d', 'truncate': '#66c2a5',
    'garbage': '#777777', 'http-status': '#ff8fab',
  };
  const colour = (o) => colourOf[o] || '#999999';
  let lastLive = null;
  let phases = [];

  function text(el, value) { if (el.textContent !== value) el.textContent = value; }
  function duration(s) {
    if (s == null) return '';
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + 'h' : '') + (h || m ? m + 'm' : '') + r + 's';
  }
  function row(cells) {
    const tr = document.createElement('tr');
    for (const c of cells) { const td = document.createElement('td'); td.textContent = c; tr.appendChild(td); }
    return tr;
  }
  function fill(tbody, rows) { tbody.replaceChildren(...rows.map(row)); }

  function renderStatus(st) {
    text($('scenario'), st.scenario);
    document.title = 'dnsfault · ' + st.scenario;
    const faults = $('faults');
    text(faults, st.faults_active ? 'ON' : 'OFF: ' + st.faults_off);
    faults.className = 'value ' + (st.faults_active ? 'on' : 'off');
    text($('phase'), st.phase || (st.timeline === 'ended' ? 'ended' : st.timeline === 'not-started' ? 'not started' : '(none)'));
    text($('phase-left'), st.phase_left_seconds != null ? duration(st.phase_left_seconds) + ' left' : (st.phase ? 'until the end' : ''));
    const safety = [];
    if (st.max_duration_left_seconds != null) safety.push('max-duration ' + duration(st.max_duration_left_seconds) + ' left');
    if (st.heartbeat_left_seconds != null) safety.push('heartbeat ' + duration(st.heartbeat_left_seconds) + ' left');
    text($('safety'), safety.join(' · ') || 'no timers');
    const config = ['DNS on ' + st.listen, 'forwarding to ' + st.upstream];
    if (st.zones && st.zones.length) config.push('zones ' + st.zones.join(' '));
    if (st.signed && st.signed.length) config.push('signed ' + st.signed.join(', ') + (st.dnssec_anchors ? ', trust anchors in ' + st.dnssec_anchors : ''));
    if (st.allow && st.allow.length) config.push('answering only ' + st.allow.join(' '));
    config.push('speed ' + st.speed + 'x' + (st.ttl_scale !== 1 ? ' (TTLs divided by ' + st.ttl_scale + ')' : ''));
    if (st.record) config.push('recording into ' + st.record);
    if (st.query_log) config.push('logging queries to ' + st.query_log);
    text($('config'), config.join(' · '));
    const names = st.phases.map((p) => p.name).join('|');
    if (names !== phases.join('|')) {
      phases = st.phases.map((p) => p.name);
      $('jump').replaceChildren(...phases.map((p) => {
        const b = document.createElement('button');
        b.className = 'phase-button'; b.dataset.phase = p; b.textContent = p;
        return b;
      }));
    }
    $('timeline').replaceChildren(...st.phases.map((p) => {
      const li = document.createElement('li');
      const now = st.timeline === 'running' && p.name === st.phase;
      li.className = now ? 'now' : '';
      li.textContent = p.name + (p.duration_seconds ? ' (' + duration(p.duration_seconds) + ')' : '') + (now ? ' ◀ now' : '');
      return li;
    }));
    const rules = [];
    for (const p of st.phases) for (const r of p.rules) rules.push([p.name, r.name, r.action, String(r.hits)]);
    fill($('rules'), rules);
    renderAdHoc(st.ad_hoc_rules || []);
  }

  function renderAdHoc(rules) {
    $('adhoc-none').hidden = rules.length > 0;
    $('adhoc').replaceChildren(...rules.map((r) => {
      const tr = row([r.name, r.summary, String(r.hits), r.left_seconds != null ? duration(r.left_seconds) : 'until removed']);
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.className = 'remove'; b.dataset.rule = r.name; b.textContent = 'Remove';
      b.setAttribute('aria-label', 'Remove ad-hoc rule ' + r.name);
      td.appendChild(b); tr.appendChild(td);
      return tr;
    }));
  }

  // The chart: one stacked bar a second, the last three minutes, "now" at
  // the right edge; drawn at the size it is shown, so it fills its box.
  function renderChart(live) {
    const svg = $('chart'), ns = 'http://www.w3.org/2000/svg';
    const W = Math.max(svg.clientWidth, 200), H = 240, left = 64, right = 12, top = 12, bottom = 28;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const secs = live.seconds, plotW = W - left - right, plotH = H - top - bottom, w = plotW / secs.length;
    let peak = 0, total = 0;
    const seen = live.outcomes.map(() => 0);
    for (const s of secs) {
      const sum = s.counts.reduce((a, b) => a + b, 0);
      peak = Math.max(peak, sum); total += sum;
      s.counts.forEach((c, k) => { seen[k] += c; });
    }
    const scale = niceCeiling(Math.max(peak, 1));
    const el = (name, attrs, content) => {
      const e = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (content != null) e.textContent = content;
      return e;
    };
    const parts = [];
    for (const f of [0, 0.5, 1]) { // the q/s axis
      const y = top + plotH * (1 - f);
      parts.push(el('line', { x1: left, x2: W - right, y1: y, y2: y, class: 'grid' }));
      parts.push(el('text', { x: left - 8, y: y + 5, 'text-anchor': 'end', class: 'axis y' }, fmt(scale * f) + ' q/s'));
    }
    for (let m = 3; m >= 0; m--) { // the time axis: minutes before now
      const x = left + plotW * (1 - m / 3);
      parts.push(el('text', { x: x, y: H - 8, 'text-anchor': m === 3 ? 'start' : m === 0 ? 'end' : 'middle', class: 'axis x' }, m === 0 ? 'now' : '−' + m + ' min'));
    }
    secs.forEach((s, i) => {
      let y = top + plotH;
      s.counts.forEach((c, k) => {
        if (!c) return;
        const h = (c / scale) * plotH;
        y -= h;
        const r = el('rect', { x: (left + i * w).toFixed(1), y: y.toFixed(1), width: Math.max(w - 0.5, 0.5).toFixed(1), height: h.toFixed(1), fill: colour(live.outcomes[k]) });
        r.appendChild(el('title', {}, live.outcomes[k] + ': ' + c + ' q/s'));
        parts.push(r);
      });
    });
    svg.replaceChildren(...parts);
    svg.dataset.total = String(total);
    // The legend lists what the window holds, with the last full second's rate.
    const last = secs[secs.length - 2] || secs[secs.length - 1];
    const items = live.outcomes.map((o, k) => [o, k]).filter(([, k]) => seen[k] > 0);
    $('legend').replaceChildren(...(items.length ? items.map(([o, k]) => {
      const li = document.createElement('li');
      const sw = document.createElement('span'); sw.style.background = colour(o);
      li.append(sw, o + ' ' + (last ? last.counts[k] : 0) + ' q/s');
      return li;
    }) : [Object.assign(document.createElement('li'), { textContent: 'no queries in the last three minutes' })]));
  }
  function niceCeiling(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function fmt(v) { return v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + 'k' : String(Math.round(v * 10) / 10); }

  function render(live) {
    lastLive = live;
    renderStatus(live.status);
    renderChart(live);
    const byTransport = Object.entries(live.transports || {}).map(([t, n]) => t + ' ' + n).join(' · ');
    text($('transports'), byTransport ? 'Queries since the start by transport: ' + byTransport : '');
    fill($('names'), live.top_names.map((n) => [n.name, String(n.queries), n.treatment]));
    $('probes-section').hidden = !live.probes || live.probes.length === 0;
    fill($('probes'), (live.probes || []).map((p) => [
      p.probe, p.ok ? 'up' : 'DOWN', p.latency_ms.toFixed(1) + ' ms', String(p.tries - p.failures) + ' of ' + String(p.tries), p.error || '']));
    fill($('latest'), live.latest.slice().reverse().map((q) => [
      new Date(q.time).toLocaleTimeString(), q.name, q.type, q.client, q.action, q.rcode, q.latency_ms.toFixed(1) + ' ms']));
  }

  function connect() {
    const conn = $('connection');
    const es = new EventSource('/v1/live');
    es.onopen = () => { conn.textContent = 'live'; conn.className = 'pill live'; };
    es.onmessage = (e) => { render(JSON.parse(e.data)); };
    es.onerror = () => { conn.textContent = 'reconnecting…'; conn.className = 'pill lost'; };
  }

  async function act(path, label, method) {
    const result = $('result');
    result.textContent = label + '…';
    try {
      const resp = await fetch(path, { method: method || 'POST' });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error || resp.statusText);
      renderStatus(body);
      result.textContent = label + ': done at ' + new Date().toLocaleTimeString() + (body.faults_active ? ' (faults ON)' : ' (faults OFF: ' + body.faults_off + ')');
    } catch (err) {
      result.textContent = label + ' failed: ' + err.message;
    }
  }

  function abort() {
    if (window.confirm('Abort: turn every fault off now?')) act('/v1/abort', 'Abort');
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('abort').addEventListener('click', abort);
    $('resume').addEventListener('click', () => {
      if (window.confirm('Resume: turn the faults back on?')) act('/v1/resume', 'Resume');
    });
    $('jump').addEventListener('click', (e) => {
      const p = e.target.dataset && e.target.dataset.phase;
      if (p && window.confirm('Jump to phase ' + p + '?')) act('/v1/phase/' + encodeURIComponent(p), 'Jump to ' + p);
    });
    $('adhoc').addEventListener('click', (e) => {
      const r = e.target.dataset && e.target.dataset.rule;
      if (r && window.confirm('Remove ad-hoc rule ' + r + '?')) act('/v1/rules/' + encodeURIComponent(r), 'Remove ' + r, 'DELETE');
    });
    window.addEventListener('resize', () => { if (lastLive) renderChart(lastLive); });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'A' && e.shiftKey && !e.ctrlKey && !e.metaKey) abort();
    });
    // The page comes with the figures of the moment it was served, so
    // its first paint has data; the stream takes over from there.
    const initial = $('initial');
    if (initial) render(JSON.parse(initial.textContent));
    connect();
  });
})();
