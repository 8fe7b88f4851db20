"""The runner's stdout and stderr pipes as the gateway reads them (pool/sandbox/output.py)."""

from __future__ import annotations

import asyncio
import os

from pool.sandbox.output import READ_CHUNK_BYTES, PipeOutput


def pipes() -> tuple[PipeOutput, int, int]:
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    return PipeOutput(out_read, err_read), out_write, err_write


def fill(fd: int) -> None:
    """Write to the pipe until it is full."""
    os.set_blocking(fd, False)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except BlockingIOError:
        pass


async def test_chunks_name_their_stream_and_both_ends_give_none() -> None:
    output, out, err = pipes()
    os.write(out, b"to stdout\n")
    os.write(err, b"to stderr\n")
    assert {await output.read(), await output.read()} == {("stdout", b"to stdout\n"), ("stderr", b"to stderr\n")}
    os.close(out)
    os.close(err)
    assert await output.read() is None


async def test_a_flood_on_stdout_never_starves_stderr() -> None:
    output, out, err = pipes()
    fill(out)
    os.write(err, b"late\n")
    streams = [(await output.read())[0] for _ in range(2)]  # type: ignore[index]
    assert "stderr" in streams
    output.close()
    os.close(out)
    os.close(err)


async def test_a_read_is_bounded_by_the_chunk_size() -> None:
    output, out, err = pipes()
    fill(out)
    chunk = await output.read()
    assert chunk is not None and len(chunk[1]) <= READ_CHUNK_BYTES
    output.close()
    os.close(out)
    os.close(err)


async def test_close_wakes_a_pending_read_and_later_reads_give_none() -> None:
    output, out, err = pipes()
    pending = asyncio.ensure_future(output.read())
    await asyncio.sleep(0)
    assert not pending.done()
    output.close()
    output.close()
    assert await asyncio.wait_for(pending, 5) is None
    assert await output.read() is None
    os.close(out)
    os.close(err)
