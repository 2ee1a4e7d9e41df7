// Bundles for hand carry: download this station's push bundle to put on a USB stick, and
// import the return bundle brought back from the hub.
import { h, mount } from '../dom.js';
import { t, localized } from '../i18n.js';
import { post } from '../api.js';

export async function bundlesPage(main) {
  const file = h('input', { type: 'file', id: 'bundle-file', accept: '.fqb,application/octet-stream' });
  const msg = h('p', { id: 'bundle-msg' });
  const form = h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    msg.className = ''; msg.textContent = '';
    if (!file.files.length) return;
    try {
      const rep = await post('/api/v1/bundle', file.files[0], { 'Content-Type': 'application/octet-stream' });
      msg.className = 'banner info';
      msg.textContent = t('bundles.imported', { ops: rep.applied ?? 0 });
    } catch (err) {
      msg.className = 'err';
      msg.textContent = localized(err.message) || t('common.error');
    }
  } },
  h('h2', {}, t('bundles.import')), h('p', { class: 'muted' }, t('bundles.import.help')),
  h('div', { class: 'row' }, file, h('button', { type: 'submit', class: 'primary' }, t('bundles.import'))), msg);
  mount(main, h('h1', {}, t('bundles.title')),
    h('div', { class: 'card' }, h('h2', {}, t('bundles.export')), h('p', { class: 'muted' }, t('bundles.export.help')),
      h('a', { href: '/api/v1/bundle', download: '', id: 'bundle-export' }, h('button', { type: 'button', class: 'primary' }, t('bundles.export')))),
    form);
}
