// Sign-in at this station, against the accounts it holds: no network needed.
import { h, mount, field, setError } from '../dom.js';
import { t, localized } from '../i18n.js';
import { post, get } from '../api.js';
import { loadStatus } from '../app.js';

export async function signinPage(main, params, ctx) {
  const account = h('input', { id: 'signin-account', name: 'account', autocomplete: 'username', required: true });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'err', id: 'signin-msg' });
  mount(main, h('h1', {}, t('signin.title')), h('form', { class: 'card form', id: 'signin-form', onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    try {
      await post('/api/v1/signin', { account: account.value.trim(), password: password.value });
      ctx.session = await get('/api/v1/me');
      await loadStatus();
      location.hash = params.next ? decodeURIComponent(params.next) : '#/';
    } catch (err) {
      setError(password, '');
      msg.textContent = localized(err.message) || t('common.error');
    }
  } },
  field(t('signin.account'), account), field(t('signin.password'), password),
  h('p', { class: 'muted wide' }, t('signin.offline')), msg,
  h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, t('signin.submit')))));
}
