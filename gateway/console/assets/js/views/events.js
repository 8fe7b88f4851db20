// Triggers and rules: lists, one trigger with a fire form, one rule with enable and disable.

import { call, entityPath, NS } from '../api.js';
import { errorBox, facts, h, json, jsonForm, show, table, when } from '../dom.js';
import { activationLink } from './activations.js';
import { actionLink } from './actions.js';
import { entityList } from './listing.js';

function link(collection, name) {
  return h('a', { href: `#/${collection}/${encodeURIComponent(name)}` }, name);
}

/** An entity reference (`{path, name}`, or `ns/name` as a trigger keys its rules) without the namespace. */
function shortName(reference) {
  if (reference && typeof reference === 'object') {
    return [...String(reference.path || '').split('/').slice(1), reference.name].filter(Boolean).join('/');
  }
  return String(reference || '').replace(/^\//, '').split('/').slice(1).join('/') || String(reference || '');
}

export async function triggerList(main) {
  await entityList(main, {
    title: 'Triggers', collection: 'triggers', noun: 'trigger', headers: ['Name', 'Version', 'Updated'], optional: [2],
    row: (trigger) => [link('triggers', trigger.name), trigger.version, when(trigger.updated)],
  });
}

export async function triggerDetail(main, name) {
  const { body: trigger } = await call('GET', entityPath('triggers', name));
  const form = jsonForm({
    id: 'fire', title: 'Fire', what: 'Payload', button: 'Fire',
    hint: 'Merged over the trigger\'s parameters and passed to every active rule\'s action.',
    submit: async (payload, outcome) => {
      const { status, body } = await call('POST', entityPath('triggers', name), { body: payload, accept: [204] });
      show(outcome, status === 204 || !body
        ? h('p', { role: 'status' }, 'Fired; no active rule, so nothing ran.')
        : h('p', { role: 'status' }, 'Fired: trigger activation ', activationLink(body.activationId),
          ' (its logs link each rule\'s action activation).'));
    },
  });
  const rules = Object.entries(trigger.rules || {});
  show(main,
    h('p', {}, h('a', { href: '#/triggers' }, '← Triggers')),
    h('h1', {}, `Trigger ${name}`),
    facts([['Version', trigger.version], ['Updated', when(trigger.updated)]]),
    h('h2', {}, 'Rules'),
    table('Rules on this trigger', ['Rule', 'Action', 'Status'], rules.map(([rule, about]) => [
      link('rules', shortName(rule)), actionLink(shortName(about.action)), about.status])),
    h('h2', {}, 'Parameters'), json(trigger.parameters),
    h('h2', {}, 'Annotations'), json(trigger.annotations),
    form);
}

export async function ruleList(main) {
  await entityList(main, {
    title: 'Rules', collection: 'rules', noun: 'rule', headers: ['Name', 'Trigger', 'Action', 'Status'],
    row: (rule) => [link('rules', rule.name), shortName(rule.trigger), shortName(rule.action), rule.status || ''],
  });
}

export async function ruleDetail(main, name) {
  const { body: rule } = await call('GET', entityPath('rules', name));
  const outcome = h('div', { 'aria-live': 'polite' });
  const active = rule.status === 'active';
  const toggle = h('button', { type: 'button', id: 'rule-toggle' }, active ? 'Disable' : 'Enable');
  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    try {
      await call('POST', entityPath('rules', name), { body: { status: active ? 'inactive' : 'active' } });
      await ruleDetail(main, name);
      document.getElementById('rule-toggle').focus();
    } catch (error) {
      show(outcome, errorBox(error));
      toggle.disabled = false;
    }
  });
  show(main,
    h('p', {}, h('a', { href: '#/rules' }, '← Rules')),
    h('h1', {}, `Rule ${name}`),
    facts([
      ['Status', h('span', { id: 'rule-status', class: active ? 'ok' : 'failed' }, rule.status)],
      ['Trigger', link('triggers', shortName(rule.trigger))],
      ['Action', actionLink(shortName(rule.action))],
      ['Version', rule.version], ['Updated', when(rule.updated)],
    ]),
    h('div', { class: 'actions-bar' }, toggle), outcome);
}
