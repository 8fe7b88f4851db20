// Drives a live Whisklet with the real `openwhisk` npm client, as an OpenWhisk user would.
// Reads APIHOST and AUTH from the environment; prints one JSON object with what it saw.
import openwhisk from 'openwhisk';

const ow = openwhisk({ apihost: process.env.APIHOST, api_key: process.env.AUTH, ignore_certs: true });
const name = `compat-hello-${process.pid}`;
const code = "function main(params) { console.log('hello', params.name); return { greeting: 'Hello, ' + params.name }; }";
const seen = {};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

seen.created = await ow.actions.create({ name, action: code, params: { name: 'default' } });
seen.got = await ow.actions.get({ name });
seen.listed = (await ow.actions.list({ limit: 200 })).map((a) => a.name);
seen.blocking = await ow.actions.invoke({ name, params: { name: 'World' }, blocking: true, result: true });
seen.blockingRecord = await ow.actions.invoke({ name, params: { name: 'Record' }, blocking: true });
const nonBlocking = await ow.actions.invoke({ name, params: { name: 'Later' } });
seen.nonBlockingId = nonBlocking.activationId;
let activation;
for (let i = 0; i < 100 && !activation; i++) {
  try { activation = await ow.activations.get({ name: nonBlocking.activationId }); } catch { await sleep(100); }
}
seen.activation = activation;
seen.result = await ow.activations.result({ name: nonBlocking.activationId });
seen.logs = await ow.activations.logs({ name: nonBlocking.activationId });
seen.activationList = (await ow.activations.list({ name, limit: 10 })).map((a) => a.activationId);
seen.updated = await ow.actions.update({ name, action: code.replace('Hello', 'Howdy') });
seen.afterUpdate = await ow.actions.invoke({ name, params: { name: 'Again' }, blocking: true, result: true });
seen.deleted = await ow.actions.delete({ name });
try {
  await ow.actions.get({ name });
  seen.getAfterDelete = 'found';
} catch (error) {
  seen.getAfterDelete = { statusCode: error.statusCode, message: error.message };
}
try {
  await ow.actions.invoke({ name: 'compat-missing', blocking: true });
} catch (error) {
  seen.invokeMissing = { statusCode: error.statusCode, message: error.message };
}
console.log(JSON.stringify(seen));
