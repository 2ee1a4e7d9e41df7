// A hub's stations: those with a live session now, with what moved.
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';

export async function stationsPage(main) {
  const st = await get('/api/v1/status');
  const peers = st.peers || [];
  mount(main, h('h1', {}, t('stations.title')),
    peers.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'stations' },
      h('thead', {}, h('tr', {}, [t('stations.id'), '', t('sync.pending'), t('sync.last')].map(x => h('th', {}, x)))),
      h('tbody', {}, peers.map(p => h('tr', {}, h('td', {}, p.id),
        h('td', {}, h('span', { class: 'badge ' + (p.connected ? 'ok' : 'warn') }, p.connected ? t('sync.connected') : t('sync.disconnected'))),
        h('td', {}, p.pending_ops), h('td', {}, p.last_sync || '')))))) : h('p', { class: 'muted' }, t('stations.none')));
}
