// A hub's overview: counts and charts (SVG drawn here, nothing from a CDN), this month's
// metrics for the county and each township, and where to look next.
import { h, mount, fmtDate } from '../dom.js';
import { t, lang } from '../i18n.js';
import { get } from '../api.js';
import { barChart } from '../chart.js';
import { stateText } from './common.js';

export async function dashboardPage(main) {
  const [st, stats] = await Promise.all([get('/api/v1/status'), get('/api/v1/stats')]);
  const kpi = (title, value, href, id) => h('div', { class: 'card' }, h('div', { class: 'muted' }, title),
    h('div', { class: 'kpi', id }, href ? h('a', { href }, value) : value));
  const [whole, ...towns] = stats.metrics || [];
  const name = (m) => (lang() === 'en' ? m.en || m.zh : m.zh);
  const rates = (whole?.metrics || []);
  mount(main, h('h1', {}, t('dash.title')),
    h('div', { class: 'grid' },
      kpi(t('dash.cases'), stats.cases, '#/cases', 'kpi-cases'),
      kpi(t('dash.overdue'), stats.overdue, '#/cases?overdue=1', 'kpi-overdue'),
      kpi(t('dash.near'), stats.near_due, '#/due', 'kpi-near'),
      kpi(t('dash.backlog'), stats.backlog, null, 'kpi-backlog'),
      kpi(t('dash.repeats'), stats.repeats, null, 'kpi-repeats'),
      kpi(t('sync.quarantined'), st.quarantined_ops, '#/quarantine', 'kpi-quarantined'),
      st.equivocations ? kpi(t('sync.equivocations'), st.equivocations, null, 'kpi-equivocations') : null),
    h('h2', {}, t('dash.rates'), ' ', h('span', { class: 'muted' }, fmtDate(stats.from), ' – ', fmtDate(stats.to))),
    h('div', { class: 'table-wrap' }, h('table', { id: 'rates' },
      h('thead', {}, h('tr', {}, h('th', {}, t('dash.region')), rates.map(m => h('th', {}, name(m))))),
      h('tbody', {}, [whole, ...towns].filter(Boolean).map(row => h('tr', {},
        h('td', {}, row.name || row.region),
        row.metrics.map(m => h('td', { title: `${m.numerator} / ${m.denominator ?? ''}` }, m.value || '—'))))))),
    h('div', { class: 'grid' },
      rates.filter(m => m.kind === 'rate').slice(0, 4).map(m => chartCard(name(m),
        towns.map(tw => [tw.name || tw.region, parseFloat(tw.metrics.find(x => x.name === m.name)?.value) || 0]), 'chart-' + m.name, true))),
    h('div', { class: 'grid' },
      chartCard(t('dash.byState'), (stats.by_state || []).map(x => [stateText(x.key), x.count]), 'chart-state'),
      chartCard(t('dash.byTownship'), (stats.by_township || []).map(x => [x.name || x.key, x.count]), 'chart-township'),
      chartCard(t('dash.byCategory'), (stats.by_category || []).map(x => [x.key, x.count]), 'chart-category')));
}

function chartCard(title, rows, id, alt) {
  return h('div', { class: 'card' }, h('h2', {}, title), rows.length ? barChart(rows, { id, alt }) : h('p', { class: 'muted' }, t('common.none')));
}
