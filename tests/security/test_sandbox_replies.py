"""A runner patched by the action's own code answers whatever it likes: the gateway keeps what the
result limit allows, its memory stays flat, the record is bounded and always there."""

from __future__ import annotations

import json

import pytest

from tests.integration.actions import unique
from tests.security.sandbox_hostile import (  # noqa: F401 (fixtures)
    assert_ended_in_time_and_clean,
    hostile_whisklet,
    rss_mb,
    run_probe,
    tenant,
)

pytestmark = pytest.mark.docker

RESULT_LIMIT_BYTES = 1024 * 1024
MB = 1024 * 1024

# The action's top-level code runs in the runner's process during /init; `patch()` replaces the runner's
# HTTP reply for the /init reply (called at top level) or the /run reply (called from main).
PATCHED_RUNNER = """
const http = require('http');
const proto = http.ServerResponse.prototype;
const writeHead = proto.writeHead, end = proto.end;
const MODE = %(mode)r, PHASE = %(phase)r, SIZE = 200 * 1024 * 1024;

function raw(res, bytes) {  // the whole reply, framing included, straight onto the socket
  const socket = res.socket;
  const pump = () => {
    while (bytes.next) {
      const piece = bytes.next();
      if (piece === null) return;
      if (!socket.write(piece)) { socket.once('drain', pump); return; }
    }
  };
  pump();
}

function repeat(head, piece, count, tail) {  // head, then piece count times, then tail: lazily
  let sent = -1;
  return { next: () => sent === -1 ? (sent = 0, head) : sent < count ? (sent++, piece) : sent++ === count ? tail : null };
}

function patch() {
  proto.writeHead = function () { this._whiskletStatus = arguments[0]; return this; };
  proto.end = function () {
    const filler = Buffer.alloc(1024 * 1024, 97);
    if (MODE === 'huge') {
      const head = `HTTP/1.1 502 Bad\\r\\nContent-Length: ${SIZE + 12}\\r\\n\\r\\n{"error":"`;
      raw(this, repeat(head, filler, SIZE / filler.length, '"}'));
    } else if (MODE === 'trickle') {
      this.socket.write('HTTP/1.1 200 OK\\r\\nContent-Length: 1000000\\r\\n\\r\\n{"a":"');
      setInterval(() => this.socket.write('a'), 20);
    } else if (MODE === 'many-headers') {
      raw(this, repeat('HTTP/1.1 200 OK\\r\\n', 'X-Header: value\\r\\n', 100000, 'Content-Length: 2\\r\\n\\r\\n{}'));
    } else if (MODE === 'endless-trailers') {
      const head = 'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\n{}\\r\\n0\\r\\n';
      raw(this, repeat(head, 'X-Trailer: value\\r\\n', 1e7, '\\r\\n'));
    } else if (MODE === 'huge-chunk-size') {
      this.socket.write('HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n' + 'f'.repeat(100) + '\\r\\n{}');
    }
    return this;
  };
}

if (PHASE === 'init') patch();
function main() { patch(); return {}; }
"""

FRAMING = ["many-headers", "endless-trailers", "huge-chunk-size"]
MODES = ["huge", "trickle", *FRAMING]


@pytest.mark.parametrize("phase", ["init", "run"])
@pytest.mark.parametrize("mode", MODES)
def test_a_patched_runners_reply_leaves_the_gateway_flat_and_the_record_bounded(tenant, hostile_whisklet, mode, phase):
    before_mb = rss_mb(hostile_whisklet)
    record = run_probe(tenant, unique(f"patched-{mode}"), PATCHED_RUNNER % {"mode": mode, "phase": phase},
                       timeout_ms=3000)
    after_mb = rss_mb(hostile_whisklet)
    assert record["response"]["status"] in ("action developer error", "application error"), record["response"]
    if mode in FRAMING:  # refused as soon as it is seen, not waited out to the time limit
        assert "exited unexpectedly" in record["response"]["result"]["error"], record["response"]
    assert len(json.dumps(record["response"])) < RESULT_LIMIT_BYTES + 4096
    assert after_mb - before_mb < 100, (before_mb, after_mb)
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_a_top_level_throw_of_20_mb_is_stored_capped_with_its_true_size(tenant, hostile_whisklet):
    before_mb = rss_mb(hostile_whisklet)
    record = run_probe(tenant, unique("throw-20mb"), "throw 'x'.repeat(20 * 1024 * 1024);\nfunction main() {}")
    assert record["response"]["status"] == "action developer error"
    error = record["response"]["result"]["error"]
    assert len(error.encode()) < RESULT_LIMIT_BYTES + 1024
    assert "the full text was" in error and "more than the limit of 1048576 bytes" in error
    assert rss_mb(hostile_whisklet) - before_mb < 100
    assert_ended_in_time_and_clean(record, hostile_whisklet)


DEEP_RESULT = "function main() { let v = {}; for (let i = 0; i < 1000; i++) v = { v }; return v; }"


@pytest.mark.parametrize("blocking", [True, False])
def test_a_result_nested_1000_deep_is_a_developer_error_with_a_record(tenant, hostile_whisklet, blocking):
    record = run_probe(tenant, unique("deep"), DEEP_RESULT, blocking=blocking)
    assert record["response"]["status"] == "action developer error"
    assert "nested deeper than 128 levels" in record["response"]["result"]["error"]
    assert_ended_in_time_and_clean(record, hostile_whisklet)


def test_a_lone_surrogate_in_a_result_is_valid_json_as_in_openwhisk(tenant, hostile_whisklet):
    record = run_probe(tenant, unique("surrogate"), "function main() { return { s: 'a\\ud800b' }; }")
    assert record["response"]["status"] == "success"
    assert record["response"]["result"] == {"s": "a?b"}
