// The case list: filters (state, kind, region, due within, overdue), one row per case with
// its next deadline as a badge, pages by cursor.
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';
import { fillRegion } from '../regions.js';
import { stateText, kindText, deadlineBadge, caseTitle } from './common.js';

const states = ['CAPTURED', 'REGISTERED', 'FORWARDED', 'ASSIGNED', 'ACCEPTED', 'INVESTIGATING', 'MEDIATING', 'EXTENDED',
  'HEARING', 'OPINION_SERVED', 'IMPLEMENTING', 'REVIEW', 'RE_REVIEW', 'AGREEMENT', 'JUDICIAL_CONFIRMATION', 'CLOSED'];

export async function casesPage(main, params, ctx) {
  const q = { state: params.state || '', kind: params.kind || '', region: params.region || '',
    due_within: params.due ? params.due + 'd' : '', overdue: params.overdue === '1' ? 'true' : '' };
  const stateSel = h('select', { name: 'state', id: 'f-state' }, h('option', { value: '' }, t('common.all')),
    states.map(s => h('option', { value: s, selected: s === q.state }, stateText(s))));
  const kindSel = h('select', { name: 'kind', id: 'f-kind' }, h('option', { value: '' }, t('common.all')),
    ['petition', 'dispute'].map(k => h('option', { value: k, selected: k === q.kind }, kindText(k))));
  const region = h('input', { name: 'region', id: 'f-region', value: q.region, inputmode: 'numeric', size: 12 });
  const due = h('input', { name: 'due', id: 'f-due', type: 'number', min: 0, max: 365, value: params.due || '', size: 4 });
  const overdue = h('input', { type: 'checkbox', id: 'f-overdue', checked: q.overdue === 'true' });
  const form = h('form', { class: 'row card', onsubmit: (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (stateSel.value) p.set('state', stateSel.value);
    if (kindSel.value) p.set('kind', kindSel.value);
    if (region.value.trim()) p.set('region', region.value.trim());
    if (due.value) p.set('due', due.value);
    if (overdue.checked) p.set('overdue', '1');
    location.hash = '#/cases?' + p.toString();
  } },
  h('label', {}, t('cases.filter.state'), stateSel), h('label', {}, t('cases.filter.kind'), kindSel),
  h('label', {}, t('cases.filter.region'), region), h('label', {}, t('cases.filter.due'), due),
  h('label', { class: 'inline' }, overdue, t('cases.filter.overdue')),
  h('button', { type: 'submit', class: 'primary' }, t('common.search')));

  const body = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { id: 'case-list' },
    h('thead', {}, h('tr', {}, h('th', {}, t('cases.number')), h('th', {}, t('cases.kind')), h('th', {}, t('cases.state')),
      h('th', { class: 'opt' }, t('cases.region')), h('th', { class: 'opt' }, t('cases.summary')), h('th', {}, t('cases.deadline')))),
    body));
  const more = h('button', { type: 'button', hidden: true }, t('common.more'));
  const empty = h('p', { class: 'muted', hidden: true }, t('cases.empty'));
  // The same filters as a ledger workbook (台账): masked, or in full (audited) for one who
  // may see identity.
  const perms = ctx?.session?.permissions;
  const may = (p) => !perms || perms.includes(p);
  const ledgerQuery = new URLSearchParams({ format: 'xlsx' });
  if (q.state) ledgerQuery.set('state', q.state);
  if (q.region) ledgerQuery.set('region', q.region);
  const ledger = may('export') ? h('div', { class: 'row' },
    h('a', { href: '/api/v1/export?' + ledgerQuery, id: 'ledger-export', download: '' }, t('cases.ledger')),
    may('view_identity') ? h('a', { href: '/api/v1/export?' + ledgerQuery + '&redact=0', download: '' }, t('cases.ledger.full')) : null) : null;
  mount(main, h('h1', {}, t('cases.title')), form, ledger, table, empty, h('div', { class: 'pager' }, more));

  let cursor = '';
  async function load() {
    const page = await get('/api/v1/cases', { ...q, limit: 50, cursor });
    for (const c of page.cases) {
      const open = () => { location.hash = '#/cases/' + encodeURIComponent(c.id); };
      body.append(h('tr', { class: 'click', onclick: open, dataset: { case: c.id } },
        h('td', {}, h('a', { href: '#/cases/' + encodeURIComponent(c.id) }, caseTitle(c)),
          c.conflicts ? [' ', h('span', { class: 'badge warn' }, '⚠')] : null),
        h('td', {}, kindText(c.kind || c.fields.kind)),
        h('td', {}, stateText(c.state)),
        h('td', { class: 'opt' }, fillRegion(h('span'), c.fields.region)),
        h('td', { class: 'opt' }, String(c.fields.summary || '').slice(0, 40)),
        h('td', {}, deadlineBadge(c.next_deadline || c.deadline))));
    }
    cursor = page.next || '';
    more.hidden = !cursor;
    empty.hidden = body.children.length > 0;
  }
  more.addEventListener('click', load);
  await load();
}
