// Accounts, for the administrators who manage them (a county admin at the hub, a station
// admin for the station's own workers): every account the signed-in admin manages, with its
// roles and region; create one, reset its password, revoke it or give it back. What is
// changed here is replicated: it reaches each station in the account's scope at its next
// sync, and a revocation ends the account's sessions there.
import { h, mount, field, setError } from '../dom.js';
import { t, localized } from '../i18n.js';
import { get, post, patch } from '../api.js';
import { fillRegion } from '../regions.js';

const roles = ['grid_worker', 'township_staff', 'county_staff', 'unit_head', 'leader', 'judge', 'mediator', 'station_admin', 'county_admin'];

export async function accountsPage(main, params, ctx) {
  const list = (await get('/api/v1/accounts')).accounts || [];
  const reload = () => accountsPage(main, params, ctx);
  const msg = h('p', { id: 'accounts-msg', 'aria-live': 'polite' });
  const say = (text, ok) => { msg.className = ok ? 'banner info' : 'err'; msg.textContent = text; };

  const inputs = {
    account: h('input', { id: 'a-account', name: 'account', required: true, autocomplete: 'off' }),
    name: h('input', { id: 'a-name', name: 'name', required: true }),
    unit: h('input', { id: 'a-unit', name: 'unit' }),
    region: h('input', { id: 'a-region', name: 'region', required: true, inputmode: 'numeric', value: ctx?.session?.region || '' }),
    password: h('input', { id: 'a-password', name: 'password', type: 'password', required: true, autocomplete: 'new-password' }),
  };
  const boxes = roles.map(r => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'roles', value: r, id: 'a-role-' + r }), ' ', t('role.' + r)));
  const rolesErr = h('span', { class: 'err', id: 'a-roles-err' });
  const create = h('form', { class: 'card form', id: 'account-form', onsubmit: async (e) => {
    e.preventDefault();
    for (const el of Object.values(inputs)) setError(el, '');
    rolesErr.textContent = '';
    const chosen = boxes.map(b => b.querySelector('input')).filter(i => i.checked).map(i => i.value);
    const body = { account: inputs.account.value.trim(), name: inputs.name.value.trim(), unit: inputs.unit.value.trim(),
      region: inputs.region.value.trim(), roles: chosen, password: inputs.password.value };
    try {
      const a = await post('/api/v1/accounts', body);
      say(t('accounts.created', { id: a.id }), true);
      reload();
    } catch (err) {
      const el = inputs[err.field];
      if (el) setError(el, localized(err.message));
      else if (err.field === 'roles') rolesErr.textContent = localized(err.message);
      else say(localized(err.message) || t('common.error'));
    }
  } },
  h('h2', { class: 'wide' }, t('accounts.new')),
  field(t('accounts.id'), inputs.account), field(t('accounts.name'), inputs.name), field(t('accounts.unit'), inputs.unit),
  field(t('accounts.region'), inputs.region), field(t('accounts.password'), inputs.password),
  h('fieldset', { class: 'wide', id: 'a-roles' }, h('legend', {}, t('accounts.roles')), boxes, rolesErr),
  h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary', id: 'account-submit' }, t('accounts.create'))));

  const act = (fn) => async () => {
    try { await fn(); reload(); } catch (err) { say(localized(err.message) || t('common.error')); }
  };
  const resetPassword = (a) => act(async () => {
    const pw = window.prompt(t('accounts.reset.prompt', { id: a.id }));
    if (!pw) return;
    await post('/api/v1/accounts/' + encodeURIComponent(a.id) + '/password', { password: pw });
    say(t('accounts.reset.done', { id: a.id }), true);
  });
  const setRevoked = (a, revoked) => act(() => patch('/api/v1/accounts/' + encodeURIComponent(a.id), { revoked }));

  mount(main, h('h1', {}, t('accounts.title')), h('p', { class: 'muted' }, t('accounts.help')), msg,
    list.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'accounts' },
      h('thead', {}, h('tr', {}, [t('accounts.id'), t('accounts.name'), t('accounts.unit'), t('accounts.region'), t('accounts.roles'), '', ''].map(x => h('th', {}, x)))),
      h('tbody', {}, list.map(a => h('tr', { dataset: { account: a.id } },
        h('td', {}, h('code', {}, a.id)), h('td', {}, a.name), h('td', {}, a.unit || ''),
        h('td', {}, fillRegion(h('span'), a.region)),
        h('td', {}, (a.roles || []).map(r => t('role.' + r)).join('、')),
        h('td', {}, a.revoked ? h('span', { class: 'badge bad' }, t('accounts.revoked')) : h('span', { class: 'badge ok' }, t('accounts.active')),
          (a.conflicts || []).length ? [' ', h('span', { class: 'badge warn' }, t('accounts.conflict'))] : null),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'reset', onclick: resetPassword(a) }, t('accounts.reset')), ' ',
          a.revoked ? h('button', { type: 'button', class: 'restore', onclick: setRevoked(a, false) }, t('accounts.restore'))
            : h('button', { type: 'button', class: 'revoke', onclick: setRevoked(a, true) }, t('accounts.revoke')))))))) :
      h('p', { class: 'muted' }, t('accounts.none')),
    create);
}
