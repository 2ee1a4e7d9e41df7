// Pieces several pages share: the state, kind and deadline of a case as badges.
import { h } from '../dom.js';
import { t } from '../i18n.js';

export function stateText(s) { return s ? t('state.' + s) : ''; }

export function kindText(k) { return k ? t('kind.' + k) : ''; }

// deadlineBadge shows a case's next statutory deadline: overdue (red), near due (yellow),
// or the days left. It uses the server's days_left/overdue/near_due when given (the server
// counts days in Asia/Shanghai on the county's calendar), else counts calendar days.
export function deadlineBadge(d) {
  const at = d && (d.due || d.at);
  if (!at) return h('span', { class: 'muted' }, '—');
  let days = d.days_left;
  if (days === undefined) days = Math.ceil((new Date(at) - Date.now()) / 86400000);
  const overdue = d.overdue ?? days < 0;
  const near = d.near_due ?? (days >= 0 && days <= 3);
  const text = overdue ? t('due.overdue', { days: Math.abs(days) }) : days === 0 ? t('due.today') : t('due.left', { days });
  return h('span', { class: 'badge ' + (overdue ? 'bad' : near ? 'warn' : 'ok'), title: (d.rule || '') + ' ' + (d.last_day || at) }, text);
}

export function caseTitle(c) {
  return c.number || c.id;
}
