// A hub's stations: every station enrolled here, whether it is connected to this member now,
// when its last session ended, how much it has still to take from the hub, and whether its
// clock runs ahead.
import { h, mount, fmtTime } from '../dom.js';
import { t } from '../i18n.js';
import { get, post } from '../api.js';
import { fillRegion } from '../regions.js';

export async function stationsPage(main, params, ctx) {
  const st = await get('/api/v1/status');
  const peers = st.peers || [];
  const perms = ctx?.session?.permissions;
  const reqs = !perms || perms.includes('enroll') ? (await get('/api/v1/enrollments/requests').catch(() => ({ requests: [] }))).requests : [];
  const decide = (station, verb) => async () => {
    await post('/api/v1/enrollments/requests/' + encodeURIComponent(station) + '/' + verb);
    stationsPage(main, params, ctx);
  };
  mount(main, h('h1', {}, t('stations.title')),
    reqs.length ? h('div', { class: 'card', id: 'enroll-requests' }, h('h2', {}, t('stations.requests')),
      h('p', { class: 'muted' }, t('stations.requests.help')),
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, [t('stations.id'), t('cases.region'), t('stations.fingerprint'), t('stations.from'), t('audit.when'), ''].map(x => h('th', {}, x)))),
        h('tbody', {}, reqs.map(q => h('tr', { dataset: { request: q.station } },
          h('td', {}, q.station), h('td', {}, fillRegion(h('span'), q.region)), h('td', {}, h('code', {}, q.fingerprint)),
          h('td', {}, q.from), h('td', {}, fmtTime(q.requested_at)),
          h('td', {}, q.declined ? h('span', { class: 'badge bad' }, t('stations.declined')) : [
            h('button', { type: 'button', class: 'primary', onclick: decide(q.station, 'approve') }, t('stations.approve')), ' ',
            h('button', { type: 'button', onclick: decide(q.station, 'decline') }, t('stations.decline'))]))))))) : null,
    peers.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'stations' },
      h('thead', {}, h('tr', {}, [t('stations.id'), t('cases.region'), '', t('stations.last'), t('stations.pending'), t('sync.clockcol')].map(x => h('th', {}, x)))),
      h('tbody', {}, peers.map(p => h('tr', { dataset: { station: p.id } }, h('td', {}, p.id),
        h('td', {}, fillRegion(h('span'), p.region)),
        h('td', {}, p.revoked ? h('span', { class: 'badge bad' }, t('stations.revoked'))
          : h('span', { class: 'badge ' + (p.connected ? 'ok' : 'warn') }, p.connected ? t('sync.connected') : t('sync.disconnected'))),
        h('td', {}, p.last_sync ? fmtTime(p.last_sync) : t('common.never')),
        h('td', { class: 'pending', title: t('stations.pending.help') }, p.pending_unknown ? '—' : String(p.pending_ops ?? 0)),
        h('td', {}, p.clock_ahead_seconds ? h('span', { class: 'badge bad' }, t('sync.ahead', { minutes: Math.round(p.clock_ahead_seconds / 60) })) : '')))))) :
      h('p', { class: 'muted' }, t('stations.none')));
}
