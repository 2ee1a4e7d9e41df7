// A hub's overview: counts and charts (SVG drawn here, nothing from a CDN).
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { get } from '../api.js';
import { barChart } from '../chart.js';
import { stateText } from './common.js';

export async function dashboardPage(main) {
  const st = await get('/api/v1/status');
  const stats = await get('/api/v1/stats').catch(() => null);
  const charts = [];
  if (stats) {
    charts.push(chartCard(t('dash.byState'), (stats.by_state || []).map(x => [stateText(x.key), x.count]), 'chart-state'));
    charts.push(chartCard(t('dash.byTownship'), (stats.by_township || []).map(x => [x.name || x.key, x.count]), 'chart-township'));
    charts.push(chartCard(t('dash.byCategory'), (stats.by_category || []).map(x => [x.key, x.count]), 'chart-category'));
  }
  mount(main, h('h1', {}, t('dash.title')),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('div', { class: 'muted' }, t('dash.cases')), h('div', { class: 'kpi', id: 'kpi-cases' }, st.cases)),
      stats ? h('div', { class: 'card' }, h('div', { class: 'muted' }, t('dash.overdue')),
        h('div', { class: 'kpi' }, h('a', { href: '#/cases?overdue=1' }, stats.overdue ?? 0))) : null,
      stats ? h('div', { class: 'card' }, h('div', { class: 'muted' }, t('dash.near')),
        h('div', { class: 'kpi' }, h('a', { href: '#/due' }, stats.near_due ?? 0))) : null,
      h('div', { class: 'card' }, h('div', { class: 'muted' }, t('sync.quarantined')),
        h('div', { class: 'kpi' }, h('a', { href: '#/quarantine' }, st.quarantined_ops)))),
    h('div', { class: 'grid' }, charts));
}

function chartCard(title, rows, id) {
  return h('div', { class: 'card' }, h('h2', {}, title), barChart(rows, { id }));
}
