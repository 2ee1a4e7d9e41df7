// The form of one workflow transition: one input per datum the transition needs (from the
// case's allowed transitions and the schema's field types), posted as
// POST /api/v1/cases/{id}/transitions {to, data}. The server decides; its error is shown
// under the field it names.
import { h, field, setError } from '../dom.js';
import { t, label, localized } from '../i18n.js';
import { post } from '../api.js';
import { stateText } from './common.js';

// input makes the input for a field of the schema.
export function input(spec, name) {
  const id = 'tr-' + name;
  switch (spec?.type) {
    case 'enum':
      return h('select', { id, name }, h('option', { value: '' }, t('register.pick')), (spec.enum || []).map(v => h('option', { value: v }, v)));
    case 'time':
      return h('input', { id, name, type: 'datetime-local' });
    case 'int':
      return h('input', { id, name, type: 'number' });
    case 'text':
      return h('textarea', { id, name });
    default:
      return h('input', { id, name });
  }
}

// value reads an input as the JSON the API takes for its field.
export function value(spec, el) {
  const v = el.value.trim();
  if (v === '') return undefined;
  if (spec?.type === 'time') return new Date(v + '+08:00').getTime(); // entered in Asia/Shanghai
  if (spec?.type === 'int') return Number(v);
  return v;
}

// transitionForm asks for the data of transition tr ({to, fields}) of case c: required data
// first; data that defaults to now may be left empty.
export function transitionForm(c, tr, done) {
  const to = tr.to;
  const specs = Object.fromEntries((tr.fields || []).map(f => [f.name, f]));
  const names = (tr.fields || []).slice().sort((a, b) => (b.required ? 1 : 0) - (a.required ? 1 : 0)).map(f => f.name);
  const inputs = names.map(n => [n, input(specs[n], n)]);
  const msg = h('p', { class: 'err' });
  return h('form', { class: 'form', dataset: { to }, onsubmit: async (e) => {
    e.preventDefault();
    msg.textContent = '';
    const data = {};
    for (const [n, el] of inputs) {
      setError(el, '');
      const v = value(specs[n], el);
      if (v !== undefined) data[n] = v;
    }
    try {
      await post('/api/v1/cases/' + encodeURIComponent(c.id) + '/transitions', { to, data, state: c.state });
      done();
    } catch (err) {
      const hit = inputs.find(([n]) => n === err.field);
      if (hit) setError(hit[1], localized(err.message)); else msg.textContent = localized(err.message) || t('common.error');
    }
  } },
  h('strong', { class: 'wide' }, '→ ', stateText(to)),
  inputs.map(([n, el]) => field((label(specs[n]) || n) + (specs[n].required ? ' *' : ''), el, { wide: specs[n]?.type === 'text' })),
  msg,
  h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary' }, t('common.save'))));
}
