// Activations: a live list, newest first, filtered by name and paged; one record with its result and logs.

import { call, NS } from '../api.js';
import { annotation, facts, h, json, show, table, when } from '../dom.js';

const PAGE = 20;
const REFRESH_MS = 3000;
const ACTIVATION_ID = /^[0-9a-f]{32}$/;
const STATUS = ['success', 'application error', 'action developer error', 'whisk internal error'];

export function activationLink(id) {
  return h('a', { href: `#/activations/${id}` }, id);
}

/** What a user checks first in a record: status, duration, init and wait time, cold start. */
export function recordFacts(record, httpStatus) {
  const response = record.response || {};
  const status = response.status || (response.success ? 'success' : '');
  const init = annotation(record, 'initTime');
  const wait = annotation(record, 'waitTime');
  const cold = annotation(record, 'coldStart') === true;
  return facts([
    ['Activation', activationLink(record.activationId)],
    ['Name', record.name],
    ['Status', h('span', { class: response.success ? 'ok' : 'failed', 'data-status': status }, status)],
    httpStatus ? ['HTTP status', String(httpStatus)] : null,
    ['Started', when(record.start)],
    record.duration !== undefined ? ['Duration', `${record.duration} ms`] : null,
    init !== undefined ? ['Init time', `${init} ms`] : null,
    wait !== undefined ? ['Wait time', `${wait} ms`] : null,
    annotation(record, 'kind') !== undefined ? ['Cold start', cold ? 'yes' : 'no'] : null,
    record.cause ? ['Cause', activationLink(record.cause)] : null,
  ]);
}

/**
 * A record's log lines as text; lines that name another activation (a sequence's components, the actions
 * a trigger's rules started) link to it.
 */
export function recordLogs(record) {
  const lines = record.logs || [];
  if (!lines.length) return h('p', { class: 'hint' }, 'No log lines.');
  return h('ol', { class: 'logs', 'aria-label': 'Log lines' }, lines.map((line) => h('li', {}, logLine(String(line)))));
}

function logLine(line) {
  if (ACTIVATION_ID.test(line)) return activationLink(line);
  if (line.startsWith('{')) {
    try {
      const fired = JSON.parse(line);
      if (typeof fired.activationId === 'string' && ACTIVATION_ID.test(fired.activationId)) {
        return [`rule ${fired.rule} → action ${fired.action}: `, activationLink(fired.activationId)];
      }
    } catch { /* a log line that only looks like JSON */ }
  }
  return line;
}

export async function activationList(main) {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  let skip = 0;
  let name = '';
  let timer = null;
  const filter = h('input', { type: 'search', id: 'activation-filter', value: name, autocomplete: 'off', placeholder: 'action name' });
  const live = h('input', { type: 'checkbox', id: 'activation-live', checked: true });
  const holder = h('div', { id: 'activation-list', 'aria-live': 'off' });
  const previous = h('button', { type: 'button', class: 'secondary' }, '← Newer');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Older →');
  const page = h('span', { class: 'hint' });
  const error = h('div');

  async function load() {
    try {
      const { body } = await call('GET', `${NS}/activations`, { query: { limit: PAGE, skip, name: name || undefined } });
      const rows = body.map((record) => [
        activationLink(record.activationId), record.name,
        h('span', { class: record.statusCode === 0 ? 'ok' : 'failed' }, STATUS[record.statusCode] ?? (record.statusCode ?? '')),
        when(record.start), record.duration !== undefined ? `${record.duration} ms` : '',
        annotation(record, 'kind') || (record.duration === undefined ? 'trigger' : '')]);  // a trigger's record has no duration
      show(holder, table(`Newest first, ${skip + 1}–${skip + body.length}`, ['Activation', 'Name', 'Status', 'Started', 'Duration', 'Kind'], rows, [3, 4, 5]));
      previous.disabled = skip === 0;
      next.disabled = body.length < PAGE;
      page.textContent = `Page ${skip / PAGE + 1}`;
      show(error);
    } catch (failure) {
      show(error, h('p', { class: 'error', role: 'alert' }, failure.message));
    }
  }
  function schedule() {
    clearTimeout(timer);
    // A hidden tab asks nothing of the server; it catches up at the next tick after it is shown again.
    timer = live.checked ? setTimeout(async () => { if (!document.hidden) await load(); schedule(); }, REFRESH_MS) : null;
  }
  const form = h('form', { class: 'actions-bar', role: 'search' },
    h('label', { for: 'activation-filter' }, 'Filter by name'), filter,
    h('button', { type: 'submit' }, 'Filter'),
    h('label', { class: 'inline', for: 'activation-live' }, live, 'Update every 3 s'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    name = filter.value.trim();
    skip = 0;
    await load();
    schedule();
  });
  live.addEventListener('change', schedule);
  previous.addEventListener('click', async () => { skip = Math.max(0, skip - PAGE); await load(); });
  next.addEventListener('click', async () => { skip += PAGE; await load(); });
  if (query.get('name')) filter.value = name = query.get('name');
  show(main, h('h1', {}, 'Activations'), form, error, holder, h('div', { class: 'actions-bar' }, previous, page, next));
  await load();
  schedule();
  return () => clearTimeout(timer);
}

export async function activationDetail(main, id) {
  const { body: record } = await call('GET', `${NS}/activations/${id}`);
  const components = annotation(record, 'kind') === 'sequence' ? (record.logs || []).filter((l) => ACTIVATION_ID.test(l)) : [];
  show(main,
    h('p', {}, h('a', { href: '#/activations' }, '← Activations')),
    h('h1', {}, `Activation of ${record.name}`),
    recordFacts(record),
    components.length ? [h('h2', {}, 'Sequence components'),
      h('ol', {}, components.map((component) => h('li', {}, activationLink(component))))] : null,
    h('h2', {}, 'Result'), json(record.response && record.response.result),
    h('h2', {}, 'Logs'), recordLogs(record),
    h('h2', {}, 'Annotations'), json(record.annotations));
}
