'use strict';
// Whisklet's in-container runner: the OpenWhisk Node.js action proxy protocol (POST /init, POST /run)
// on a Unix socket, for one activation. What the action writes goes to the runner's real stdout and
// stderr, which the gateway holds; with each /run reply and each failed /init the runner writes
// OpenWhisk's sentinel line on both, just before the reply, so the gateway knows the activation's
// output is complete by the time the reply reaches it.

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const util = require('util');
const { createRequire } = require('module');

const SOCKET = process.env.WHISKLET_SOCKET || '/run/whisklet/runner.sock';
// The namespace driver's ready pipe (pool/sandbox/readiness.py): an inherited descriptor written once the
// socket listens, then closed; the Docker driver polls for the socket instead.
const READY_FD = /^[0-9]+$/.test(process.env.WHISKLET_READY_FD || '') ? Number(process.env.WHISKLET_READY_FD) : -1;
// The Docker driver's output FIFOs (pool/sandbox/docker/output.py), in this sandbox's directory, their read
// ends held by the gateway since before the runner started.
const OUTPUT_DIR = process.env.WHISKLET_OUTPUT_DIR || '';
// The action sees the container's environment, not the runner's settings.
delete process.env.WHISKLET_SOCKET;
delete process.env.WHISKLET_READY_FD;
delete process.env.WHISKLET_OUTPUT_DIR;

// They become descriptors 1 and 2 before anything writes (closed, then opened again: `open` takes the
// lowest free descriptor), so that what the action, its child processes and the runner write reaches the
// gateway directly, in order, rather than through the engine's copy of the container's stdout and stderr.
if (OUTPUT_DIR) {
  for (const [fd, name] of [[1, 'stdout'], [2, 'stderr']]) {
    fs.closeSync(fd);
    if (fs.openSync(path.join(OUTPUT_DIR, name), fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW) !== fd) process.exit(70);
  }
}

const MAX_BODY_BYTES = 48 * 1024 * 1024;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n';
// Where the action's code says it lives: `require('./x')` resolves in the working directory.
const ACTION_FILENAME = path.join(process.cwd(), 'action.js');
const actionRequire = createRequire(ACTION_FILENAME);

// ---------------------------------------------------------------------------------------------
// Output

// Saved before the action's code runs, so that patching `process.stdout.write` (or `Reflect`) later
// cannot keep the sentinel from being written. The gateway stamps and bounds the lines; the sentinel
// only tells it that nothing more belongs to the activation.
const apply = Reflect.apply;
const writes = [
  [process.stdout, process.stdout.write],
  [process.stderr, process.stderr.write],
];

function writeRaw(index, text) {
  const [stream, write] = writes[index];
  try {
    apply(write, stream, [text]);
  } catch {} // the action closed the stream: the gateway's wait for the sentinel is bounded
}

function writeSentinels() {
  writeRaw(0, SENTINEL);
  writeRaw(1, SENTINEL);
}

// Compile Node's console formatting now rather than during the activation (~1 ms on first use).
for (const stream of [process.stdout, process.stderr]) stream.write = () => true;
console.log('%s %o', 'warm-up', { n: [1] });
console.error('warm-up');
for (const [stream, write] of writes) stream.write = write;

// Also reached by unhandled rejections (Node's default `throw` mode turns them into exceptions).
process.on('uncaughtException', (err) => {
  writeRaw(1, `${util.inspect(err)}\n`);
  process.exit(1);
});
// As PID 1 in a container, Node would otherwise ignore SIGTERM.
process.on('SIGTERM', () => process.exit(143));

// ---------------------------------------------------------------------------------------------
// The action proxy protocol, as openwhisk-runtime-nodejs implements it

let status = 'ready'; // ready | running | stopped (upstream's `starting` is not observable: init is synchronous)
let main; // the action's entry point, once /init has succeeded

function reply(code, body) {
  return { code, body };
}

function systemError(message) {
  console.error('Internal system error:', message);
  return reply(403, { error: message });
}

// Warms the paths /init and /run take without leaving a trace: HTTP with a body (the host may send a
// small JSON object), JSON and code evaluation.
function health(body) {
  new Function('args', 'return args')(JSON.parse(JSON.stringify(body)));
  return reply(200, { ok: true });
}

function init(body) {
  if (main !== undefined) return systemError('Cannot initialize the action more than once.');
  if (status !== 'ready') return systemError(`System not ready, status is ${status}.`);
  const message = body.value || {};
  if (!message.main || !message.code || typeof message.main !== 'string' || typeof message.code !== 'string') {
    return reply(403, { error: 'Missing main/no code to execute.' });
  }
  try {
    if (message.env && typeof message.env === 'object') Object.assign(process.env, message.env);
    main = message.binary ? loadArchive(message) : loadMain(message.code, message.main);
    return reply(200, { OK: true });
  } catch (err) {
    status = 'stopped';
    console.error('Error during initialization:', err);
    return reply(502, { error: `Initialization has failed due to: ${err && err.stack ? String(err.stack) : err}` });
  }
}

// Evaluates the code as upstream does: `main` is looked up first as a name declared by the code,
// then in `module.exports`/`exports`. The Function constructor keeps the runner's own variables
// out of the action's scope and, unlike `vm`, lets the code use dynamic `import()`.
function loadMain(code, name) {
  const module = { exports: {} };
  const exports = module.exports;
  const lookup = IDENTIFIER.test(name) ? `typeof ${name} === 'undefined' ? undefined : ${name}` : 'undefined';
  const source = `${code}\n;return ${lookup};`;
  const evaluate = new Function('exports', 'require', 'module', '__filename', '__dirname', source);
  let handler = evaluate(exports, actionRequire, module, ACTION_FILENAME, path.dirname(ACTION_FILENAME));
  if (handler === undefined) handler = module.exports[name] || exports[name];
  if (typeof handler !== 'function') throw `Action entrypoint '${name}' is not a function.`;
  return handler;
}

// A zip or tar.gz project, unpacked under the container's tmpfs and required as upstream does:
// `main` is `file.func` (the module `file` relative to the project root), or a bare function name
// exported by the project's package.json `main` or index.js. Its own node_modules resolve from there.
// `unpack_limit_bytes` and `unpack_max_entries` are Whisklet's /init extensions bounding the unpacking.
function loadArchive(message) {
  const parts = message.main.match(/^([^.]+)$|^(.+)\.([^.]+)$/);
  if (!parts) throw 'Name of main function is not valid.';
  const [file, name] = [parts[2], parts[3] || parts[1]];
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'action-'));
  try {
    require('./archive.js').unpack(message.code, directory, {
      maxBytes: message.unpack_limit_bytes,
      maxEntries: message.unpack_max_entries,
    });
  } catch (err) {
    fs.rmSync(directory, { recursive: true, force: true }); // give the tmpfs back before reporting
    throw err;
  }
  process.chdir(directory);
  if (file === undefined && !fs.existsSync('package.json') && !fs.existsSync('index.js')) {
    throw 'Zipped actions must contain either package.json or index.js at the root.';
  }
  const handler = require(file === undefined ? directory : path.join(directory, file))[name];
  if (typeof handler !== 'function') throw `Action entrypoint '${message.main}' is not a function.`;
  return handler;
}

async function run(body) {
  if (main === undefined) return systemError('System not initialized.');
  if (status !== 'ready') return systemError(`System not ready, status is ${status}.`);
  let value = body.value;
  if (value === null || value === undefined) {
    value = {};
  } else if (typeof value !== 'object') {
    return systemError(`Internal system error: the argument must be a dictionary but has type '${typeof value}'.`);
  }
  for (const [key, context] of Object.entries(body)) {
    if (key !== 'value' && typeof context === 'string') process.env[`__OW_${key.toUpperCase()}`] = context;
  }

  status = 'running';
  let result;
  try {
    result = main(value);
  } catch (err) {
    status = 'stopped';
    console.error(err);
    return reply(502, { error: `An error has occurred: ${err}` });
  }
  try {
    result = await result;
  } catch (err) {
    // A rejected promise is an application error, not a failure of the runner.
    result = { error: err ? serializeError(err) : {} };
  }
  status = 'ready';
  if (result === undefined) result = {};
  if (typeof result !== 'object') {
    console.error(`Result must be of type object but has type "${typeof result}":`, result);
    return reply(502, { error: 'The action did not return a dictionary.' });
  }
  return reply(200, result);
}

// What serialize-error@2 (upstream's dependency) makes of a rejection reason: own enumerable
// properties without functions, cycles marked, plus name, message, stack and code.
function serializeError(value) {
  if (typeof value === 'function') return `[Function: ${value.name || 'anonymous'}]`;
  return typeof value === 'object' ? withoutCycles(value, []) : value;
}

function withoutCycles(from, seen) {
  const to = Array.isArray(from) ? [] : {};
  seen.push(from);
  for (const key of Object.keys(from)) {
    const value = from[key];
    if (typeof value === 'function') continue;
    if (!value || typeof value !== 'object') to[key] = value;
    else to[key] = seen.includes(value) ? '[Circular]' : withoutCycles(value, seen.slice());
  }
  for (const key of ['name', 'message', 'stack', 'code']) {
    if (typeof from[key] === 'string') to[key] = from[key];
  }
  return to;
}

// ---------------------------------------------------------------------------------------------
// HTTP over the Unix socket

const ROUTES = { 'GET /health': health, 'POST /init': init, 'POST /run': run };
const BAD_REQUEST = reply(500, { error: 'Bad request.' });

function parseBody(raw) {
  if (raw === undefined) return undefined; // over the size limit
  if (raw.length === 0) return {};
  try {
    const body = JSON.parse(raw);
    return body !== null && typeof body === 'object' ? body : undefined;
  } catch {
    return undefined;
  }
}

async function answer(name, raw) {
  const route = ROUTES[name];
  const body = parseBody(raw);
  if (route === undefined || body === undefined) return BAD_REQUEST;
  return route(body);
}

function send(res, { code, body }) {
  let text;
  try {
    text = JSON.stringify(body);
  } catch {} // a result with cycles or BigInts: upstream's Express answers 500 as well
  if (text === undefined) {
    code = 500;
    text = '{"error":"Internal error."}';
  }
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', async () => {
    const name = `${req.method} ${req.url.split('?', 1)[0]}`;
    const outcome = await answer(name, size <= MAX_BODY_BYTES ? Buffer.concat(chunks, size) : undefined);
    // The activation's output is complete with every /run reply and an /init that failed. The sentinels
    // go first: writes to a pipe are synchronous, so they are in the gateway's pipes before the reply
    // is on the socket, and the gateway need not wait for them once it has the reply.
    if (name === 'POST /run' || (name === 'POST /init' && outcome.code !== 200)) writeSentinels();
    send(res, outcome);
  });
});
// The host keeps its connection from the warm-up request while the runner waits in the pool.
server.keepAliveTimeout = 0;
server.headersTimeout = 0;
server.requestTimeout = 0;

try {
  fs.unlinkSync(SOCKET);
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}
server.listen(SOCKET, () => {
  fs.chmodSync(SOCKET, 0o666);
  signalReady();
});

// Says on the ready pipe that the socket listens, and closes it: no tenant code ever holds it.
function signalReady() {
  if (READY_FD < 0) return;
  try {
    fs.writeSync(READY_FD, '1');
  } finally {
    fs.closeSync(READY_FD);
  }
}
// Whisklet's API on the sandbox's loopback, where its egress policy allows it (api_proxy.js).
require('./api_proxy.js').start();
