"""A node with no sharechain (or one its peers have pruned past) joins from a recent share.

It asks its best few peers for their join plans, checks every plan headers first (proof of work of
all entries in one kernel batch, the plan's shape: :mod:`p2pool.p2p.join`), follows the plan with
the most proof of work, downloads its shares in batches from every peer on that chain, and applies
them in order through the share intake: the context part checked alone (its context is not kept by
anyone, that is what it takes on trust), every share above validated in full. It mines as soon as
it is in sync, like any node that caught up.
"""

from __future__ import annotations

import enum
import gc
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from p2pool.events import ShareSource, SourceKind
from p2pool.intake import ShareIntake
from p2pool.p2p.blame import sender_at_fault
from p2pool.p2p.join import CheckedPlan, PlanRefused, Verify, check_plan, pick_plan
from p2pool.p2p.messages import GetJoin, GetSharesByHash, JoinPlan, Shares
from p2pool.p2p.request import RequestFailed, Requests
from p2pool.p2p.scoring import Offense
from p2pool.p2p.share_checker import CheckProcess
from p2pool.p2p.sync import DownloadPlan
from p2pool.storage.share_store import StoreWriteError
from sharechain.bitcoin.serialize import ParseError
from sharechain.chain import MissingClaim, ShareChain
from sharechain.params import NetworkParams
from sharechain.share import Share
from sharechain.validation import StandaloneVerdict

log = logging.getLogger("otedama.p2p.join")


@dataclass(frozen=True)
class JoinConfig:
    candidates: int = 3  # peers whose plans are compared
    batch_size: int = 1000  # shares per GetSharesByHash
    per_peer: int = 3  # batches in flight per peer
    timeout: float = 20.0
    apply_chunk: int = 250  # shares per write (small: the muxer reads the next batches in between)
    # Shares decoded and checked alone in a second process (p2pool/p2p/check_worker.py) while this one
    # validates the shares before them: about a third of the joining process's work moved to another
    # core. Off by default: on this 2-core machine it shortened no join (the seed shares the core), and
    # with it on, test_p2p_sync_drop's fall-back-and-rejoin case fails (the returning peer's dial is
    # refused in the Noise handshake; not understood yet).
    check_process: bool = False


@dataclass(frozen=True)
class JoinHooks:
    penalize: Callable[[str, Offense, str], None]
    good: Callable[[str], None]
    changed: Callable[[], None]


class JoinOutcome(enum.Enum):
    JOINED = "joined"
    FAILED = "failed"  # no usable plan, or one abandoned half-way (the chain was reset)
    NOT_NEEDED = "not needed"  # the best plan still holds our tip


class JoinAborted(Exception):
    """The plan could not be followed to the end (the chain was reset; a later round tries again)."""


@dataclass
class JoinReport:
    """What the last join did (for logs, the status and the tests)."""

    peer: str = ""
    planned: int = 0  # shares in the plan followed
    downloaded: int = 0
    lowest: int = 0
    seconds: float = 0.0
    checked_elsewhere: int = 0  # shares the checking process gave a verdict on


# A downloaded share: who sent it, the share, and the checking process's verdict on it (None: none).
Downloaded = tuple[str, Share, StandaloneVerdict | None]


class Joiner:
    def __init__(self, requests: Requests, chain: ShareChain, intake: ShareIntake, params: NetworkParams,
                 hooks: JoinHooks, verify: Verify, config: JoinConfig = JoinConfig()) -> None:
        self.requests = requests
        self.chain = chain
        self.intake = intake
        self.params = params
        self.hooks = hooks
        self.verify = verify
        self.config = config
        self.last: JoinReport | None = None

    async def join(self, candidates: list[str]) -> JoinOutcome:
        """Join from the best plan of ``candidates`` (ordered by the work they announced)."""
        started = time.perf_counter()
        # Tens of thousands of new objects (the plans' entries, then the shares), none in a cycle: the
        # cyclic collector would rescan them over and over while they are made (as on a restart,
        # :func:`p2pool.storage.loader.load_chain`).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return await self._join(candidates, started)
        finally:
            if collecting:
                gc.enable()

    async def _join(self, candidates: list[str], started: float) -> JoinOutcome:
        plans = await self._plans(candidates[: self.config.candidates])
        if not plans:
            return JoinOutcome.FAILED
        best = pick_plan(plans)
        tip = self.chain.tip
        if tip is not None and (tip.height >= best.lowest or tip.hash in best.entries):
            return JoinOutcome.NOT_NEEDED  # the plan still holds our tip: an ordinary sync connects
        log.info("joining from %s: %d shares from height %d to the tip at %d (%d plans compared)",
                 best.peer[-8:], len(best.hashes), best.lowest, best.tip_height, len(plans))
        if len(self.chain):
            self.intake.reset()
        if best.lowest > 0:
            self.chain.begin_join(best.lowest)
        sources = [p.peer for p in plans if p is best or best.tip in set(p.main)]
        report = JoinReport(best.peer, len(best.hashes), lowest=best.lowest)
        try:
            if self.config.check_process:
                async with CheckProcess(self.params) as checker:
                    await self._download(best, sources, report, checker)
                report.checked_elsewhere = checker.checked
            else:
                await self._download(best, sources, report, None)
        except JoinAborted as exc:
            log.warning("join from %s abandoned: %s", best.peer[-8:], exc)
            self.intake.reset()
            return JoinOutcome.FAILED
        report.seconds = time.perf_counter() - started
        self.last = report
        log.info("joined: %d shares in %.2f s (%.0f shares/s), tip at height %s", report.downloaded,
                 report.seconds, report.downloaded / max(report.seconds, 1e-9),
                 self.chain.tip.height if self.chain.tip else "-")
        return JoinOutcome.JOINED if best.tip in self.chain else JoinOutcome.FAILED

    async def _plans(self, peers: list[str]) -> list[CheckedPlan]:
        found: dict[str, CheckedPlan] = {}

        async def fetch(peer: str) -> None:
            try:
                reply = await self.requests.request(peer, GetJoin())
            except RequestFailed:
                return
            assert isinstance(reply, JoinPlan)
            try:
                found[peer] = check_plan(peer, reply, self.params, self.verify)
            except PlanRefused as exc:
                self.hooks.penalize(peer, exc.offense, str(exc))
            else:
                self.hooks.good(peer)

        async with trio.open_nursery() as nursery:
            for peer in peers:
                nursery.start_soon(fetch, peer)
        return [found[p] for p in peers if p in found]

    async def _download(self, plan: CheckedPlan, sources: list[str], report: JoinReport,
                        checker: CheckProcess | None) -> None:
        config = self.config
        download = DownloadPlan[Downloaded](config.batch_size, config.per_peer, config.timeout)
        download.add_inventory(plan.hashes)
        done_send, done_recv = trio.open_memory_channel[None](math.inf)
        # Raised after the nursery, not in it: trio would wrap it in an exception group, which the
        # caller's ``except JoinAborted`` (the fall-back to a clean chain) would never see.
        failure: Exception | None = None
        async with trio.open_nursery() as nursery:
            while not download.idle:
                if download.stalled:
                    failure = JoinAborted("no peer delivered every share of the plan")
                    break
                for request in download.assign(sources, trio.current_time()):
                    nursery.start_soon(self._fetch, plan, download, request.peer, request.number, request.hashes,
                                       done_send, checker)
                ready = download.release()
                if ready:
                    report.downloaded += len(ready)
                    try:
                        await self._apply(plan, ready)
                    except (JoinAborted, StoreWriteError) as exc:
                        failure = exc
                        break
                    continue
                with trio.move_on_after(0.5):
                    await done_recv.receive()
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _fetch(self, plan: CheckedPlan, download: DownloadPlan[Downloaded], peer: str, number: int,
                     hashes: tuple[bytes, ...], done: trio.MemorySendChannel[None], checker: CheckProcess | None) -> None:
        try:
            reply = await self.requests.request(peer, GetSharesByHash(hashes))
        except RequestFailed:
            download.failed(peer, number)
        else:
            assert isinstance(reply, Shares)
            verdicts = await checker.check(reply.shares) if checker is not None else None
            shares: list[tuple[Share, StandaloneVerdict | None]] | None
            if verdicts is None:
                # Their headers' proof of work was checked with the plan (and each share's hash is its header's).
                parsed = self.requests.check_batch(peer, reply.shares, set(hashes), pow_checked=True)
                shares = None if parsed is None else [(s, None) for s in parsed]
            else:
                shares = self._checked_batch(peer, reply.shares, verdicts, set(hashes))
            if shares is None:
                download.failed(peer, number)
            elif not all(plan.matches(s.hash, s.info) for s, _ in shares):
                self.hooks.penalize(peer, Offense.PROTOCOL_VIOLATION, "a share that differs from its join plan entry")
                download.failed(peer, number)
            else:
                download.received(peer, number, {s.hash: (peer, s, verdict) for s, verdict in shares})
                self.hooks.good(peer)
        done.send_nowait(None)

    def _checked_batch(self, peer: str, raws: tuple[bytes, ...], verdicts: list[StandaloneVerdict | str],
                       wanted: set[bytes]) -> list[tuple[Share, StandaloneVerdict | None]] | None:
        """The shares of a batch the checking process read (None, and a penalty, as
        :meth:`SyncClient.check_batch` gives: a share that does not decode, or one not asked for)."""
        unreadable = next((v for v in verdicts if isinstance(v, str)), None)
        if unreadable is not None:
            self.hooks.penalize(peer, Offense.MALFORMED_MESSAGE, f"unreadable share: {unreadable}")
            return None
        readable = [v for v in verdicts if not isinstance(v, str)]
        shares: list[tuple[Share, StandaloneVerdict | None]]
        try:
            shares = [(Share.parse_lazily(raw), verdict) for raw, verdict in zip(raws, readable, strict=True)]
        except ParseError as exc:  # (the process read them whole: not seen)
            self.hooks.penalize(peer, Offense.MALFORMED_MESSAGE, f"unreadable share: {exc}")
            return None
        if any(s.hash not in wanted for s, _ in shares):
            self.hooks.penalize(peer, Offense.PROTOCOL_VIOLATION, "sent shares that were not asked for")
            return None
        return shares

    async def _apply(self, plan: CheckedPlan, items: list[Downloaded]) -> None:
        top = plan.context_top(self.params)
        source = ShareSource(SourceKind.SYNC)
        for start in range(0, len(items), self.config.apply_chunk):
            chunk = items[start : start + self.config.apply_chunk]
            context = [share for _, share, _ in chunk if share.info.height <= top]
            rest = chunk[len(context):]
            if context:
                try:
                    results = self.intake.add_context(context, plan.claims, source,
                                                      [verdict for _, _, verdict in chunk[: len(context)]])
                except MissingClaim as exc:
                    self.hooks.penalize(plan.peer, Offense.PROTOCOL_VIOLATION, str(exc))
                    raise JoinAborted(str(exc)) from None
                if any(sender_at_fault(r) for r in results):
                    self.hooks.penalize(plan.peer, Offense.INVALID_SHARE, "an invalid share in its join plan")
                    raise JoinAborted("an invalid context share")
            if rest:
                results = self.intake.add_all([share for _, share, _ in rest], source,
                                              [verdict for _, _, verdict in rest])
                for (peer, _, _), result in zip(rest, results, strict=True):
                    if sender_at_fault(result):
                        self.hooks.penalize(peer, Offense.INVALID_SHARE, f"invalid share in a join: {result.error}")
                        raise JoinAborted(f"an invalid share: {result.error}")
            self.hooks.changed()
            await trio.lowlevel.checkpoint()
