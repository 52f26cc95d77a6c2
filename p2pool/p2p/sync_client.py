"""Catching up with peers: tip polls, hash inventories, batched downloads from several peers at once,
and fetching the missing parents of a gossiped share from the peer that sent it.

The decisions (locators, which batch goes to whom, chain order) are made in :mod:`p2pool.p2p.sync`;
this module does the requests. Everything received is verified: proof of work in batches with the
kernels as it arrives, then every consensus rule through the node's share intake.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import trio
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID
from libp2p.protocol_muxer.exceptions import MultiselectClientError, ProtocolNotSupportedError

from kernels.factory import verify_headers
from p2pool.events import ShareSource, SourceKind
from p2pool.intake import ShareIntake
from p2pool.p2p.blame import sender_at_fault
from p2pool.p2p.joiner import JoinConfig, Joiner, JoinHooks, JoinOutcome
from p2pool.p2p.messages import (
    MAX_BY_HASH,
    MAX_HASHES,
    REPLY_TO,
    FrameDecoder,
    GetHashes,
    GetRecent,
    GetSharesByHash,
    GetTip,
    Hashes,
    Message,
    OversizedMessage,
    RemoteProtocolError,
    Shares,
    Tip,
)
from p2pool.p2p.request import RequestFailed
from p2pool.p2p.scoring import Offense
from p2pool.p2p.stream import StreamClosed, read_message, write_message
from p2pool.p2p.sync import DownloadPlan, MainChainIndex, PeerTip, ahead, best_peer, locator
from p2pool.storage.share_store import StoreWriteError
from sharechain.bitcoin.serialize import ParseError
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import NULL_HASH
from sharechain.chain import ShareChain
from sharechain.horizon import keep_depth
from sharechain.result import AddStatus
from sharechain.share import Share

log = logging.getLogger("otedama.p2p.sync")
_APPLY_CHUNK = 100


@dataclass(frozen=True)
class SyncConfig:
    request_timeout: float = 10.0
    batch_size: int = 250
    per_peer: int = 2
    tip_interval: float = 10.0
    # Levels of missing parents fetched by hash before falling back to a full sync with that peer.
    parent_rounds: int = 8
    # Heights below the tip reconciled share by share with each peer (side shares gossip dropped).
    recent_depth: int = 10
    reconcile_interval: float = 30.0
    pow_kernel: str = "hashlib"
    join: JoinConfig = field(default_factory=JoinConfig)


@dataclass
class ClientHooks:
    penalize: Callable[[str, Offense, str], None]
    good: Callable[[str], None]
    peers: Callable[[], list[str]]  # connected peers that speak our sync protocol
    changed: Callable[[], None]  # tips, heights or the syncing flag changed
    foreign: Callable[[str], None]  # the peer does not speak our network's protocol
    # A request ended: the message's name, seconds taken, whether it was answered (metrics).
    done: Callable[[str, float, bool], None] = lambda message, seconds, ok: None
    # Whether the peer is banned now (an answer that comes after its ban is not taken).
    banned: Callable[[str], bool] = lambda peer: False


class SyncClient:
    def __init__(self, host: IHost, protocol: TProtocol, chain: ShareChain, intake: ShareIntake,
                 index: MainChainIndex, hooks: ClientHooks, config: SyncConfig = SyncConfig()) -> None:
        self.host = host
        self.protocol = protocol
        self.chain = chain
        self.intake = intake
        self.index = index
        self.hooks = hooks
        self.config = config
        self.tips: dict[str, PeerTip] = {}
        self.joiner = Joiner(self, chain, intake, chain.params, JoinHooks(hooks.penalize, hooks.good, hooks.changed),
                             functools.partial(verify_headers, kind=config.pow_kernel), config.join)
        self.syncing = False
        self._wake = trio.Event()
        # When each peer last told us its tip (a poll, or a share it relayed); when to reconcile with it.
        self._heard: dict[str, float] = {}
        self._reconcile_at: dict[str, float] = {}

    # --- requests -----------------------------------------------------------------------------------
    async def request(self, peer: str, message: Message) -> Message:
        started, ok = trio.current_time(), False
        try:
            reply = await self._request(peer, message)
            ok = True
            return reply
        finally:
            self.hooks.done(type(message).__name__, trio.current_time() - started, ok)

    async def _request(self, peer: str, message: Message) -> Message:
        with trio.move_on_after(self.config.request_timeout):
            try:
                return await self._exchange(peer, message)
            except OversizedMessage as exc:
                self.hooks.penalize(peer, Offense.OVERSIZED_MESSAGE, str(exc))
                raise RequestFailed(str(exc)) from None
            except RemoteProtocolError as exc:
                self.hooks.penalize(peer, Offense.MALFORMED_MESSAGE, str(exc))
                raise RequestFailed(str(exc)) from None
        self.hooks.penalize(peer, Offense.UNANSWERED_REQUEST, f"no answer to {type(message).__name__}")
        raise RequestFailed(f"{peer} did not answer {type(message).__name__} in time")

    async def _exchange(self, peer: str, message: Message) -> Message:
        try:
            stream = await self.host.new_stream(ID.from_base58(peer), [self.protocol])
        except (BaseLibp2pError, OSError, trio.BrokenResourceError, ValueError) as exc:
            if _unsupported(exc):
                self.hooks.foreign(peer)
            raise RequestFailed(f"cannot open a sync stream to {peer}: {exc}") from None
        try:
            await write_message(stream, message)
            reply = await read_message(stream, FrameDecoder())
        except StreamClosed as exc:
            raise RequestFailed(f"{peer}: {exc}") from None
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(2), contextlib.suppress(BaseLibp2pError):
                await stream.close()
        if reply is None:
            raise RequestFailed(f"{peer} closed the stream without answering")
        if self.hooks.banned(peer):
            raise RequestFailed(f"{peer} was banned while it was asked; its answer is dropped")
        if not isinstance(reply, REPLY_TO[type(message)]):
            raise RemoteProtocolError(f"{type(reply).__name__} in answer to {type(message).__name__}")
        return reply

    # --- tips -----------------------------------------------------------------------------------------
    async def poll_tip(self, peer: str) -> PeerTip | None:
        # Counts as hearing from it: the scheduled polls leave it alone while this one is in flight.
        self._heard[peer] = max(self._heard.get(peer, -math.inf), trio.current_time())
        try:
            reply = await self.request(peer, GetTip())
        except RequestFailed as exc:
            log.debug("tip poll: %s", exc)
            return None
        assert isinstance(reply, Tip)
        tip = PeerTip(reply.hash, reply.height, reply.chain_work)
        self.tips[peer] = tip
        self._heard[peer] = max(self._heard.get(peer, -math.inf), trio.current_time())
        self.hooks.good(peer)
        self.hooks.changed()
        if ahead(tip, self._our_work(), self._our_height(), 2):
            self.wake()
        return tip

    def note_share(self, peer: str, share_hash: bytes) -> None:
        """``peer`` relayed a share we accepted: it has at least that much chain work."""
        self._heard[peer] = max(self._heard.get(peer, -math.inf), trio.current_time())
        record = self.chain.get(share_hash)
        known = self.tips.get(peer)
        if record is not None and (known is None or record.chain_work > known.chain_work):
            self.tips[peer] = PeerTip(record.hash, record.height, record.chain_work)

    def forget(self, peer: str) -> None:
        self.tips.pop(peer, None)
        self._heard.pop(peer, None)
        self._reconcile_at.pop(peer, None)
        self.hooks.changed()

    def wake(self) -> None:
        self._wake.set()

    def _our_height(self) -> int:
        tip = self.chain.tip
        return tip.height if tip else -1

    def _our_work(self) -> int:
        tip = self.chain.tip
        return tip.chain_work if tip else 0

    # --- the driver -----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Catch up whenever woken; poll each peer's tip when it has been quiet for ``tip_interval`` and
        reconcile recent shares with it every ``reconcile_interval``, each peer on its own (jittered)
        schedule so that a node never asks all its peers at once."""
        while True:
            with trio.move_on_after(self._next_due()):
                await self._wake.wait()
            self._wake = trio.Event()
            await self.poll_due()
            await self.catch_up()
            await self.reconcile_due()

    def _next_due(self) -> float:
        now = trio.current_time()
        peers = self.hooks.peers()
        due = [self._heard.get(p, -math.inf) + self.config.tip_interval for p in peers]
        due += [self._reconcile_at.get(p, now) for p in peers]
        return max(0.05, min(due, default=now + self.config.tip_interval) - now)

    async def poll_due(self) -> None:
        now = trio.current_time()
        due = [p for p in self.hooks.peers() if now - self._heard.get(p, -math.inf) >= self.config.tip_interval]
        async with trio.open_nursery() as nursery:
            for peer in due:
                self._heard[peer] = now + random.uniform(0, self.config.tip_interval / 4)
                nursery.start_soon(self.poll_tip, peer)

    async def reconcile_due(self) -> None:
        now = trio.current_time()
        interval = self.config.reconcile_interval
        async with trio.open_nursery() as nursery:
            for peer in self.hooks.peers():
                if peer not in self._reconcile_at:
                    self._reconcile_at[peer] = now + random.uniform(0, interval)
                elif now >= self._reconcile_at[peer]:
                    self._reconcile_at[peer] = now + interval * random.uniform(0.8, 1.2)
                    nursery.start_soon(self.reconcile, peer)


    async def reconcile(self, peer: str) -> int:
        """Fetch the shares near the tip that ``peer`` has and we lack; returns how many joined."""
        try:
            reply = await self.request(peer, GetRecent(self.config.recent_depth))
        except RequestFailed:
            return 0
        assert isinstance(reply, Hashes)
        wanted = [h for h in reply.hashes if h not in self.chain and h not in self.chain.orphans]
        joined = 0
        try:
            for start in range(0, len(wanted), MAX_BY_HASH):
                joined += await self._fetch_and_add(peer, wanted[start : start + MAX_BY_HASH])
        except StoreWriteError as exc:
            log.warning("reconcile with %s paused, the share database cannot write: %s", peer[-8:], exc)
        return joined

    async def _fetch_and_add(self, peer: str, hashes: list[bytes]) -> int:
        try:
            reply = await self.request(peer, GetSharesByHash(tuple(hashes)))
        except RequestFailed:
            return 0
        assert isinstance(reply, Shares)
        shares = self.check_batch(peer, reply.shares, set(hashes))
        if not shares:
            return 0
        await self._apply([(peer, s) for s in sorted(shares, key=lambda s: s.info.height)])
        return sum(1 for s in shares if s.hash in self.chain)

    async def catch_up(self) -> None:
        """Download from the best peers until no peer announces more work than we have."""
        last: bytes | None = None
        stalls = 0
        try:
            while (source := best_peer(self.tips, self._our_work(), self.chain, self._our_height())) is not None:
                if not self.syncing:
                    self.syncing = True
                    self.hooks.changed()
                before = self._our_work()
                if self._must_join(source):
                    outcome = await self.joiner.join(self._join_candidates())
                    if outcome is JoinOutcome.FAILED:
                        self.tips.pop(source, None)
                    if outcome is not JoinOutcome.NOT_NEEDED:
                        continue
                last = await self._round(source, last)
                if self._our_work() == before:
                    stalls += 1
                    if stalls >= 2:  # the peer's claim does not pan out: ask again at the next poll
                        self.tips.pop(source, None)
                        stalls = 0
                else:
                    stalls = 0
        except StoreWriteError as exc:  # nothing can be kept: the next wake-up tries again
            log.warning("sync paused, the share database cannot write: %s", exc)
        finally:
            if self.syncing:
                self.syncing = False
                self.hooks.changed()

    def _must_join(self, source: str) -> bool:
        """No chain yet, or ours ends below what ``source`` still keeps (it pruned past our tip)."""
        tip = self.chain.tip
        if tip is None:
            return True
        peer = self.tips.get(source)
        return peer is not None and peer.height - keep_depth(self.chain.params) + 1 > tip.height

    def _join_candidates(self) -> list[str]:
        """Peers to ask for join plans: the one that announced the most work, then others at random (so
        that peers announcing more work than they have cannot take every place)."""
        peers = set(self.hooks.peers())
        ranked = sorted(((t.chain_work, p) for p, t in self.tips.items() if p in peers and t.height >= 0),
                        key=lambda wp: (-wp[0], wp[1]))
        if not ranked:
            return []
        rest = [p for _, p in ranked[1:]]
        random.shuffle(rest)
        return [ranked[0][1], *rest]

    async def _round(self, source: str, last: bytes | None) -> bytes | None:
        self.index.update(self.chain)
        hashes = locator(self.index)
        if last is not None:
            hashes = (last, *hashes[:63])
        try:
            reply = await self.request(source, GetHashes(hashes, NULL_HASH, MAX_HASHES))
        except RequestFailed:
            self.tips.pop(source, None)
            return None
        assert isinstance(reply, Hashes)
        if not reply.hashes:
            self.tips.pop(source, None)
            return None
        wanted = [h for h in reply.hashes if h not in self.chain]
        log.info("sync: %d shares to fetch from the inventory of %s (%d listed)", len(wanted), source[-8:],
                 len(reply.hashes))
        if wanted:
            await self._download(source, wanted)
        return reply.hashes[-1]

    async def _download(self, source: str, wanted: list[bytes]) -> None:
        plan = DownloadPlan[tuple[str, Share]](self.config.batch_size, self.config.per_peer,
                                               self.config.request_timeout)
        plan.add_inventory(wanted)
        source_tip = self.tips.get(source)
        work = source_tip.chain_work if source_tip else 0
        done_send, done_recv = trio.open_memory_channel[None](math.inf)
        failure: StoreWriteError | None = None
        async with trio.open_nursery() as nursery:
            while not plan.idle and not plan.stalled:
                peers = [p for p in self.hooks.peers()
                         if p == source or (p in self.tips and self.tips[p].chain_work >= work)]
                if not peers:
                    break
                for request in plan.assign(peers, trio.current_time()):
                    nursery.start_soon(self._fetch_batch, plan, request.peer, request.number, request.hashes,
                                       done_send)
                ready = plan.release()
                if ready:
                    try:
                        await self._apply(ready)
                    except StoreWriteError as exc:  # raised after the nursery, not wrapped in a group
                        failure = exc
                        break
                    continue
                with trio.move_on_after(0.5):
                    await done_recv.receive()
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _fetch_batch(self, plan: DownloadPlan[tuple[str, Share]], peer: str, number: int,
                           hashes: tuple[bytes, ...], done: trio.MemorySendChannel[None]) -> None:
        try:
            reply = await self.request(peer, GetSharesByHash(hashes))
        except RequestFailed:
            plan.failed(peer, number)
        else:
            assert isinstance(reply, Shares)
            shares = self.check_batch(peer, reply.shares, set(hashes))
            if shares is None:
                plan.failed(peer, number)
            else:
                plan.received(peer, number, {s.hash: (peer, s) for s in shares})
                self.hooks.good(peer)
        done.send_nowait(None)

    def check_batch(self, peer: str, raws: tuple[bytes, ...], wanted: set[bytes], *,
                    pow_checked: bool = False) -> list[Share] | None:
        """Parse shares and check their proof of work in one kernel batch (unless ``pow_checked``: their
        headers were checked already, and a share's hash is its header's); None (and a penalty) if any fails."""
        try:
            shares = [Share.parse(raw) for raw in raws]
        except ParseError as exc:
            self.hooks.penalize(peer, Offense.MALFORMED_MESSAGE, f"unreadable share: {exc}")
            return None
        if any(s.hash not in wanted for s in shares):
            self.hooks.penalize(peer, Offense.PROTOCOL_VIOLATION, "sent shares that were not asked for")
            return None
        if pow_checked:
            return shares
        try:
            targets = [bits_to_target(s.info.share_bits) for s in shares]
        except ValueError as exc:
            self.hooks.penalize(peer, Offense.INVALID_SHARE, f"share target does not decode: {exc}")
            return None
        headers = b"".join(s.header.serialize() for s in shares)
        if shares and not all(verify_headers(headers, targets, kind=self.config.pow_kernel)):
            self.hooks.penalize(peer, Offense.INVALID_SHARE, "share without its proof of work")
            return None
        return shares

    async def _apply(self, items: list[tuple[str, Share]]) -> None:
        missing: dict[str, list[bytes]] = {}
        for start in range(0, len(items), _APPLY_CHUNK):
            chunk = items[start : start + _APPLY_CHUNK]
            results = self.intake.add_all([share for _, share in chunk], ShareSource(SourceKind.SYNC))
            for (peer, _), result in zip(chunk, results, strict=True):
                if sender_at_fault(result):
                    self.hooks.penalize(peer, Offense.INVALID_SHARE, f"invalid share in sync: {result.error}")
                missing.setdefault(peer, []).extend(result.missing)
            self.hooks.changed()
            await trio.lowlevel.checkpoint()
        # Uncles (or parents) the synced shares name but the inventory did not list.
        for peer, hashes in missing.items():
            if hashes:
                await self.fetch_parents(peer, tuple(hashes))

    # --- parents of a gossiped share ------------------------------------------------------------------
    async def fetch_parents(self, peer: str, missing: tuple[bytes, ...]) -> bool:
        """Fetch ``missing`` (and their own missing parents, a few levels deep) from ``peer``."""
        todo = list(missing)
        for _ in range(self.config.parent_rounds):
            todo = [h for h in dict.fromkeys(todo) if h not in self.chain][:MAX_BY_HASH]
            if not todo:
                return True
            try:
                reply = await self.request(peer, GetSharesByHash(tuple(todo)))
            except RequestFailed:
                return False
            assert isinstance(reply, Shares)
            shares = self.check_batch(peer, reply.shares, set(todo))
            if not shares:
                return False
            todo = []
            try:
                results = self.intake.add_all(shares, ShareSource(SourceKind.SYNC, peer=peer))
            except StoreWriteError:
                return False  # not kept, so not relayed; the intake logged why
            for result in results:
                if sender_at_fault(result):
                    self.hooks.penalize(peer, Offense.INVALID_SHARE, f"invalid parent share: {result.error}")
                if result.status is AddStatus.INVALID:
                    return False
                todo += result.missing
            self.hooks.changed()
        # Deeper than a few levels: a full sync with that peer.
        self.tips.pop(peer, None)
        await self.poll_tip(peer)
        return all(h in self.chain for h in missing)


def _unsupported(exc: BaseException) -> bool:
    """Whether opening a stream failed because the peer does not speak the protocol (another network)."""
    cause = exc.__cause__
    if isinstance(cause, ProtocolNotSupportedError):
        return True
    return isinstance(cause, MultiselectClientError) and "not supported" in str(cause)
