"""The node's side of a join's share-checking process (:mod:`p2pool.p2p.check_worker`).

:class:`CheckProcess` starts the process, sends it batches of shares' bytes and gives back its verdicts
(:class:`~sharechain.validation.StandaloneVerdict`, or what is malformed), one batch at a time. If the
process cannot be started, dies, or answers out of turn, :meth:`CheckProcess.check` returns None from
then on and the join checks the shares itself, as it does without the process: the process only
moves work to another core, it never decides anything the node would not.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import trio

from p2pool.p2p.check_worker import FRAME
from sharechain.bitcoin.serialize import ser_varbytes
from sharechain.params import NetworkParams
from sharechain.validation import StandaloneVerdict

log = logging.getLogger("otedama.p2p.join")

_PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
_STOP_SECONDS = 5.0
Verdicts = list[StandaloneVerdict | str]


class CheckProcess:
    def __init__(self, params: NetworkParams) -> None:
        self.params = params
        self._process: trio.Process | None = None
        self._sending = trio.Lock()
        self._turn_changed = trio.Condition()
        self._tickets = 0  # batches sent
        self._turn = 0  # the batch whose answer is read next
        self._buffer = bytearray()
        self.broken = False
        self.checked = 0  # shares it gave a verdict on

    async def __aenter__(self) -> CheckProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH")]))
        try:
            self._process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "p2pool.p2p.check_worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=env)
            await self._send(pickle.dumps(self.params, protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._broke(f"could not start it: {exc}")
        except BaseException:  # cancelled while starting it: no __aexit__ will stop it
            await self.aclose()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End its input (it stops) and wait for it, killing it if it does not stop in a few seconds."""
        process, self._process = self._process, None
        if process is None:
            return
        with trio.CancelScope(shield=True):
            assert process.stdin is not None and process.stdout is not None
            await process.stdin.aclose()
            with trio.move_on_after(_STOP_SECONDS):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
            await process.stdout.aclose()

    async def check(self, raws: tuple[bytes, ...]) -> Verdicts | None:
        """The verdicts on ``raws`` in order, or None when the process is not there to give them.

        Batches are sent as they come and answered in turn: the process checks the next batch while
        the node applies the last (it would wait for the node otherwise)."""
        if self.broken or self._process is None:
            return None
        pending = False  # a ticket taken and its answer not read yet
        try:
            async with self._sending:
                ticket = self._tickets
                self._tickets += 1
                pending = True
                await self._send(b"".join(ser_varbytes(raw) for raw in raws))
            async with self._turn_changed:
                while self._turn != ticket and not self.broken:
                    await self._turn_changed.wait()
                if self.broken:
                    return None
                try:
                    verdicts = pickle.loads(await self._receive())
                    pending = False
                finally:
                    self._turn += 1
                    self._turn_changed.notify_all()
        except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError, pickle.UnpicklingError) as exc:
            self._broke(f"it went away or answered garbage: {exc or type(exc).__name__}")
            return None
        finally:
            if pending and not self.broken:
                # Cancelled half-way (a frame half sent, or an answer left unread): what comes back
                # next would be taken for another batch's answer.
                self._broke("a check was cancelled half-way")
                with trio.CancelScope(shield=True):
                    async with self._turn_changed:
                        self._turn_changed.notify_all()  # (those waiting for their turn return None)
        if not isinstance(verdicts, list) or len(verdicts) != len(raws):
            self._broke(f"an answer that is not one verdict for each of {len(raws)} shares")
            return None
        self.checked += len(verdicts)
        return verdicts

    def _broke(self, why: str) -> None:
        self.broken = True
        log.warning("share-checking process not used (the join checks its shares itself): %s", why)

    async def _send(self, payload: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        await self._process.stdin.send_all(FRAME.pack(len(payload)) + payload)

    async def _receive(self) -> bytes:
        length = FRAME.unpack(await self._exactly(FRAME.size))[0]
        return await self._exactly(length)

    async def _exactly(self, size: int) -> bytes:
        assert self._process is not None and self._process.stdout is not None
        buffer = self._buffer
        while len(buffer) < size:
            chunk = await self._process.stdout.receive_some(max(size - len(buffer), 1 << 16))
            if not chunk:
                raise EOFError("the share-checking process ended")
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data
