// Sync status: connected or not, ops the hub has not acknowledged, last sync, the last
// error, quarantined ops, and a warning when this machine's clock is off the hub's.
import { h, mount, fmtTime } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';

export async function syncPage(main) {
  const box = h('div');
  mount(main, h('h1', {}, t('sync.title')), box);
  async function draw() {
    const st = await get('/api/v1/status');
    const peers = st.peers || [];
    // A station learns how far its clock is off its hub's at each connection; a hub sees how
    // far ahead its stations' stamps were.
    const known = peers.filter(p => p.clock_skew_seconds !== undefined);
    const skew = known.length ? Math.round(known[0].clock_skew_seconds / 60) : null;
    mount(box,
      skew !== null && Math.abs(skew) >= 5 ? h('p', { class: 'banner', id: 'clock-skew' }, t('sync.skew', { minutes: skew })) : null,
      st.role === 'station' && !peers.some(p => p.connected) ? h('p', { class: 'banner info', id: 'offline' }, t('sync.offline')) : null,
      h('div', { class: 'grid' },
        h('div', { class: 'card' }, h('div', { class: 'muted' }, t('sync.cases')), h('div', { class: 'kpi', id: 'kpi-cases' }, st.cases)),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, t('sync.ops')), h('div', { class: 'kpi' }, st.ops)),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, t('sync.quarantined')),
          h('div', { class: 'kpi' }, h('a', { href: '#/quarantine' }, st.quarantined_ops))),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, t('sync.clock')), h('div', {}, fmtTime(st.now)))),
      st.equivocations ? h('p', { class: 'banner' }, t('sync.equivocations'), ': ', st.equivocations) : null,
      st.pending_ops ? h('p', { class: 'muted' }, t('sync.waiting'), ': ', st.pending_ops) : null,
      h('div', { class: 'table-wrap' }, h('table', { id: 'peers' },
        h('thead', {}, h('tr', {}, [t('sync.peer'), '', t('sync.pending'), t('sync.clockcol'), t('sync.last'), t('sync.error')].map(x => h('th', {}, x)))),
        h('tbody', {}, peers.map(p => h('tr', { dataset: { peer: p.id } },
          h('td', {}, p.id),
          h('td', {}, h('span', { class: 'badge ' + (p.connected ? 'ok' : 'warn') }, p.connected ? t('sync.connected') : t('sync.disconnected'))),
          h('td', {}, p.pending_ops),
          h('td', {}, p.clock_ahead_seconds ? h('span', { class: 'badge bad' }, t('sync.ahead', { minutes: Math.round(p.clock_ahead_seconds / 60) })) : ''),
          h('td', {}, p.last_sync ? fmtTime(p.last_sync) : t('common.never')),
          h('td', { class: 'muted' }, p.last_error || '')))))));
  }
  await draw();
  const timer = setInterval(() => draw().catch(() => {}), 3000);
  return () => clearInterval(timer);
}
