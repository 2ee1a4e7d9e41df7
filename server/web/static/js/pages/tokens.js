// API tokens of the signed-in account, for scripts (an operator's nightly ledger export, a
// monitoring probe): make one with a label and an optional lifetime — the token is shown
// once, here, and stored only as a hash — see when each expires, and revoke one.
import { h, mount, field, fmtTime } from '../dom.js';
import { t, localized } from '../i18n.js';
import { get, post, del } from '../api.js';

export async function tokensPage(main, params, ctx) {
  const list = (await get('/api/v1/tokens')).tokens || [];
  const label = h('input', { id: 't-label', name: 'label', required: true });
  const days = h('input', { id: 't-days', name: 'days', type: 'number', min: '0', max: '3650', value: '90' });
  const msg = h('div', { id: 'tokens-msg', 'aria-live': 'polite' });
  const form = h('form', { class: 'card form', id: 'token-form', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const tok = await post('/api/v1/tokens', { label: label.value.trim(), days: Number(days.value) || 0 });
      await tokensPage(main, params, ctx);
      mount(document.getElementById('tokens-msg'), h('div', { class: 'banner info' }, t('tokens.shown_once'), ' ', h('code', { id: 'token-value' }, tok.token)));
    } catch (err) {
      mount(msg, h('p', { class: 'err' }, localized(err.message) || t('common.error')));
    }
  } },
  h('h2', { class: 'wide' }, t('tokens.new')), field(t('tokens.label'), label), field(t('tokens.days'), days),
  h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary', id: 'token-submit' }, t('tokens.create'))));
  const revoke = (tok) => async () => {
    try { await del('/api/v1/tokens/' + encodeURIComponent(tok.id)); await tokensPage(main, params, ctx); } catch (err) { mount(msg, h('p', { class: 'err' }, localized(err.message) || t('common.error'))); }
  };
  mount(main, h('h1', {}, t('tokens.title')), h('p', { class: 'muted' }, t('tokens.help')), msg,
    list.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'tokens' },
      h('thead', {}, h('tr', {}, [t('tokens.label'), t('tokens.created'), t('tokens.expires'), ''].map(x => h('th', {}, x)))),
      h('tbody', {}, list.map(tok => h('tr', { dataset: { token: tok.id } },
        h('td', {}, tok.label), h('td', {}, fmtTime(tok.created_at)), h('td', {}, tok.expires_at ? fmtTime(tok.expires_at) : t('tokens.never')),
        h('td', {}, h('button', { type: 'button', class: 'revoke', onclick: revoke(tok) }, t('tokens.revoke')))))))) :
      h('p', { class: 'muted' }, t('tokens.none')),
    form);
}
