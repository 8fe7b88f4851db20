// Actions: the list, one action's code, parameters and limits in the editor, and invoking it.

import { call, entityPath, NS } from '../api.js';
import { codeEditor } from '../editor.js';
import { annotation, errorBox, facts, field, h, json, jsonForm, parseObject, show, table, when } from '../dom.js';
import { activationLink, recordFacts, recordLogs } from './activations.js';
import { entityList } from './listing.js';

/** An entity's name below the namespace: `pkg/action` for an action in a package. */
export function qualifiedName(entity) {
  const packageName = entity.namespace.split('/').slice(1).join('/');
  return packageName ? `${packageName}/${entity.name}` : entity.name;
}

export function actionLink(name) {
  return h('a', { href: `#/actions/${encodeURIComponent(name)}` }, name);
}

export async function actionList(main) {
  await entityList(main, {
    title: 'Actions', collection: 'actions', noun: 'action',
    headers: ['Name', 'Kind', 'Version', 'Web', 'Updated'], optional: [4],
    before: [h('div', { class: 'actions-bar' }, h('a', { class: 'button', href: '#/actions/new' }, 'New action'))],
    row: (action) => [actionLink(qualifiedName(action)), action.exec ? action.exec.kind : '', action.version,
      annotation(action, 'web-export') ? h('span', { class: 'pill' }, 'web') : 'no', when(action.updated)],
  });
}

export async function newAction(main) {
  await actionForm(main, null);
}

export async function actionDetail(main, name) {
  const { body } = await call('GET', entityPath('actions', name));
  await actionForm(main, body, name);
}

const STARTER = `function main(params) {
  console.log('hello from the console');
  return { greeting: \`Hello, \${params.name || 'world'}!\` };
}
`;

async function runtimeKinds() {
  try {
    const { body } = await call('GET', '/');
    return Object.values(body.runtimes || {}).flat().map((runtime) => runtime.kind);
  } catch {
    return ['nodejs:20'];
  }
}

async function actionForm(main, action, name) {
  const exec = action ? action.exec : { kind: 'nodejs:default', code: STARTER };
  const plain = exec.kind !== 'sequence' && !exec.binary;
  const nameInput = h('input', { type: 'text', id: 'action-name', required: true, value: name || '', autocomplete: 'off',
    readonly: action ? true : undefined });
  const kinds = await runtimeKinds();
  const kind = h('select', { id: 'action-kind' },
    [...new Set(['nodejs:default', ...kinds, exec.kind])].map((k) => h('option', { value: k, selected: k === exec.kind }, k)));
  const editor = plain ? await codeEditor(exec.code || '', 'Code') : null;
  const parameters = h('textarea', { id: 'action-parameters', rows: 4, spellcheck: 'false', 'aria-describedby': 'action-parameters-hint' });
  parameters.value = JSON.stringify(Object.fromEntries((action ? action.parameters : []).map((p) => [p.key, p.value])), null, 2);
  const limits = action ? action.limits : {};
  const number = (id, value) => h('input', { type: 'number', id, min: 0, value: value ?? '', inputmode: 'numeric' });
  const timeout = number('limit-timeout', limits.timeout);
  const memory = number('limit-memory', limits.memory);
  const logs = number('limit-logs', limits.logs);
  const web = h('input', { type: 'checkbox', id: 'action-web', checked: Boolean(action && annotation(action, 'web-export')) });
  const saveMessage = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit' }, action ? 'Save' : 'Create');

  const form = h('form', { 'aria-labelledby': 'action-title' },
    field('Name', nameInput, action ? undefined : 'Letters, digits and _@.- ; package/action for an action in a package.'),
    plain ? [field('Kind', kind), h('p', { class: 'label', 'aria-hidden': 'true' }, h('strong', {}, 'Code')),
      editor.notice ? h('p', { class: 'notice', role: 'note' }, editor.notice) : null, editor.element]
      : h('p', { class: 'notice' }, `This is a ${exec.kind === 'sequence' ? 'sequence' : 'zip'} action: `
        + 'its code is changed with wsk; its parameters and limits can be changed here.'),
    field('Parameters (JSON object)', parameters, 'Default parameters, merged under the ones each invocation sends.'),
    h('div', { class: 'limits' },
      h('div', {}, field('Timeout (ms)', timeout)), h('div', {}, field('Memory (MB)', memory)), h('div', {}, field('Log limit (MB)', logs))),
    h('p', {}, h('label', { class: 'inline', for: 'action-web' }, web, 'Web action (reachable without a key under /api/v1/web)')),
    h('div', { class: 'actions-bar' }, save), saveMessage);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    show(saveMessage);
    save.disabled = true;
    try {
      const target = nameInput.value.trim();
      const annotations = (action ? action.annotations : []).filter((a) => !['web-export', 'raw-http', 'final'].includes(a.key));
      if (web.checked) annotations.push({ key: 'web-export', value: true }, { key: 'final', value: true }, { key: 'raw-http', value: false });
      const chosenLimits = {};
      for (const [key, input] of [['timeout', timeout], ['memory', memory], ['logs', logs]]) {
        if (input.value !== '') chosenLimits[key] = Number(input.value);
      }
      const body = {
        exec: plain ? { kind: kind.value, code: editor.value() } : exec,
        parameters: Object.entries(parseObject(parameters.value, 'Parameters')).map(([key, value]) => ({ key, value })),
        limits: chosenLimits,
        annotations,
      };
      const saved = await call('PUT', entityPath('actions', target), { query: { overwrite: action ? 'true' : 'false' }, body });
      show(saveMessage, h('p', { class: 'ok', role: 'status' }, `Saved version ${saved.body.version}.`));
      if (!action) location.hash = `#/actions/${encodeURIComponent(target)}`;
    } catch (error) {
      show(saveMessage, errorBox(error));
    } finally {
      save.disabled = false;
    }
  });

  show(main,
    h('p', {}, h('a', { href: '#/actions' }, '← Actions')),
    h('h1', { id: 'action-title' }, action ? `Action ${name}` : 'New action'),
    action ? facts([['Version', action.version], ['Kind', exec.kind], ['Updated', when(action.updated)]]) : null,
    h('div', { class: action ? 'columns' : '' },
      h('section', { 'aria-label': 'Definition' }, form),
      action ? invokePanel(name) : null),
    action ? deletePanel(name) : null);
}

function invokePanel(name) {
  const form = jsonForm({
    id: 'invoke', title: 'Invoke', what: 'Parameters', button: 'Invoke',
    hint: 'Sent as the invocation\'s body; the call waits for the result.',
    submit: async (params, outcome) => {
      show(outcome, h('p', { class: 'hint' }, 'Running…'));
      const { status, body } = await call('POST', entityPath('actions', name),
        { query: { blocking: 'true' }, body: params, accept: [202, 500, 502] });
      if (!body || !body.activationId) throw new Error((body && body.error) || `The invocation answered ${status}`);
      if (status === 202) {
        show(outcome, h('p', {}, 'Still running after the blocking wait: see ', activationLink(body.activationId), '.'));
        return;
      }
      // The invocation's answer carries no log lines; the stored record (committed before the answer) has them.
      const record = await call('GET', `${NS}/activations/${body.activationId}`).then((stored) => stored.body, () => body);
      show(outcome, h('section', { 'aria-label': 'Invocation result' },
        recordFacts(record, status),
        h('h3', {}, 'Result'), json(record.response && record.response.result),
        h('h3', {}, 'Logs'), recordLogs(record)));
    },
  });
  return h('section', { 'aria-label': 'Invoke' }, form);
}

function deletePanel(name) {
  const area = h('div', { class: 'actions-bar' });
  const ask = h('button', { type: 'button', class: 'secondary' }, 'Delete…');
  ask.addEventListener('click', () => {
    const confirm = h('button', { type: 'button', class: 'danger' }, `Delete ${name}`);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Keep it');
    confirm.addEventListener('click', async () => {
      try {
        await call('DELETE', entityPath('actions', name));
        location.hash = '#/actions';
      } catch (error) {
        area.append(errorBox(error));
      }
    });
    cancel.addEventListener('click', () => show(area, ask));
    show(area, h('span', {}, 'Delete this action for good?'), confirm, cancel);
    confirm.focus();
  });
  show(area, ask);
  return h('section', { 'aria-label': 'Delete' }, h('h2', {}, 'Delete'), area);
}
