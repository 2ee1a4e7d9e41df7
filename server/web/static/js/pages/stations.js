// A hub's stations: every station enrolled here, whether it is connected to this member now,
// when its last session ended, and whether its clock runs ahead.
import { h, mount, fmtTime } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';
import { fillRegion } from '../regions.js';

export async function stationsPage(main) {
  const st = await get('/api/v1/status');
  const peers = st.peers || [];
  mount(main, h('h1', {}, t('stations.title')),
    peers.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'stations' },
      h('thead', {}, h('tr', {}, [t('stations.id'), t('cases.region'), '', t('stations.last'), t('sync.clockcol')].map(x => h('th', {}, x)))),
      h('tbody', {}, peers.map(p => h('tr', { dataset: { station: p.id } }, h('td', {}, p.id),
        h('td', {}, fillRegion(h('span'), p.region)),
        h('td', {}, p.revoked ? h('span', { class: 'badge bad' }, t('stations.revoked'))
          : h('span', { class: 'badge ' + (p.connected ? 'ok' : 'warn') }, p.connected ? t('sync.connected') : t('sync.disconnected'))),
        h('td', {}, p.last_sync ? fmtTime(p.last_sync) : t('common.never')),
        h('td', {}, p.clock_ahead_seconds ? h('span', { class: 'badge bad' }, t('sync.ahead', { minutes: Math.round(p.clock_ahead_seconds / 60) })) : '')))))) :
      h('p', { class: 'muted' }, t('stations.none')));
}
