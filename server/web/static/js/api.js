// The JSON API, the only thing the pages talk to. Errors come back as
// {"error": {"code", "message", "field"}}; they are thrown as ApiError so a form can put the
// message under the field it names.

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status; this.code = code; this.field = field;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

async function call(method, path, body, headers = {}) {
  let resp;
  const opts = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (body instanceof Blob || body instanceof ArrayBuffer) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers['Content-Type'] = 'application/json'; }
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'network', '', '');
  }
  const type = resp.headers.get('Content-Type') || '';
  if (!resp.ok) {
    let detail = {};
    if (type.includes('json')) detail = (await resp.json().catch(() => ({}))).error || {};
    if (resp.status === 401) onUnauthorized();
    throw new ApiError(resp.status, detail.code || 'http_' + resp.status, detail.message || resp.statusText, detail.field || '');
  }
  if (type.includes('json')) return resp.json();
  return resp;
}

export function get(path, params) {
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, v);
    const s = q.toString();
    if (s) path += (path.includes('?') ? '&' : '?') + s;
  }
  return call('GET', path);
}

export const post = (path, body, headers) => call('POST', path, body, headers);
export const patch = (path, body) => call('PATCH', path, body);
export const del = (path) => call('DELETE', path);
