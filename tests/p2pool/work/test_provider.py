"""The work provider across sharechain tips and Bitcoin blocks, with real parts: a dev chain served
on 127.0.0.1 (every hash is a block there), the share store, intake and block submitter.

A tip moves: miners get new work without clean_jobs, and a solution of the earlier job still joins
(a side share, later an uncle). Too deep for an uncle, or on another Bitcoin block: refused as stale,
with the reason; a job id never issued: "Job not found". A block is never refused for its share."""

from __future__ import annotations

import trio

from p2pool.chain.events import TemplateChanged
from p2pool.events import TipChanged
from p2pool.storage.loader import load_chain
from p2pool.storage.share_store import ShareStore
from p2pool.stratum.job import Solution, StratumJob
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.script import witness_program
from sharechain.params import DEVNET
from tests.fixtures.full_disk import fill, small_filesystem
from tests.fixtures.solve import solve_job
from tests.fixtures.work_parts import Parts, parts
from tests.functional.sharegen import payout_script

SCRIPT = payout_script(9)


def solve(job: StratumJob, extranonce2: int = 0) -> Solution:
    """A solution of ``job`` that meets its share target (found by the Numba kernel)."""
    return solve_job(job, SCRIPT, extranonce2)


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


async def test_a_full_disk_refuses_the_share_but_still_delivers_and_keeps_its_block(tmp_path):
    with small_filesystem(tmp_path / "disk") as disk:
        async with parts(tmp_path, disk / "sharechain") as p:
            tip = p.chain.tip
            job = p.work.job_for(SCRIPT)
            assert job is not None
            filler = fill(disk)
            refused = None
            for i in range(50):  # the last page of LevelDB's log may take a share or two
                refused = p.work.take(solve(job, extranonce2=200 + i))
                if refused is not None:
                    break
                tip, job = p.chain.tip, p.work.job_for(SCRIPT)
                assert job is not None
            assert refused is not None and refused.reason == "store-unwritable"
            assert refused.message.startswith("Share not stored, the node refuses shares: ")
            assert "No space left on device" in refused.message
            assert p.chain.tip is not None and tip is not None and p.chain.tip.hash == tip.hash
            delivered = i + 1
            await blocks(p, delivered)  # the block went to the chain backend all the same
            with trio.fail_after(20):  # ... and is listed, though not on disk yet
                while not p.found.unwritten:
                    await trio.sleep(0.01)
            filler.unlink()
            assert p.intake.recover()
            assert not p.found.unwritten
            found = {b.hash for b in p.found.all()}
        with ShareStore(disk / "sharechain", DEVNET) as store:
            assert {b["hash"] for b in store.blocks()} == found
            assert load_chain(store, DEVNET).tip.hash == tip.hash


async def test_a_solution_is_taken_whatever_the_number_of_miners_and_of_new_work_since(tmp_path):
    """More payout addresses than any cache the node had (4,096 contexts) and more pieces of new work
    than it kept (64 per block): a job a connection still holds is still taken, as a block."""
    async with parts(tmp_path) as p:
        oldest = p.work.job_for(SCRIPT)
        assert oldest is not None
        scripts = [witness_program(0, sha256d(b"many" + i.to_bytes(4, "big"))[:20]) for i in range(5000)]
        jobs = [p.work.job_for(script) for script in scripts]
        assert all(job is jobs[0] for job in jobs)  # one job for every newcomer of the work: no per-miner copy ...
        assert len({job.coinb2_for(script) for job, script in zip(jobs, scripts, strict=True) if job}) == 5000  # ... own coinb2
        assert {job.job_id for job in jobs if job is not None} == {oldest.job_id}  # (one id a piece of work)
        tip = p.chain.tip
        assert tip is not None
        for _ in range(70):
            p.work.on_tip_changed(TipChanged(tip, 0))
            assert p.work.job_for(scripts[0]) is not None
        refused = p.work.take(solve(oldest))
        assert refused is None  # the tip has not moved: still a share on it
        await blocks(p, 1)
        first = jobs[0]
        assert first is not None and p.work.take(solve(first, extranonce2=3)) is None
        await blocks(p, 2)
