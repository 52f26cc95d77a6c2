"""Frames between the node and its Stratum worker processes: a 4-byte length, then a pickled message.

Both ends are this project's own processes (started by the node, over socket pairs only they hold), so a
frame is trusted as pickle; its length is bounded all the same.
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
import time

import trio

MAX_FRAME = 64 * 1024 * 1024
_LENGTH = struct.Struct(">I")


class WireError(Exception):
    """The other end broke the framing, closed, or did not answer in time."""


def encode(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > MAX_FRAME:
        raise WireError(f"a frame of {len(payload)} bytes is over the {MAX_FRAME} limit")
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Frames out of a byte stream as it arrives."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[object]:
        if not data:
            raise WireError("the other end closed")
        buffer = self._buffer
        buffer += data
        out: list[object] = []
        at = 0
        while len(buffer) - at >= 4:
            (size,) = _LENGTH.unpack_from(buffer, at)
            if size > MAX_FRAME:
                raise WireError(f"a frame of {size} bytes announced, over the {MAX_FRAME} limit")
            if len(buffer) - at < 4 + size:
                break
            out.append(pickle.loads(memoryview(buffer)[at + 4:at + 4 + size]))
            at += 4 + size
        del buffer[:at]
        return out


class Channel:
    """Frames over a trio socket stream, in and out."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._reader = FrameReader()
        self._ready: list[object] = []
        self._sending = trio.Lock()

    async def send(self, message: object) -> None:
        data = encode(message)
        async with self._sending:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise WireError(f"the other end is gone: {exc}") from None

    async def receive(self) -> object:
        while not self._ready:
            try:
                data = await self.stream.receive_some(1 << 16)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise WireError(f"the other end is gone: {exc}") from None
            self._ready = self._reader.feed(data)
        return self._ready.pop(0)


class BlockingChannel:
    """Frames over a blocking socket, for one request and its answer at a time (a worker process asking the
    node to take a share: its whole loop waits, as a single-process node's would while taking it)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(True)
        self._reader = FrameReader()
        self._ready: list[object] = []

    def ask(self, message: object, request: int, timeout: float) -> object:
        """Send ``message`` and wait for the frame answering it (its ``request`` attribute is ``request``;
        late answers to earlier requests are passed over); WireError if none comes within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        try:
            self.sock.sendall(encode(message))
            while True:
                while not self._ready:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                        raise WireError(f"no answer in {timeout:g} s")
                    self._ready = self._reader.feed(self.sock.recv(1 << 16))
                answer = self._ready.pop(0)
                if getattr(answer, "request", None) == request:
                    return answer
        except OSError as exc:
            raise WireError(f"the other end is gone: {exc}") from None
