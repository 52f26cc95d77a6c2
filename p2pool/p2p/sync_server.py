"""Answers sync requests on libp2p streams: tips, hash inventories, shares and peer addresses.

A stream may carry several requests in turn. Malformed, oversized or unexpected messages and
requests over the peer's rate limit are reported to ``penalize`` and end the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import trio
from libp2p.abc import INetStream
from libp2p.exceptions import BaseLibp2pError

from p2pool.p2p.join import build_plan
from p2pool.p2p.messages import (
    MAX_FRAME,
    MAX_HASHES,
    MAX_PEERS,
    MAX_SHARES,
    FrameDecoder,
    GetHashes,
    GetJoin,
    GetPeers,
    GetRecent,
    GetShares,
    GetSharesByHash,
    GetTip,
    Hashes,
    JoinPlan,
    Message,
    OversizedMessage,
    Peers,
    RemoteProtocolError,
    Shares,
    Tip,
)
from p2pool.p2p.scoring import Offense
from p2pool.p2p.stream import StreamClosed, read_message, write_message
from p2pool.p2p.sync import MainChainIndex, RecentShares, following
from p2pool.storage.share_store import ShareStore
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.chain import ShareChain

log = logging.getLogger("otedama.p2p.sync")
# A request is small: the largest is GetSharesByHash, 2,000 hashes.
MAX_REQUEST_FRAME = 128 * 1024
# Room left in a Shares frame for the count and length prefixes.
_FRAME_BUDGET = MAX_FRAME - 64 * 1024


@dataclass
class ServerHooks:
    """What the server needs from the rest of the P2P service."""

    penalize: Callable[[str, Offense, str], None]
    allow: Callable[[str, float], bool]  # rate limit: may ``peer`` make a request of this cost now?
    known_peers: Callable[[str], list[str]]  # addresses to tell ``peer`` about
    served: Callable[[str], None]  # ``peer`` asked something legitimate


class SyncServer:
    def __init__(self, chain: ShareChain, store: ShareStore, index: MainChainIndex, recent: RecentShares,
                 hooks: ServerHooks, idle_timeout: float = 60.0) -> None:
        self.chain = chain
        self.store = store
        self.index = index
        self.recent = recent
        self.hooks = hooks
        self.idle_timeout = idle_timeout
        self._plan: tuple[tuple[bytes, int], JoinPlan] | None = None

    # --- the answers (synchronous; the store is local) ---------------------------------------------
    def answer(self, peer: str, request: Message) -> Message:
        self.index.update(self.chain)
        if isinstance(request, GetTip):
            tip = self.chain.tip
            return Tip(tip.hash, tip.height, tip.chain_work) if tip else Tip(NULL_HASH, -1, 0)
        if isinstance(request, GetHashes):
            return Hashes(tuple(following(self.index, self.chain, request.locator, request.stop,
                                          min(request.max, MAX_HASHES))))
        if isinstance(request, GetShares):
            hashes = following(self.index, self.chain, request.locator, request.stop, min(request.max, MAX_SHARES))
            return Shares(self._raw_shares(hashes))
        if isinstance(request, GetSharesByHash):
            return Shares(self._raw_shares([h for h in request.hashes if h in self.chain]))
        if isinstance(request, GetRecent):
            return Hashes(tuple(self.recent.hashes(request.depth)[-MAX_HASHES:]))
        if isinstance(request, GetPeers):
            return Peers(tuple(self.hooks.known_peers(peer)[:MAX_PEERS]))
        if isinstance(request, GetJoin):
            return self._join_plan()
        raise RemoteProtocolError(f"{type(request).__name__} is a reply, not a request")

    def _join_plan(self) -> JoinPlan:
        """Every share we keep, headers first (built once per tip: joining nodes ask for the same)."""
        tip = self.chain.tip
        key = (tip.hash if tip else b"", len(self.chain))
        if self._plan is None or self._plan[0] != key:
            self._plan = (key, build_plan(self.chain))
        return self._plan[1]

    def _raw_shares(self, hashes: list[bytes]) -> tuple[bytes, ...]:
        out: list[bytes] = []
        size = 0
        for share_hash in hashes:
            raw = self.store.get_raw(share_hash)
            if raw is None:
                continue
            size += len(raw) + 5
            if size > _FRAME_BUDGET:
                break
            out.append(raw)
        return tuple(out)

    # --- the stream adapter ---------------------------------------------------------------------------
    async def handle(self, stream: INetStream) -> None:
        peer = str(stream.muxed_conn.peer_id)
        decoder = FrameDecoder(MAX_REQUEST_FRAME)
        try:
            while True:
                with trio.move_on_after(self.idle_timeout):
                    request = await read_message(stream, decoder)
                if request is None:
                    return
                cost = _cost(request, len(self.chain))
                if not self.hooks.allow(peer, cost):
                    self.hooks.penalize(peer, Offense.FLOOD, f"sync requests over the rate limit ({type(request).__name__})")
                    return
                try:
                    reply = self.answer(peer, request)
                except RemoteProtocolError:
                    raise
                except Exception:  # our bug: log it, drop this stream, keep serving everyone else
                    log.exception("answering %s from %s failed", type(request).__name__, peer)
                    return
                self.hooks.served(peer)
                await write_message(stream, reply)
        except OversizedMessage as exc:
            self.hooks.penalize(peer, Offense.OVERSIZED_MESSAGE, str(exc))
        except RemoteProtocolError as exc:
            self.hooks.penalize(peer, Offense.MALFORMED_MESSAGE, str(exc))
        except StreamClosed:
            pass
        finally:
            await _close(stream)


def _cost(request: Message, kept: int) -> float:
    """Requests weigh by what they make us read: one unit, plus one per 100 shares asked for (a join
    plan lists every share kept: ``kept``)."""
    if isinstance(request, (GetShares,)):
        return 1.0 + min(request.max, MAX_SHARES) / 100
    if isinstance(request, GetSharesByHash):
        return 1.0 + len(request.hashes) / 100
    if isinstance(request, GetJoin):
        return 1.0 + kept / 100  # a full mainnet window: ~170 units, a few per peer, then one every few seconds
    return 1.0


async def _close(stream: INetStream) -> None:
    with trio.move_on_after(2):
        try:
            await stream.close()
        except BaseLibp2pError as exc:  # the peer may already be gone; nothing more to do with this stream
            log.debug("closing a sync stream: %s", exc)
