// Region names for codes, from GET /api/v1/regions, cached for the page's life.
import { get } from './api.js';

const names = new Map();

// regionName resolves a code to "宝丰镇 · 某村" style text; it returns the code until known.
export async function regionName(code) {
  if (!code) return '';
  if (names.has(code)) return names.get(code);
  try {
    const r = await get('/api/v1/regions', { code });
    names.set(code, r.name || code);
  } catch (e) {
    names.set(code, code);
  }
  return names.get(code);
}

// fillRegion sets el's text to the region's name once known, the code meanwhile.
export function fillRegion(el, code) {
  el.textContent = code || '';
  if (code) regionName(code).then(n => { el.textContent = n; el.title = code; });
  return el;
}

export async function children(parent) {
  const r = await get('/api/v1/regions', { parent });
  return r.regions || [];
}
