'use strict';
// The API forwarder: Whisklet's own API from inside a sandbox, without any network.
//
// Where the sandbox may reach the API (egress `api` or `internet`), the driver binds the directory
// holding the gateway's inside socket at /run/whisklet-api. The forwarder listens on the sandbox's own
// loopback (127.0.0.1:3233, in the sandbox's network namespace) and pipes each connection to that
// socket, so `__OW_API_HOST=http://127.0.0.1:3233` works with any HTTP client, the `openwhisk` npm
// client included. Every request is an ordinary API request: the gateway authenticates, throttles and
// bounds it. The forwarder itself is bounded (connections, bytes per connection, idle time) and dies
// with the runner, hence with the sandbox. Without the directory (egress `none`) nothing listens.

const net = require('net');

const API_SOCKET = '/run/whisklet-api/api.sock';
const HOST = '127.0.0.1';
const PORT = 3233;
const MAX_CONNECTIONS = 16;
const MAX_BYTES = 64 * 1024 * 1024; // per connection, both directions together
const IDLE_MS = 120 * 1000;

function forward(client) {
  const upstream = net.createConnection(API_SOCKET);
  let bytes = 0;
  const count = (chunk) => {
    bytes += chunk.length;
    if (bytes > MAX_BYTES) {
      client.destroy();
      upstream.destroy();
    }
  };
  client.on('data', count);
  upstream.on('data', count);
  client.setTimeout(IDLE_MS, () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
}

// Starts the forwarder when the driver bound the API socket's directory into this sandbox (it says so with
// WHISKLET_API=1, which the action does not see); returns whether it did.
function start() {
  const wanted = process.env.WHISKLET_API === '1';
  delete process.env.WHISKLET_API;
  if (!wanted) return false;
  const server = net.createServer(forward);
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', (err) => process.stderr.write(`whisklet: the API forwarder stopped: ${err.message}\n`));
  server.listen(loopbackHandle() || { port: PORT, host: HOST });
  server.unref();
  return true;
}

// The listening socket on HOST:PORT made directly (Node 20-24's `net._createServerHandle`, what
// `listen` itself calls), or null where that internal is absent or failed: then the documented
// `listen({port, host})` does the same (and reports the failure), at ~5 ms more CPU per sandbox on
// Node 22+ (measured): it loads `dns` and builds its default c-ares resolver, and its address filter
// compiles Node's IPv6 regular expression, all to learn that an IP address is one.
function loopbackHandle() {
  if (typeof net._createServerHandle !== 'function') return null;
  try {
    const handle = net._createServerHandle(HOST, PORT, 4);
    return typeof handle === 'object' && handle !== null ? handle : null; // a number is an errno
  } catch {
    return null;
  }
}

module.exports = { start, PORT };
