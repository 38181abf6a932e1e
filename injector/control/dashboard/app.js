// The game-day page: live figures over Server-Sent Events (EventSource
// reconnects by itself after a restart), and the controls. No library, no
// request to anywhere but this server.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const colours = ['#4cd07d', '#b07cff', '#7aa7ff', '#ff9f43', '#ff5c5c', '#ffd34d', '#c8d6e5', '#ee5a9c',
    '#576574', '#00d2d3', '#54a0ff', '#ff6b6b', '#f368e0', '#1dd1a1', '#feca57', '#5f27cd'];
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
    text($('phase'), st.phase || '(none)');
    text($('phase-left'), st.phase_left_seconds != null ? duration(st.phase_left_seconds) + ' left' : (st.phase ? 'until the end' : ''));
    const safety = [];
    if (st.max_duration_left_seconds != null) safety.push('max-duration ' + duration(st.max_duration_left_seconds) + ' left');
    if (st.heartbeat_left_seconds != null) safety.push('heartbeat ' + duration(st.heartbeat_left_seconds) + ' left');
    text($('safety'), safety.join(' · ') || 'no timers');
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
  }

  function renderChart(live) {
    const svg = $('chart'), ns = 'http://www.w3.org/2000/svg';
    const secs = live.seconds, w = 900 / secs.length;
    let peak = 1, total = 0;
    for (const s of secs) { const sum = s.counts.reduce((a, b) => a + b, 0); peak = Math.max(peak, sum); total += sum; }
    const bars = [];
    secs.forEach((s, i) => {
      let y = 220;
      s.counts.forEach((c, k) => {
        if (!c) return;
        const h = (c / peak) * 200;
        y -= h;
        const r = document.createElementNS(ns, 'rect');
        r.setAttribute('x', (i * w).toFixed(1)); r.setAttribute('y', y.toFixed(1));
        r.setAttribute('width', Math.max(w - 1, 1).toFixed(1)); r.setAttribute('height', h.toFixed(1));
        r.setAttribute('fill', colours[k % colours.length]);
        const t = document.createElementNS(ns, 'title');
        t.textContent = live.outcomes[k] + ': ' + c + ' q/s';
        r.appendChild(t);
        bars.push(r);
      });
    });
    svg.replaceChildren(...bars);
    svg.dataset.total = String(total);
    const last = secs[secs.length - 2] || secs[secs.length - 1];
    $('legend').replaceChildren(...live.outcomes.map((o, k) => {
      const li = document.createElement('li');
      const sw = document.createElement('span'); sw.style.background = colours[k % colours.length];
      li.append(sw, o + ' ' + (last ? last.counts[k] : 0) + ' q/s');
      return li;
    }));
  }

  function render(live) {
    renderStatus(live.status);
    renderChart(live);
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

  async function act(path, label) {
    const result = $('result');
    result.textContent = label + '…';
    try {
      const resp = await fetch(path, { method: 'POST' });
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
    $('resume').addEventListener('click', () => act('/v1/resume', 'Resume'));
    $('jump').addEventListener('click', (e) => {
      const p = e.target.dataset && e.target.dataset.phase;
      if (p && window.confirm('Jump to phase ' + p + '?')) act('/v1/phase/' + encodeURIComponent(p), 'Jump to ' + p);
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'A' && e.shiftKey && !e.ctrlKey && !e.metaKey) abort();
    });
    connect();
  });
})();
