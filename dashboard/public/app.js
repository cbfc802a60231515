// Dashboard page: polls the read model's JSON and draws, per container, the
// original papers' figure (usage, current, upper, lower, max) for CPU and
// memory, with events and orders as markers. Plain browser JS, no build step.
(() => {
  const params = new URLSearchParams(location.search);
  const API = params.get('api') || 'api/dashboard';
  const MINUTES = Number(params.get('minutes') || 10);
  const POLL_MS = Number(params.get('poll') || 5000);
  const LINES = [
    { key: 'usage', label: 'usage', stroke: '#2e90fa', fill: 'rgba(46,144,250,.15)', width: 2 },
    { key: 'current', label: 'current', stroke: '#12b76a', width: 2 },
    { key: 'upper', label: 'upper', stroke: '#f79009', width: 1, dash: [6, 4] },
    { key: 'lower', label: 'lower', stroke: '#7a5af8', width: 1, dash: [6, 4] },
    { key: 'max', label: 'max', stroke: '#98a2b3', width: 1, dash: [2, 4] },
  ];
  const charts = new Map();
  const tooltip = document.getElementById('tooltip');

  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };
  const fmt = (v) => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en'));

  function showTooltip(ev, m) {
    tooltip.replaceChildren(
      el('div', {
        text: `${new Date(m.at).toLocaleTimeString()} · ${m.kind}${m.resource ? ` (${m.resource})` : ''}`,
      }),
      el('b', { text: m.text }),
      el('ul', {}, ...m.reasons.map((r) => el('li', { text: r }))),
    );
    tooltip.hidden = false;
    tooltip.style.left = `${Math.min(ev.clientX + 12, window.innerWidth - 370)}px`;
    tooltip.style.top = `${ev.clientY + 12}px`;
  }

  // A poll redraws the markers: one under the pointer is replaced without a
  // mouseleave, so the tooltip is also hidden by any pointer move off a marker.
  document.addEventListener('mousemove', (ev) => {
    if (!tooltip.hidden && !(ev.target instanceof Element && ev.target.closest('.marker')))
      tooltip.hidden = true;
  });

  function placeMarkers(u) {
    const layer = u.root.querySelector('.markers');
    if (!layer) return;
    layer.replaceChildren();
    for (const m of u.markers || []) {
      const x = u.valToPos(m.at / 1000, 'x');
      if (!(x >= 0 && x <= u.over.clientWidth)) continue;
      const mk = el('div', {
        class: `marker ${m.kind}`,
        'data-kind': m.kind,
        'aria-label': `${m.kind}: ${m.text}`,
      });
      mk.style.left = `${x}px`;
      mk.addEventListener('mouseenter', (ev) => showTooltip(ev, m));
      mk.addEventListener('mousemove', (ev) => showTooltip(ev, m));
      mk.addEventListener('mouseleave', () => {
        tooltip.hidden = true;
      });
      layer.append(mk);
    }
  }

  function plotData(p) {
    return [p.t, ...LINES.map((l) => p[l.key])];
  }

  function legendNow(box, p) {
    box.replaceChildren(
      ...LINES.map((l) =>
        el(
          'span',
          { 'data-series': l.key, style: `border-left: 12px solid ${l.stroke}; padding-left: 4px` },
          el('b', { text: `${l.label} ` }),
          `${fmt(p.now[l.key])}`,
        ),
      ),
      el('span', { 'data-series': 'min' }, el('b', { text: 'min ' }), fmt(p.now.min)),
      el('span', { class: 'unit', text: p.unit + (p.allocationFromHistory ? '' : ' · allocation: now') }),
    );
  }

  function drawPlot(key, holder, title, p, markers) {
    let entry = charts.get(key);
    if (!entry) {
      const box = el('div', { class: 'plot', 'data-plot': key });
      const legend = el('div', { class: 'legend-now' });
      box.append(el('div', { class: 'plot-title', text: title }), legend);
      holder.append(box);
      const width = Math.max(300, holder.clientWidth - 10);
      const u = new uPlot(
        {
          width,
          height: 170,
          legend: { show: false },
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
          axes: [{}, { size: 60 }],
          series: [
            {},
            ...LINES.map((l) => ({
              label: l.label,
              stroke: l.stroke,
              width: l.width,
              dash: l.dash,
              fill: l.fill,
              spanGaps: false,
            })),
          ],
          hooks: { draw: [placeMarkers] },
        },
        plotData(p),
        box,
      );
      u.over.append(el('div', { class: 'markers' }));
      entry = { u, legend };
      u.markers = markers;
      placeMarkers(u);
      charts.set(key, entry);
    }
    entry.u.markers = markers;
    entry.u.setData(plotData(p));
    legendNow(entry.legend, p);
  }

  function renderHost(root, h) {
    let section = root.querySelector(`[data-host="${CSS.escape(h.name)}"]`);
    if (!section) {
      section = el('section', { class: 'host', 'data-host': h.name });
      section.append(el('h2'), el('div', { class: 'containers' }));
      root.append(section);
    }
    const cap = (r, unit) => {
      const used = r.max > 0 ? ((r.max - r.free) / r.max) * 100 : 0;
      const bar = el('span', { class: 'bar' }, el('span'));
      bar.firstChild.style.width = `${used.toFixed(1)}%`;
      return el('span', { 'data-capacity': unit }, `${unit} free ${fmt(r.free)} / ${fmt(r.max)}`, bar);
    };
    section
      .querySelector('h2')
      .replaceChildren(
        `host ${h.name}`,
        el('span', { class: 'capacity' }, cap(h.capacity.cpu, 'cpu'), cap(h.capacity.mem, 'mem')),
        ...(h.degraded ? [el('span', { class: 'degraded', text: 'degraded: agent silent' })] : []),
      );
    const grid = section.querySelector('.containers');
    for (const c of h.containers) {
      let card = grid.querySelector(`[data-container="${CSS.escape(c.name)}"]`);
      if (!card) {
        card = el('article', { class: 'container', 'data-container': c.name });
        card.append(el('h3'), el('div', { class: 'decision' }));
        grid.append(card);
      }
      card.querySelector('h3').textContent = `${c.name}${c.guarded ? '' : ' (not guarded)'}`;
      card.querySelector('.decision').textContent = c.lastDecision ? `last decision: ${c.lastDecision}` : '';
      for (const res of ['cpu', 'mem']) {
        const markers = c.markers.filter((m) => m.resource === null || m.resource === res);
        drawPlot(
          `${h.name}/${c.name}/${res}`,
          card,
          res === 'cpu' ? 'CPU (shares, 100 = 1 core)' : 'Memory (MiB)',
          c.plots[res],
          markers,
        );
      }
    }
  }

  function renderRules(rules) {
    document
      .querySelector('#rules tbody')
      .replaceChildren(
        ...rules.map((r) =>
          el(
            'tr',
            {},
            el('td', { text: r.name }),
            el('td', { text: r.resource }),
            el('td', { text: r.generates }),
            el('td', { text: r.active ? 'yes' : 'no' }),
            el('td', {}, el('code', { text: r.summary })),
          ),
        ),
      );
  }

  async function refresh() {
    const status = document.getElementById('status');
    try {
      const url = new URL(API, location.href);
      url.searchParams.set('minutes', String(MINUTES));
      const res = await fetch(url, { cache: 'no-store' });
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
      const view = await res.json();
      const root = document.getElementById('hosts');
      for (const h of view.hosts) renderHost(root, h);
      renderRules(view.rules);
      document.getElementById('warnings').replaceChildren(...view.warnings.map((w) => el('li', { text: w })));
      status.textContent = `updated ${new Date(view.at).toLocaleTimeString()} · last ${MINUTES} min · every ${POLL_MS / 1000} s`;
      document.body.dataset.loaded = 'true';
    } catch (err) {
      status.textContent = `cannot read ${API}: ${err.message}`;
    }
  }

  refresh();
  setInterval(refresh, POLL_MS);
})();
