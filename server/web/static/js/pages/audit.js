// The audit log of identity reads, at the hub.
import { h, mount, fmtTime } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';

export async function auditPage(main) {
  const r = await get('/api/v1/audit', { limit: 200 });
  const rows = r.records || r.audit || [];
  mount(main, h('h1', {}, t('audit.title')), h('div', { class: 'table-wrap' }, h('table', { id: 'audit' },
    h('thead', {}, h('tr', {}, [t('audit.when'), t('audit.who'), t('audit.case'), t('audit.fields')].map(x => h('th', {}, x)))),
    h('tbody', {}, rows.map(a => h('tr', {}, h('td', {}, fmtTime(a.at)), h('td', {}, a.account || a.who),
      h('td', {}, (a.cases || []).join('、')), h('td', {}, (a.fields || []).join('、'))))))));
}
