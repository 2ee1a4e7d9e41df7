// barChart draws rows of [label, value] as a horizontal SVG bar chart: drawn here, so the
// dashboard needs nothing from the internet.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function barChart(rows, opts = {}) {
  const bar = 18, gap = 6, labelW = 110, valueW = 56, width = 420;
  const max = Math.max(1, ...rows.map(r => r[1]));
  const height = Math.max(1, rows.length) * (bar + gap) + gap;
  const svg = el('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', ...(opts.id ? { id: opts.id } : {}) });
  rows.forEach(([label, value], i) => {
    const y = gap + i * (bar + gap);
    const w = Math.round(((width - labelW - valueW) * value) / max);
    const t = el('text', { x: labelW - 6, y: y + bar * 0.72, 'text-anchor': 'end' }, String(label).slice(0, 10));
    const title = el('title', {}, `${label}: ${value}`);
    const r = el('rect', { class: 'bar' + (opts.alt ? ' alt' : ''), x: labelW, y, width: Math.max(w, 1), height: bar, rx: 3 });
    r.append(title);
    svg.append(t, r, el('text', { x: labelW + w + 6, y: y + bar * 0.72 }, String(value)));
  });
  return svg;
}
