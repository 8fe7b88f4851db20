"""A fake sandbox driver: each sandbox is an in-process HTTP server on a real Unix socket."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from pool.runner.logs import SENTINEL
from pool.runtime.nodejs.kinds import DEFAULT_KIND
from pool.sandbox.driver import Egress, EngineUnavailable, ResourceUse, Sandbox, SandboxError, SandboxExit


class FakeOutput:
    """A runner's stdout and stderr as the fake runner writes them (a `RunnerOutput`)."""

    def __init__(self) -> None:
        self._chunks: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(maxsize=1000)
        self._closed = False

    def write(self, stream: str, data: bytes) -> None:
        if not self._closed:
            self._chunks.put_nowait((stream, data))

    def end(self) -> None:
        """Both streams end (the runner exited)."""
        if not self._closed:
            self._chunks.put_nowait(None)

    async def read(self) -> tuple[str, bytes] | None:
        if self._closed:
            return None
        chunk = await self._chunks.get()
        if chunk is None:
            self._closed = True
        return chunk

    def close(self) -> None:
        self.end()
        self._closed = True


@dataclass
class FakeDriver:
    """Creates fake runners whose `/run` answers 200 with `{"echo": value, "deadline": deadline}` after
    `run_delay_s`; `crash_on_run` and `oom_on_run` make the runner die instead. `create_delay_s`,
    `fail_creates` and `engine_down` simulate a slow or broken engine, `crash_creates` a driver's bug."""

    root: Path
    create_delay_s: float = 0.0
    fail_creates: bool = False
    crash_creates: int = 0  # this many creates raise an error no driver should raise (a driver's bug)
    engine_down: bool = False
    run_delay_s: float = 0.0
    crash_on_run: bool = False
    oom_on_run: bool = False
    sentinels: bool = True  # False: a runner whose output never says it is complete
    sentinels_first: bool = False  # True: the sentinels go out just before the /run reply (as runner.js), not after
    use: ResourceUse | None = None  # what `resource_use` reports for a live sandbox
    created: list[Sandbox] = field(default_factory=list)
    requests: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # per sandbox: (connection number, path)
    destroyed: list[Sandbox] = field(default_factory=list)
    orphans: int = 0
    calls: list[str] = field(default_factory=list)  # "create" and each request path, in the order they came
    _servers: dict[str, asyncio.AbstractServer] = field(default_factory=dict)
    _connections: dict[str, list[asyncio.StreamWriter]] = field(default_factory=dict)
    _seq: int = 0
    _accepted: dict[str, int] = field(default_factory=dict)

    @property
    def alive(self) -> int:
        return len(self._servers)

    async def create(self, memory_mb: int, kind: str = DEFAULT_KIND, egress: Egress = "none") -> Sandbox:
        self.calls.append("create")
        if self.engine_down:
            raise EngineUnavailable("cannot reach the fake engine")
        await asyncio.sleep(self.create_delay_s)
        if self.fail_creates:
            raise SandboxError("the fake engine refused to create a container")
        if self.crash_creates > 0:
            self.crash_creates -= 1
            raise ValueError("a bug in the fake driver")
        self._seq += 1
        name = f"fake-{self._seq}"
        directory = self.root / name
        directory.mkdir(parents=True)
        socket_path = str(directory / "runner.sock")
        output = FakeOutput()
        server = await asyncio.start_unix_server(lambda r, w: self._serve(r, w, name, output), path=socket_path)
        self._servers[name] = server
        sandbox = Sandbox(name, name, memory_mb, socket_path, output, created_at=time.monotonic(), kind=kind,
                          egress=egress)
        self.created.append(sandbox)
        return sandbox

    async def destroy(self, sandbox: Sandbox) -> None:
        if self.engine_down:
            raise EngineUnavailable("cannot reach the fake engine")
        server = self._servers.pop(sandbox.name, None)
        sandbox.output.close()
        if server is not None:
            server.close()
            for writer in self._connections.pop(sandbox.name, []):
                writer.close()  # a killed container breaks its connections
            self.destroyed.append(sandbox)

    def connections(self, sandbox: Sandbox) -> int:
        """How many connections the sandbox's runner has accepted so far."""
        return self._accepted.get(sandbox.name, 0)

    def hang_up(self, sandbox: Sandbox) -> None:
        """The runner closes the connections it holds, and keeps answering new ones."""
        for writer in self._connections.pop(sandbox.name, []):
            writer.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            writer.close()

    def kill(self, sandbox: Sandbox) -> None:
        """The container dies behind the pool's back (killed from outside, engine restart): its runner
        stops answering, but the engine still knows it until it is destroyed."""
        server = self._servers.get(sandbox.name)
        if server is not None:
            server.close()
            sandbox.output.close()
            for writer in self._connections.pop(sandbox.name, []):
                # at once, as the kernel closes a killed process's sockets: not on the next loop turn
                writer.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
                writer.close()

    async def exit_reason(self, sandbox: Sandbox) -> SandboxExit:
        return SandboxExit(running=False, oom_killed=self.oom_on_run, exit_code=137 if self.oom_on_run else 1)

    async def resource_use(self, sandbox: Sandbox) -> ResourceUse | None:
        return self.use if sandbox.name in self._servers else None

    async def remove_orphans(self) -> int:
        return self.orphans

    async def close(self) -> None:
        for server in self._servers.values():
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str, output: FakeOutput) -> None:
        self._connections.setdefault(name, []).append(writer)
        number = self._accepted[name] = self._accepted.get(name, 0) + 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *headers = head.decode().split("\r\n")
                length = next(int(h.split(":")[1]) for h in headers if h.lower().startswith("content-length"))
                body = json.loads(await reader.readexactly(length)) if length else {}
                path = request_line.split()[1]
                self.calls.append(path)
                self.requests.setdefault(name, []).append((number, path))
                if path == "/run":
                    output.write("stdout", b"running\n")
                    await asyncio.sleep(self.run_delay_s)
                    if self.crash_on_run or self.oom_on_run:
                        output.end()
                        writer.close()
                        return
                    status, reply = 200, json.dumps({"echo": body["value"], "deadline": body["deadline"]})
                else:
                    status, reply = 200, '{"OK":true}'
                data = reply.encode()
                if path == "/run" and self.sentinels and self.sentinels_first:
                    self._end_output(output)
                writer.write(f"HTTP/1.1 {status} OK\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
                if path == "/run" and self.sentinels and not self.sentinels_first:
                    self._end_output(output)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _end_output(output: FakeOutput) -> None:
        output.write("stdout", SENTINEL + b"\n")
        output.write("stderr", SENTINEL + b"\n")
