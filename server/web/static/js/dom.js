// Small DOM helpers. h() builds elements from data with textContent, never innerHTML, so a
// petitioner's name or a note can never run as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function mount(el, ...children) { clear(el); append(el, children); return el; }

const shanghai = (opts) => new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, ...opts });
const dateTimeFmt = shanghai({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
const dateFmt = shanghai({ year: 'numeric', month: '2-digit', day: '2-digit' });

function toDate(v) {
  if (v === undefined || v === null || v === '' || v === 0) return null;
  const d = typeof v === 'number' ? new Date(v) : new Date(v);
  return isNaN(d) ? null : d;
}

// fmtTime shows an instant (RFC 3339 string or ms) as 2026-01-02 15:04 in Asia/Shanghai.
export function fmtTime(v) {
  const d = toDate(v);
  return d ? dateTimeFmt.format(d).replace(/\//g, '-') : '';
}

export function fmtDate(v) {
  const d = toDate(v);
  return d ? dateFmt.format(d).replace(/\//g, '-') : '';
}

// field wraps an input with its label and a line for its error.
export function field(labelText, input, opts = {}) {
  const err = h('span', { class: 'err', id: (input.id || input.name) + '-err', 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', err.id);
  return h('label', { class: opts.wide ? 'wide' : '' }, labelText, input, err);
}

// setError shows msg under input (or clears it when msg is empty).
export function setError(input, msg) {
  const err = document.getElementById(input.getAttribute('aria-describedby'));
  if (err) err.textContent = msg || '';
  if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
}
