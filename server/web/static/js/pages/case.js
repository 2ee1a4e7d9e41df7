// One case: its fields, open conflicts side by side with a resolve action, rule flags, the
// workflow actions allowed from its state, and its timeline with a form to add a note.
import { h, mount, fmtTime, field, setError } from '../dom.js';
import { t, label, localized } from '../i18n.js';
import { get, post, patch, ApiError } from '../api.js';
import { fillRegion } from '../regions.js';
import { stateText, kindText, deadlineBadge, caseTitle } from './common.js';
import { transitionForm } from './transition.js';

let schemaCache = null;
export async function schema() {
  if (!schemaCache) schemaCache = await get('/api/v1/schema');
  return schemaCache;
}

// show renders a field's value for people: persons and parties by name, times in Shanghai.
export function show(name, v, spec) {
  if (v === undefined || v === null || v === '') return '';
  if (spec?.type === 'time' || (typeof v === 'number' && /_at$/.test(name))) return fmtTime(v);
  if (name === 'region') return fillRegion(h('span'), v);
  if (name === 'kind') return kindText(v);
  if (name === 'state') return stateText(v);
  if (Array.isArray(v)) return v.map(x => show(name, x, spec)).filter(Boolean).flatMap((x, i) => i ? ['；', x] : [x]);
  if (typeof v === 'object') {
    if ('name' in v) {
      const bits = [v.name, v.id_number, v.phone, v.address, v.unit].filter(Boolean);
      return bits.join('，');
    }
    return JSON.stringify(v);
  }
  return String(v);
}

const hidden = new Set(['notes', 'state', 'attachments', 'case_no', 'flags']);

export async function casePage(main, params) {
  const id = params.id;
  const [c, sc] = await Promise.all([get('/api/v1/cases/' + encodeURIComponent(id)).catch(e => {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }), schema()]);
  if (!c) { mount(main, h('h1', {}, t('case.title', { id })), h('p', { class: 'muted' }, t('case.notfound'))); return; }
  const specs = Object.fromEntries((sc.fields || []).map(f => [f.name, f]));
  const reload = () => casePage(main, params);

  const dl = h('dl', { class: 'fields', id: 'case-fields' });
  const names = Object.keys(c.fields).filter(n => !hidden.has(n)).sort((a, b) => (specs[a]?.order ?? 99) - (specs[b]?.order ?? 99));
  for (const n of names) dl.append(h('dt', {}, label(specs[n]) || n), h('dd', { dataset: { field: n } }, show(n, c.fields[n], specs[n])));
  if (c.tags?.length) dl.append(h('dt', {}, label(specs.tags) || 'tags'), h('dd', {}, c.tags.join('、')));
  dl.append(h('dt', {}, t('case.creator')), h('dd', {}, c.creator));

  const conflicts = Object.entries(c.conflicts || {}).map(([f, versions]) => conflictCard(c, f, versions, specs[f], reload));
  const flags = (c.flags || []).length ? h('div', { class: 'card' }, h('h2', {}, t('case.flags')),
    h('ul', {}, c.flags.map(f => h('li', {}, `${label(specs[f.field]) || f.field}: ${f.code} (${f.op})`)))) : null;

  const notes = h('ol', { class: 'timeline', id: 'timeline' },
    (c.notes || []).slice().reverse().map(n => h('li', { class: n.withdrawn ? 'withdrawn' : '' },
      h('div', { class: 'when' }, fmtTime(n.note.at || n.at), ' · ', t('note.' + (n.note.kind || 'note')), ' · ', n.author),
      h('div', {}, n.note.text))));

  mount(main,
    h('h1', {}, t('case.title', { id: caseTitle(c) }), ' ', h('span', { class: 'badge', id: 'case-state' }, stateText(c.state)), ' ', deadlineBadge(c.next_deadline || c.deadline),
      (c.case_flags || []).map(f => [' ', h('span', { class: 'badge warn' }, f.name || f.code)])),
    c.stub ? h('p', { class: 'banner' }, t('case.stub')) : null,
    conflicts.length ? h('div', { id: 'conflicts' }, h('h2', {}, t('case.conflicts')), h('p', { class: 'muted' }, t('case.conflict.help')), conflicts) : null,
    flags,
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('case.fields')), dl),
      h('div', {},
        transitionsCard(c, reload),
        noteForm(c, reload),
        h('div', { class: 'card' }, h('h2', {}, t('case.timeline')), notes))));
}

// conflictCard shows every value of a field in conflict with its author and time; keeping
// one writes it observing all of them, which resolves the conflict everywhere.
function conflictCard(c, f, versions, spec, reload) {
  const err = h('p', { class: 'err' });
  const keep = async (v) => {
    try {
      await patch('/api/v1/cases/' + encodeURIComponent(c.id), { base: c.version || versions.map(x => x.op), set: { [f]: v.value } });
      reload();
    } catch (e) { err.textContent = localized(e.message) || t('common.error'); }
  };
  return h('div', { class: 'conflict', dataset: { field: f } },
    h('strong', {}, label(spec) || f),
    h('div', { class: 'versions' }, versions.map(v => h('div', { class: 'version' },
      h('div', {}, show(f, v.value, spec)),
      h('div', { class: 'muted' }, t('case.conflict.by', { author: v.author, at: fmtTime(v.at) }),
        v.clock_flagged ? [' ', h('span', { class: 'badge bad' }, t('case.conflict.flagged'))] : null),
      h('button', { type: 'button', class: 'primary', onclick: () => keep(v) }, t('case.conflict.keep'))))),
    err);
}

function transitionsCard(c, reload) {
  const allowed = c.transitions || [];
  if (!allowed.length) return null;
  const box = h('div', { id: 'transition-form' });
  return h('div', { class: 'card', id: 'actions' }, h('h2', {}, t('case.actions')),
    h('div', { class: 'row' }, allowed.map(tr => h('button', { type: 'button', dataset: { to: tr.to },
      onclick: () => mount(box, transitionForm(c, tr, reload)) }, stateText(tr.to)))),
    box);
}

function noteForm(c, reload) {
  const text = h('textarea', { id: 'note-text', name: 'text', required: true });
  const kind = h('select', { id: 'note-kind', name: 'kind' }, ['note', 'visit', 'call', 'mediation'].map(k => h('option', { value: k }, t('note.' + k))));
  const form = h('form', { class: 'card form', id: 'note-form', onsubmit: async (e) => {
    e.preventDefault();
    setError(text, '');
    if (!text.value.trim()) { setError(text, t('check.required')); return; }
    try {
      await post('/api/v1/cases/' + encodeURIComponent(c.id) + '/notes', { text: text.value.trim(), kind: kind.value });
      reload();
    } catch (err) { setError(text, localized(err.message) || t('common.error')); }
  } },
  h('h2', { class: 'wide' }, t('case.note.add')),
  field(t('case.note.kind'), kind), field(t('case.note.text'), text, { wide: true }),
  h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary' }, t('common.save'))));
  return form;
}
