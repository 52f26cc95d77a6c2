"""Builds the Stratum job for one payout script and turns a miner's solution into a share and a block.

The coinbase scriptSig is ``BIP34 height || extranonce1 (4) || extranonce2 (4) || "/otedama/"``; its
outputs are the PPLNS payouts for a share on the current sharechain tip, the share commitment and,
for segwit templates, the witness commitment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from p2pool.chain.template import BlockTemplate
from p2pool.stratum.job import Solution, StratumJob
from sharechain.bitcoin.block import WITNESS_RESERVED_VALUE
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.merkle import coinbase_merkle_branch
from sharechain.bitcoin.script import bip34_height_push
from sharechain.bitcoin.serialize import ser_varint
from sharechain.bitcoin.stratum.work import EXTRANONCE1_SIZE, EXTRANONCE2_SIZE
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import Transaction
from sharechain.chain import ShareChain
from sharechain.coinbase import build_coinbase, coinbase_outputs
from sharechain.pplns import Payout
from sharechain.share import Share, ShareInfo

COINBASE_TAG = b"/otedama/"
EXTRANONCE_SIZE = EXTRANONCE1_SIZE + EXTRANONCE2_SIZE
# Miners may roll ntime this far past the template's current time.
MAX_NTIME_ROLL = 7200


@dataclass(frozen=True)
class JobContext:
    """Everything needed to turn a solution of ``job`` back into a share and a block."""

    job: StratumJob
    template: BlockTemplate
    info: ShareInfo
    payouts: tuple[Payout, ...]


def build_job(chain: ShareChain, template: BlockTemplate, payout_script: bytes, *, now: int, job_id: str,
              clean: bool) -> JobContext:
    info, payouts = chain.prepare(payout_script, now, template.coinbase_value)
    outputs = coinbase_outputs(chain.params, info, payouts, template.witness_commitment)
    height_push = bip34_height_push(template.height)
    script_sig = height_push + b"\x00" * EXTRANONCE_SIZE + COINBASE_TAG
    raw = build_coinbase(script_sig, outputs, segwit=False).serialize(with_witness=False)
    split = 4 + 1 + 36 + len(ser_varint(len(script_sig))) + len(height_push)
    ntime = max(template.curtime, template.mintime)
    job = StratumJob(
        job_id=job_id,
        prev_hash=template.prev_hash,
        coinb1=raw[:split],
        coinb2=raw[split + EXTRANONCE_SIZE:],
        merkle_branch=tuple(coinbase_merkle_branch(template.other_txids())),
        version=template.version,
        bits=template.bits,
        ntime=ntime,
        min_ntime=template.mintime,
        max_ntime=ntime + MAX_NTIME_ROLL,
        clean=clean,
        share_target=bits_to_target(info.share_bits),
        block_target=template.target,
    )
    return JobContext(job, template, info, tuple(payouts))


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


