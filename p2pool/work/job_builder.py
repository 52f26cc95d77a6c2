"""Turns a miner's solution into a share and a block (the jobs themselves: :mod:`p2pool.work.shared_job`).

The coinbase scriptSig is ``BIP34 height || extranonce1 (4) || extranonce2 (4) || "/otedama/"``; its
outputs are the PPLNS payouts for a share on the current sharechain tip, the share commitment and,
for segwit templates, the witness commitment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from p2pool.chain.template import BlockTemplate
from p2pool.stratum.job import Solution, StratumJob
from p2pool.work.shared_job import JobWork, MerkleBranches, SharedWork
from sharechain.bitcoin.block import WITNESS_RESERVED_VALUE
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.transaction import Transaction
from sharechain.chain import ShareChain
from sharechain.pplns import Payout
from sharechain.share import Share, ShareInfo


@dataclass(frozen=True)
class JobContext:
    """Everything needed to turn a solution of ``job`` back into a share and a block."""

    job: StratumJob
    template: BlockTemplate
    info: ShareInfo
    payouts: tuple[Payout, ...]

    @classmethod
    def of(cls, job: StratumJob, payout_script: bytes | None = None) -> JobContext | None:
        """The context a job of ours carries for a miner paid to ``payout_script`` (None: the job's own
        script); None for a job that is not one of ours."""
        work = job.origin
        if not isinstance(work, JobWork):
            return None
        info, payouts = work.share_and_payouts(job.script_for(payout_script))
        return cls(job, work.template, info, tuple(payouts))


def build_job(chain: ShareChain, template: BlockTemplate, payout_script: bytes, *, now: int, job_id: str,
              clean: bool) -> JobContext:
    """One job on its own (the provider shares :class:`SharedWork` between every payout script)."""
    job = SharedWork.prepare(chain, template, now, MerkleBranches()).job(payout_script, job_id, clean)
    context = JobContext.of(job)
    assert context is not None
    return context


def share_from_solution(context: JobContext, solution: Solution) -> Share:
    coinbase = Transaction.parse(solution.coinbase)
    return Share.create(BlockHeader.parse(solution.header), coinbase, context.job.merkle_branch, context.info)


def block_from_solution(context: JobContext, solution: Solution) -> bytes:
    """The full block for ``submitblock``; segwit coinbases get the witness reserved value."""
    coinbase = Transaction.parse(solution.coinbase)
    if context.template.witness_commitment is not None:
        (txin,) = coinbase.inputs
        coinbase = replace(coinbase, inputs=(replace(txin, witness=(WITNESS_RESERVED_VALUE,)),))
    return context.template.block_bytes(solution.header, coinbase)
