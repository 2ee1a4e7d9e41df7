// Ops kept aside for a person: their writer may not write their case.
import { h, mount, fmtTime } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';

export async function quarantinePage(main) {
  const r = await get('/api/v1/quarantine', { limit: 200 });
  const ops = r.ops || [];
  mount(main, h('h1', {}, t('quarantine.title')), h('p', { class: 'muted' }, t('quarantine.help')),
    ops.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'quarantine' },
      h('thead', {}, h('tr', {}, [t('quarantine.case'), t('quarantine.op'), t('quarantine.from'), t('audit.when')].map(x => h('th', {}, x)))),
      h('tbody', {}, ops.map(q => h('tr', {}, h('td', {}, q.case), h('td', {}, q.op), h('td', {}, q.via || q.author || ''),
        h('td', {}, fmtTime(q.at || q.received_at))))))) : h('p', { class: 'muted' }, t('quarantine.empty')));
}
