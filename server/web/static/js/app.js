// The application shell: reads who this node is (GET /api/v1/status), draws the menu for
// a station or a hub, and routes #/path to a page. A page is a function (main, params, ctx)
// that fills main; it may return a cleanup function, called when the page is left.

import { t, setLang, lang, localized } from './i18n.js';
import { h, mount } from './dom.js';
import { get, ApiError, setUnauthorizedHandler } from './api.js';
import { casesPage } from './pages/cases.js';
import { casePage } from './pages/case.js';
import { registerPage } from './pages/register.js';
import { syncPage } from './pages/sync.js';
import { bundlesPage } from './pages/bundles.js';
import { quarantinePage } from './pages/quarantine.js';
import { dashboardPage } from './pages/dashboard.js';
import { stationsPage } from './pages/stations.js';
import { signinPage } from './pages/signin.js';
import { auditPage } from './pages/audit.js';
import { accountsPage } from './pages/accounts.js';
import { tokensPage } from './pages/tokens.js';

const routes = [
  { path: 'cases', page: casesPage, nav: 'nav.cases' },
  { path: 'cases/:id', page: casePage },
  { path: 'register', page: registerPage, nav: 'nav.register', role: 'station', perm: 'register' },
  { path: 'dashboard', page: dashboardPage, nav: 'nav.dashboard', role: 'hub' },
  { path: 'due', page: (m, p, c) => casesPage(m, { ...p, due: '7' }, c), nav: 'nav.due' },
  { path: 'sync', page: syncPage, nav: 'nav.sync' },
  { path: 'stations', page: stationsPage, nav: 'nav.stations', role: 'hub' },
  { path: 'bundles', page: bundlesPage, nav: 'nav.bundles', role: 'station', perm: 'export' },
  { path: 'quarantine', page: quarantinePage, nav: 'nav.quarantine' },
  { path: 'audit', page: auditPage, nav: 'nav.audit', role: 'hub', perm: 'audit' },
  { path: 'accounts', page: accountsPage, nav: 'nav.accounts', perm: 'manage_accounts' },
  { path: 'tokens', page: tokensPage, nav: 'nav.tokens', perm: 'read' },
  { path: 'signin', page: signinPage },
];

const ctx = { status: null, session: null };
let leave = null;

function match(hash) {
  const [pathPart, query] = hash.replace(/^#\/?/, '').split('?');
  const parts = pathPart.split('/').filter(Boolean);
  for (const r of routes) {
    const rp = r.path.split('/');
    if (rp.length !== parts.length) continue;
    const params = {};
    let ok = true;
    rp.forEach((seg, i) => {
      if (seg.startsWith(':')) params[seg.slice(1)] = decodeURIComponent(parts[i]);
      else if (seg !== parts[i]) ok = false;
    });
    if (ok) {
      for (const [k, v] of new URLSearchParams(query || '')) params[k] = v;
      return { route: r, params };
    }
  }
  return null;
}

function defaultPath() { return ctx.status?.role === 'hub' ? '#/dashboard' : '#/cases'; }

function drawNav(current) {
  const role = ctx.status?.role || 'station';
  const nav = document.getElementById('nav');
  const perms = ctx.session?.permissions;
  const may = (p) => !p || !perms || perms.includes(p);
  mount(nav, routes.filter(r => r.nav && (!r.role || r.role === role) && may(r.perm)).map(r =>
    h('a', { href: '#/' + r.path, class: current === r ? 'active' : '' }, t(r.nav))));
  document.getElementById('lang').textContent = t('lang.switch');
  const who = document.getElementById('who');
  mount(who, ctx.session && !ctx.session.operator ? [ctx.session.name || ctx.session.id, ' ',
    h('button', { class: 'link', type: 'button', onclick: signOut }, t('nav.signout'))] : []);
}

async function signOut() {
  try { await fetch('/api/v1/signout', { method: 'POST', credentials: 'same-origin' }); } catch (e) { /* offline is fine */ }
  ctx.session = null;
  location.hash = '#/signin';
}

export function showError(err) {
  const b = document.getElementById('banner');
  if (!err) { b.hidden = true; b.textContent = ''; return; }
  b.className = 'banner';
  b.textContent = err instanceof ApiError && err.code === 'network' ? t('err.network') : localized(err.message) || t('common.error');
  b.hidden = false;
}

async function route() {
  if (leave) { try { leave(); } catch (e) { /* a page's cleanup must not stop navigation */ } leave = null; }
  showError(null);
  const m = match(location.hash);
  if (!m) { location.replace(defaultPath()); return; }
  drawNav(m.route);
  const main = document.getElementById('main');
  mount(main, h('p', { class: 'muted' }, t('common.loading')));
  try {
    const r = await m.route.page(main, m.params, ctx);
    if (typeof r === 'function') leave = r;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    mount(main, h('div', { class: 'card' }, h('p', {}, err instanceof ApiError && err.code === 'network' ? t('err.network') : localized(err.message) || t('common.error')),
      h('button', { type: 'button', onclick: route }, t('common.retry'))));
  }
}

// loadStatus learns who this node is; before sign-in a node with accounts does not say.
export async function loadStatus() {
  try {
    ctx.status = await get('/api/v1/status');
    document.getElementById('node-name').textContent = ctx.status.node;
    document.title = t('app.title') + ' · ' + ctx.status.node;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) showError(err);
  }
}

async function start() {
  document.getElementById('lang').addEventListener('click', () => { setLang(lang() === 'en' ? 'zh' : 'en'); route(); });
  setUnauthorizedHandler(() => { if (!location.hash.startsWith('#/signin')) location.hash = '#/signin?next=' + encodeURIComponent(location.hash); });
  await loadStatus();
  try { ctx.session = await get('/api/v1/me'); } catch (e) { ctx.session = null; }
  window.addEventListener('hashchange', route);
  route();
}

start();
