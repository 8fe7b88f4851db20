'use strict';
// The entry of the runner's Node.js startup snapshot (pool/sandbox/namespace/snapshot.py builds it with
// `node --build-snapshot`). Built-in modules the runner uses are loaded into the snapshot; `http` cannot
// be (Node 20), so the runner itself is loaded when a sandbox starts from the blob, through
// `module.createRequire`, exactly as a plain `node runner.js` would run it.
const v8 = require('v8');
const { createRequire } = require('module');

for (const name of ['fs', 'os', 'path', 'util', 'string_decoder', 'events', 'stream', 'buffer']) require(name);

const RUNNER = '/opt/whisklet/runner.js';
v8.startupSnapshot.setDeserializeMainFunction(() => {
  createRequire(RUNNER)(RUNNER);
});
