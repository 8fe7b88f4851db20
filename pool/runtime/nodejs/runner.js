'use strict';
// Whisklet's in-container runner: the OpenWhisk Node.js action proxy protocol (POST /init, POST /run)
// on a Unix socket, for one activation, with everything the action writes to stdout and stderr
// appended to a log file as timestamped lines.

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const util = require('util');
const { createRequire } = require('module');
const { StringDecoder } = require('string_decoder');

const SOCKET = process.env.WHISKLET_SOCKET || '/run/whisklet/runner.sock';
const LOG = process.env.WHISKLET_LOG || '/run/whisklet/activation.log';
// The action sees the container's environment, not the runner's settings.
delete process.env.WHISKLET_SOCKET;
delete process.env.WHISKLET_LOG;

const MAX_BODY_BYTES = 48 * 1024 * 1024;
const DEFAULT_LOG_LIMIT_BYTES = 10 * 1024 * 1024;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
// Where the action's code says it lives: `require('./x')` resolves in the working directory.
const ACTION_FILENAME = path.join(process.cwd(), 'action.js');
const actionRequire = createRequire(ACTION_FILENAME);

// ---------------------------------------------------------------------------------------------
// Log capture

const logFd = fs.openSync(LOG, 'a');
const log = { limitBytes: DEFAULT_LOG_LIMIT_BYTES, usedBytes: 0, truncated: false };

// Wall clock at start-up plus a monotonic offset, for Docker's nanosecond timestamps.
const epochOffsetNs = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();

// RFC 3339 UTC with 9 fractional digits: always 30 characters, the width OpenWhisk pads to.
function timestamp() {
  const ns = epochOffsetNs + process.hrtime.bigint();
  const seconds = new Date(Number(ns / 1000000n)).toISOString().slice(0, 19);
  return `${seconds}.${String(ns % 1000000000n).padStart(9, '0')}Z`;
}

function appendLine(stream, text) {
  if (log.truncated) return;
  const bytes = Buffer.byteLength(text);
  if (log.usedBytes + bytes > log.limitBytes) {
    log.truncated = true;
    stream = 'stderr';
    text = `Logs were truncated because the total bytes size exceeds the limit of ${log.limitBytes} bytes.`;
  } else {
    log.usedBytes += bytes;
  }
  try {
    fs.writeSync(logFd, `${timestamp()} ${stream}: ${text}\n`);
  } catch {
    // The log directory's own quota is full (the action filled it): the logs end here, the action goes on.
    log.truncated = true;
  }
}

// Replaces `stream.write` with one that appends complete lines to the log file; returns the
// function that writes out the pending partial line.
function capture(name, stream) {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  stream.write = function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') callback = encoding;
    if (!log.truncated) {
      const lines = (partial + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split('\n');
      partial = lines.pop();
      for (const line of lines) appendLine(name, line);
      // A partial line longer in characters than the bytes left can never fit: cut now, not at exit.
      if (partial.length > log.limitBytes - log.usedBytes) flush();
    }
    if (callback) process.nextTick(callback);
    return true;
  };
  function flush() {
    if (partial) appendLine(name, partial);
    partial = '';
  }
  return flush;
}

// Compile Node's console formatting now rather than during the activation (~1 ms on first use).
for (const stream of [process.stdout, process.stderr]) stream.write = () => true;
console.log('%s %o', 'warm-up', { n: [1] });
console.error('warm-up');

const flushStdout = capture('stdout', process.stdout);
const flushStderr = capture('stderr', process.stderr);

function flushLogs() {
  flushStdout();
  flushStderr();
}

process.on('exit', flushLogs);
// Also reached by unhandled rejections (Node's default `throw` mode turns them into exceptions).
process.on('uncaughtException', (err) => {
  flushLogs();
  for (const line of util.inspect(err).split('\n')) appendLine('stderr', line);
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
// small JSON object), JSON, code evaluation and the log timestamp.
function health(body) {
  timestamp();
  new Function('args', 'return args')(JSON.parse(JSON.stringify(body)));
  return reply(200, { ok: true });
}

function init(body) {
  if (main !== undefined) return systemError('Cannot initialize the action more than once.');
  if (status !== 'ready') return systemError(`System not ready, status is ${status}.`);
  const message = body.value || {};
  if (Number.isSafeInteger(message.log_limit_bytes) && message.log_limit_bytes >= 0) {
    log.limitBytes = message.log_limit_bytes;
  }
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

async function answer(req, raw) {
  const route = ROUTES[`${req.method} ${req.url.split('?', 1)[0]}`];
  const body = parseBody(raw);
  if (route === undefined || body === undefined) return BAD_REQUEST;
  const outcome = await route(body);
  if (route !== health) flushLogs();
  return outcome;
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
    send(res, await answer(req, size <= MAX_BODY_BYTES ? Buffer.concat(chunks, size) : undefined));
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
server.listen(SOCKET, () => fs.chmodSync(SOCKET, 0o666));
