// Registering a petition (信访事项) or a dispute (矛盾纠纷): petitioner, place picked from the
// real division codes, request. Each identity field is checked by the server as it is
// typed (GET /api/v1/check), so a wrong check digit shows before the form is sent.
import { h, mount, field, setError } from '../dom.js';
import { t, label, localized } from '../i18n.js';
import { get, post } from '../api.js';
import { children } from '../regions.js';
import { schema } from './case.js';
import { input as inputFor, value as valueOf } from './transition.js';

function debounce(f, ms) {
  let timer;
  return (...a) => { clearTimeout(timer); timer = setTimeout(() => f(...a), ms); };
}

// live checks el's value with the server's validator for field as the person types.
function live(el, name) {
  const check = debounce(async () => {
    const v = el.value.trim();
    if (!v) { setError(el, ''); return; }
    try {
      await get('/api/v1/check', { field: name, value: v });
      setError(el, '');
    } catch (err) {
      if (err.status === 422 || err.status === 400) setError(el, localized(err.message));
    }
  }, 250);
  el.addEventListener('input', check);
  el.addEventListener('blur', check);
  return el;
}

export async function registerPage(main, params, ctx) {
  const sc = await schema();
  const specs = Object.fromEntries((sc.fields || []).map(f => [f.name, f]));
  const region = ctx.status?.region || '';
  const kind = h('select', { id: 'r-kind', name: 'kind' },
    h('option', { value: 'petition' }, t('kind.petition')), h('option', { value: 'dispute' }, t('kind.dispute')));
  const name = h('input', { id: 'r-name', name: 'name', autocomplete: 'off' });
  const idn = live(h('input', { id: 'r-id-number', name: 'id_number', autocomplete: 'off', maxlength: 18, inputmode: 'text' }), 'id_number');
  const phone = live(h('input', { id: 'r-phone', name: 'phone', autocomplete: 'off', inputmode: 'tel' }), 'phone');
  const address = h('input', { id: 'r-address', name: 'address' });
  const township = h('select', { id: 'r-township', name: 'township' });
  const village = h('select', { id: 'r-village', name: 'village' });
  const summary = h('textarea', { id: 'r-summary', name: 'summary' });
  const extra = ['category', 'channel', 'matter_type', 'people_count', 'handler_unit'].filter(n => specs[n]).map(n => [n, inputFor(specs[n], n)]);

  // The place: a township station picks among its villages; a county picks the township first.
  async function fillVillages(parent) {
    mount(village, h('option', { value: parent }, t('register.pick')));
    if (!parent) return;
    for (const r of await children(parent)) village.append(h('option', { value: r.code }, r.name));
  }
  if (region.length === 9) {
    mount(township, h('option', { value: region }, region));
    children(region.slice(0, 6)).then(rs => { const me = rs.find(r => r.code === region); if (me) township.firstChild.textContent = me.name; });
    township.disabled = true;
    await fillVillages(region);
  } else {
    mount(township, h('option', { value: '' }, t('register.pick')));
    for (const r of await children(region.slice(0, 6) || region)) township.append(h('option', { value: r.code }, r.name));
    township.addEventListener('change', () => fillVillages(township.value));
    await fillVillages('');
  }

  const msg = h('p', { class: 'err', id: 'register-msg' });
  const done = h('p', { class: 'banner info', id: 'register-done', hidden: true });
  const inputs = { name, id_number: idn, phone, address, region: village, summary, ...Object.fromEntries(extra) };
  const form = h('form', { class: 'card form', id: 'register-form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    for (const el of Object.values(inputs)) setError(el, '');
    const fields = {
      region: village.value || township.value,
      petitioners: [{ name: name.value.trim(), id_number: idn.value.trim().toUpperCase(), phone: phone.value.trim(), address: address.value.trim() }],
      summary: summary.value.trim(),
    };
    for (const [n, el] of extra) { const v = valueOf(specs[n], el); if (v !== undefined) fields[n] = v; }
    try {
      const c = await post('/api/v1/cases', { kind: kind.value, ...fields });
      done.textContent = t('register.done', { id: c.number || c.id });
      done.hidden = false;
      setTimeout(() => { location.hash = '#/cases/' + encodeURIComponent(c.id); }, 600);
    } catch (err) {
      const f = (err.field || '').replace(/^petitioners(\[\d+\])?\.?/, '');
      const el = inputs[f] || inputs[err.field];
      if (el) { setError(el, localized(err.message)); el.focus(); } else msg.textContent = localized(err.message) || t('common.error');
    }
  } },
  field(t('register.kind'), kind),
  field(t('register.name'), name), field(t('register.idnumber'), idn), field(t('register.phone'), phone),
  field(t('register.address'), address, { wide: true }),
  field(t('register.township'), township), field(t('register.village'), village),
  extra.map(([n, el]) => field(label(specs[n]) || n, el)),
  field(t('register.summary'), summary, { wide: true }),
  msg,
  h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary', id: 'register-submit' }, t('register.submit'))));
  mount(main, h('h1', {}, t('register.title')), done, form);
}
