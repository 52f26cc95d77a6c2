"""The work provider across sharechain tips and Bitcoin blocks, with real parts: a dev chain served
on 127.0.0.1 (every hash is a block there), the share store, intake and block submitter.

A tip moves: miners get new work without clean_jobs, and a solution of the earlier job still joins
(a side share, later an uncle). Too deep for an uncle, or on another Bitcoin block: refused as stale,
with the reason; a job id never issued: "Job not found". A block is never refused for its share."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from kernels.factory import make_scanner
from p2pool.chain.backend import SubmitResult
from p2pool.chain.events import TemplateChanged
from p2pool.chain.rpc import BitcoindClient
from p2pool.chain.template import BlockTemplate
from p2pool.devchain.service import DevchainConfig
from p2pool.event_bus import EventBus
from p2pool.events import NewWork, ShareSource, SourceKind, TipChanged
from p2pool.intake import ShareIntake
from p2pool.storage.share_store import ShareStore
from p2pool.stratum.job import Solution, StratumJob, build_coinbase, build_header
from p2pool.work.found_blocks import FoundBlocks
from p2pool.work.provider import WorkProvider
from p2pool.work.submitter import BlockSubmitter
from sharechain.bitcoin.hashing import sha256d
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from tests.fixtures.devchain import running_devchain
from tests.functional.sharegen import make_chain, payout_script

SCRIPT = payout_script(9)
SCANNER = make_scanner("numba", threads=1)
EN1 = bytes.fromhex("0badcafe")


class Recording:
    """The dev chain over RPC, keeping every block handed to it (all but the first on one template are
    side blocks there: delivered, not connected)."""

    def __init__(self, rpc: BitcoindClient) -> None:
        self.rpc = rpc
        self.blocks: list[bytes] = []

    async def get_template(self) -> BlockTemplate:
        return await self.rpc.get_template()

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        return await self.rpc.wait_for_template(longpollid)

    async def submit_block(self, block: bytes) -> SubmitResult:
        self.blocks.append(block)
        return await self.rpc.submit_block(block)


@dataclass
class Parts:
    chain: ShareChain
    work: WorkProvider
    found: FoundBlocks
    rpc: Recording
    new_work: list[bool]


@asynccontextmanager
async def parts(root: Path) -> AsyncIterator[Parts]:
    async with running_devchain(DevchainConfig(datadir=root / "devchain", port=0, bits=0x207FFFFF)) as port, \
            BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        with ShareStore(root / "sharechain", DEVNET) as store:
            bus, chain, backend = EventBus(), ShareChain(DEVNET), Recording(rpc)
            intake = ShareIntake(chain, store, bus.publish, time.time)
            found = FoundBlocks(store)
            submitter = BlockSubmitter(backend, found, DEVNET.address_format, bus.publish, time.time)
            work = WorkProvider(DEVNET, chain, intake, submitter, bus.publish, time.time)
            new_work: list[bool] = []
            bus.subscribe(TipChanged, work.on_tip_changed)
            bus.subscribe(NewWork, lambda event: new_work.append(event.clean))
            intake.add_all(make_chain(6), ShareSource(SourceKind.SYNC))
            work.on_template(TemplateChanged(await rpc.get_template(), new_block=True))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(submitter.run)
                yield Parts(chain, work, found, backend, new_work)
                nursery.cancel_scope.cancel()


def solve(job: StratumJob, extranonce2: int = 0) -> Solution:
    """A solution of ``job`` that meets its share target (found by the Numba kernel)."""
    en2 = extranonce2.to_bytes(4, "big")
    coinbase = build_coinbase(job, EN1, en2)
    header76 = build_header(job, coinbase, job.ntime, 0, job.version)[:76]
    nonce = SCANNER.scan(header76, job.share_target, 0, 1 << 30).nonces[0]
    header = header76 + nonce.to_bytes(4, "little")
    return Solution(job, "miner", SCRIPT, EN1, en2, job.ntime, nonce, job.version, header, coinbase, sha256d(header))


async def blocks(parts: Parts, count: int) -> None:
    """Until ``count`` blocks were delivered to the chain backend."""
    with trio.fail_after(20):
        while len(parts.rpc.blocks) < count:
            await trio.sleep(0.01)


async def test_a_solution_of_the_previous_tip_joins_as_a_side_share(tmp_path):
    async with parts(tmp_path) as p:
        first = p.work.job_for(SCRIPT)
        assert first is not None and first.clean
        share = solve(first)
        assert p.work.take(share) is None
        assert p.new_work[-1] is False  # a new tip: new work, but keep hashing the old (no clean_jobs)
        second = p.work.job_for(SCRIPT)
        assert second is not None and second.job_id != first.job_id and not second.clean
        late = solve(first, extranonce2=1)  # still on the job before the tip moved
        assert p.work.take(late) is None
        record, sibling = p.chain.get(late.hash), p.chain.get(share.hash)
        assert record is not None and sibling is not None and record.prev_hash == sibling.prev_hash
        await blocks(p, 2)  # every solution here was also a block, and both were delivered
        with trio.fail_after(20):  # the dev chain connected the first; the second was its sibling
            while len(p.found) < 1:
                await trio.sleep(0.01)


async def test_stale_work_is_refused_with_its_reason_and_a_block_still_counts(tmp_path):
    async with parts(tmp_path) as p:
        old = p.work.job_for(SCRIPT)
        assert old is not None
        for i in range(DEVNET.uncle_depth + 1):  # the tip moves past what an uncle of old could be
            job = p.work.job_for(SCRIPT)
            assert job is not None and p.work.take(solve(job, extranonce2=100 + i)) is None
        refused = p.work.take(solve(old))
        assert refused is not None and (refused.code, refused.reason) == (21, "stale-share")
        assert refused.message.startswith("Stale share: the job is 4 shares behind")
        await blocks(p, DEVNET.uncle_depth + 2)  # ... but its block was submitted all the same
        never = p.work.unknown_job("7fffffff")
        assert (never.code, never.reason, never.message) == (21, "job-not-found", "Job not found")
        assert p.work.unknown_job("not-hex").reason == "job-not-found"
        # Another Bitcoin block: every earlier job is stale, and says so.
        p.work.on_template(TemplateChanged(await p.rpc.get_template(), new_block=True))
        assert p.new_work[-1] is True
        stale = p.work.take(solve(old, extranonce2=7))
        assert stale is not None and stale.reason == "stale-block"
        assert stale.message == "Stale share: the job was for a previous Bitcoin block"
        assert p.work.unknown_job(old.job_id).reason == "stale-block"
