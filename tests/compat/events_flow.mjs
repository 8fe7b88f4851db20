// Drives triggers, rules, packages, bindings, a sequence and the alarms feed of a live Whisklet with the
// real `openwhisk` npm client. Reads APIHOST and AUTH; prints one JSON object with what it saw.
import openwhisk from 'openwhisk';

const ow = openwhisk({ apihost: process.env.APIHOST, api_key: process.env.AUTH, ignore_certs: true });
const tag = process.pid;
const seen = {};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function activation(id) {
  for (let i = 0; i < 150; i++) {
    try { return await ow.activations.get({ name: id }); } catch { await sleep(100); }
  }
  throw new Error(`activation ${id} never showed up`);
}

// a package, an action in it, and a binding that overrides one of its parameters
const pkg = `compat-pkg-${tag}`;
const bound = `compat-bound-${tag}`;
seen.package = await ow.packages.create({
  name: pkg,
  package: { parameters: [{ key: 'who', value: 'package' }, { key: 'where', value: 'package' }] },
});
await ow.actions.create({ name: `${pkg}/show`, action: 'function main(p) { return {who: p.who, where: p.where, when: p.when}; }' });
seen.binding = await ow.packages.create({
  name: bound,
  package: { binding: { namespace: '_', name: pkg }, parameters: [{ key: 'where', value: 'binding' }] },
});
seen.viaBinding = await ow.actions.invoke({ name: `${bound}/show`, params: { when: 'now' }, blocking: true, result: true });
seen.bindingGot = await ow.packages.get({ name: bound });
seen.packageList = (await ow.packages.list({ limit: 200 })).map((p) => p.name);

// a sequence of the system catalog's utils
const seq = `compat-seq-${tag}`;
seen.sequence = await ow.actions.create({ name: seq, sequence: ['/whisk.system/utils/split', '/whisk.system/utils/sort'] });
seen.sequenceResult = await ow.actions.invoke({
  name: seq, params: { payload: 'pear,apple,fig', separator: ',' }, blocking: true, result: true,
});

// a trigger and a rule to an echo action
const echo = `compat-echo-${tag}`;
const trigger = `compat-trigger-${tag}`;
const rule = `compat-rule-${tag}`;
await ow.actions.create({ name: echo, action: 'function main(p) { return p; }' });
seen.trigger = await ow.triggers.create({ name: trigger, trigger: { parameters: [{ key: 'from', value: 'trigger' }] } });
seen.rule = await ow.rules.create({ name: rule, action: echo, trigger });
seen.fired = await ow.triggers.invoke({ name: trigger, params: { n: 1 } });
seen.triggerRecord = await activation(seen.fired.activationId);
seen.ruleActivation = await activation(JSON.parse(seen.triggerRecord.logs[0]).activationId);
seen.disabled = await ow.rules.disable({ name: rule });
seen.ruleAfterDisable = await ow.rules.get({ name: rule });
seen.firedWhileDisabled = await ow.triggers.invoke({ name: trigger, params: { n: 2 } });
seen.enabled = await ow.rules.enable({ name: rule });
seen.ruleAfterEnable = await ow.rules.get({ name: rule });
seen.ruleList = (await ow.rules.list({ limit: 200 })).map((r) => r.name);
seen.triggerGot = await ow.triggers.get({ name: trigger });
seen.ruleDeleted = await ow.rules.delete({ name: rule });
seen.triggerDeleted = await ow.triggers.delete({ name: trigger });

// the alarms feed, as ow.feeds drives it
const alarm = `compat-alarm-${tag}`;
await ow.triggers.create({ name: alarm, trigger: { annotations: [{ key: 'feed', value: '/whisk.system/alarms/alarm' }] } });
const feed = { name: '/whisk.system/alarms/alarm', trigger: alarm };
seen.feedCreated = await ow.feeds.create({ ...feed, params: { cron: '0 0 1 1 *', trigger_payload: { year: 'new' } } });
seen.feedRead = await ow.feeds.get(feed);
seen.feedDeleted = await ow.feeds.delete(feed);
await ow.triggers.delete({ name: alarm });

for (const name of [echo, seq, `${pkg}/show`]) await ow.actions.delete({ name });
await ow.packages.delete({ name: bound });
seen.packageDeleted = await ow.packages.delete({ name: pkg });
console.log(JSON.stringify(seen));
