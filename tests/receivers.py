"""Loopback HTTP receivers (127.0.0.1 only) standing in for Splunk, New Relic and Azure in log-forwarding tests."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Records every request; answers with the next scripted status (then `default_status`)."""

    def __init__(self, default_status: int = 200, reply: bytes = b'{"text":"Success","code":0}') -> None:
        self.requests: list[Received] = []
        self.statuses: deque[int] = deque()
        self.default_status = default_status
        self.reply = reply
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.arrived:
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.default_status
                    receiver.requests.append(Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.reply)))
                self.end_headers()
                self.wfile.write(receiver.reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for(self, predicate, timeout_s: float = 30.0) -> list[Received]:
        """Block until `predicate(requests)` holds (or fail after `timeout_s`); return the requests."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while not predicate(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver did not get what was expected; got {len(self.requests)} requests")
                self.arrived.wait(left)
            return list(self.requests)


class SilentReceiver:
    """Accepts connections and reads, but never answers, or (`trickle`) answers one byte at a time forever."""

    def __init__(self, trickle: bool = False) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.trickle = trickle
        self.stopping = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.2)
            reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
            sent = 0
            while not self.stopping.is_set():
                try:
                    conn.recv(65536)
                except TimeoutError:
                    pass
                except OSError:
                    return
                if self.trickle and sent < len(reply):
                    try:
                        conn.send(reply[sent:sent + 1])
                    except OSError:
                        return
                    sent += 1

    def __enter__(self) -> SilentReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.listener.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
