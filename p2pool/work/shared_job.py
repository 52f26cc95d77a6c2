"""The work for one block template and sharechain tip, prepared once and shared by every miner.

:class:`SharedWork` holds what every job of that work has alike (the merkle branch, the coinbase's
scriptSig, the next share's fields and its PPLNS split, in a :class:`~p2pool.stratum.job.JobBase`);
:meth:`SharedWork.job` adds one payout script's part. For a miner with no weight in the PPLNS window
(most miners of a busy node at any one time) the coinbase outputs are the others' alike for all, plus
its own in order, and the share information it commits to differs only by its payout script: such a
job keeps nothing of its own, its coinb2 is put together from the shared parts and its payout script when
needed (with its commitment hash: :class:`NewcomerBase`), so every newcomer of a piece of work gets the same
job object (ten thousand miners keep eight jobs each); a miner with weight gets its whole coinb2. A job
carries its work's :class:`JobWork` (``StratumJob.origin``, one object for every job of the work), so a
solution finds its context for as long as a connection holds the job: no cache to outgrow.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from p2pool.chain.template import BlockTemplate
from p2pool.stratum.job import JobBase, StratumJob
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.merkle import coinbase_merkle_branch
from sharechain.bitcoin.script import bip34_height_push, op_return
from sharechain.bitcoin.serialize import ser_varbytes, ser_varint
from sharechain.bitcoin.stratum.work import EXTRANONCE1_SIZE, EXTRANONCE2_SIZE
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import COINBASE_PREV_INDEX, NULL_HASH
from sharechain.chain import ShareChain
from sharechain.params import NetworkParams
from sharechain.pplns import Payout
from sharechain.prepared import PreparedShare
from sharechain.share import ShareInfo, share_commitment_script

COINBASE_TAG = b"/otedama/"
EXTRANONCE_SIZE = EXTRANONCE1_SIZE + EXTRANONCE2_SIZE
# Miners may roll ntime this far past the template's current time.
MAX_NTIME_ROLL = 7200


@dataclass(frozen=True, slots=True)
class JobWork:
    """What a solution of a job of one piece of work needs beside the job (and its payout script): the
    template and the share it commits to.

    Thousands of connections each hold a few jobs, so a job keeps only references to what it shares (this
    object is its work's, the script the connection's); its share information and payouts are computed
    again (exactly) when a solution needs them."""

    template: BlockTemplate
    share: PreparedShare
    work_id: int = 0  # the node's number for the work, in a Stratum worker process (0 elsewhere)

    def share_and_payouts(self, payout_script: bytes) -> tuple[ShareInfo, list[Payout]]:
        return self.share.for_script(payout_script)


class MerkleBranches:
    """The coinbase merkle branch of the latest template, computed once per template (not per job)."""

    def __init__(self) -> None:
        self._template: BlockTemplate | None = None
        self._branch: tuple[bytes, ...] = ()

    def of(self, template: BlockTemplate) -> tuple[bytes, ...]:
        if template is not self._template:
            self._branch = tuple(coinbase_merkle_branch(template.other_txids()))
            self._template = template
        return self._branch


@dataclass(frozen=True, slots=True, kw_only=True)
class NewcomerBase(JobBase):
    """The shared parts of a newcomer's coinb2: ``head`` (to the output count), the others' serialized
    ``outputs`` (cut at ``offsets[i]`` before the i-th of ``others``), the newcomer's ``amount``, the share
    commitment output up to its hash (``commitment``), then ``tail``; the hash is of the share information's
    bytes ``info_head``, the payout script, ``info_tail``. The newcomers' job keeps nothing of its own (``own``
    is empty) and names no payout script: each miner's coinb2 is made for its own."""

    head: bytes
    outputs: bytes
    offsets: tuple[int, ...]
    others: tuple[Payout, ...]
    amount: int
    commitment: bytes
    tail: bytes
    info_head: bytes
    info_tail: bytes

    def coinb2(self, job: StratumJob, payout_script: bytes) -> bytes:
        if not payout_script:
            raise ValueError("the newcomers' job is shared: its coinb2 is made for a miner's payout script")
        script = ser_varbytes(payout_script)
        cut = self.offsets[bisect.bisect_right(self.others, (payout_script, self.amount))]
        own = self.amount.to_bytes(8, "little") + script if self.amount else b""
        outputs = self.outputs
        committed = sha256d(b"".join((self.info_head, script, self.info_tail)))
        return b"".join((self.head, outputs[:cut], own, outputs[cut:], self.commitment, committed, self.tail))


class SharedWork:
    """Jobs on ``template`` and the chain's tip at ``now``, for any payout script."""

    def __init__(self, params: NetworkParams, template: BlockTemplate, share: PreparedShare,
                 branch: tuple[bytes, ...], work_id: int = 0) -> None:
        self.params = params
        self.work_id = work_id
        self.template = template
        self.share = share
        self.branch = branch
        height_push = bip34_height_push(template.height)
        script_sig = height_push + b"\x00" * EXTRANONCE_SIZE + COINBASE_TAG
        # The coinbase (version 1, no witness) is coinb1 | extranonce1 | extranonce2 | coinb2: coinb1 is the
        # same for every miner; coinb2 is the tag, the sequence, then each miner's own outputs.
        coinb1 = (b"\x01\x00\x00\x00" + ser_varint(1) + NULL_HASH + COINBASE_PREV_INDEX.to_bytes(4, "little")
                  + ser_varint(len(script_sig)) + height_push)
        self._coinb2_head = COINBASE_TAG + (0xFFFFFFFF).to_bytes(4, "little")
        trailer = [] if template.witness_commitment is None else [bytes(8) + ser_varbytes(template.witness_commitment)]
        self._coinb2_tail = b"".join(trailer) + (0).to_bytes(4, "little")  # then the locktime
        self._extra_outputs = 1 + len(trailer)  # the share commitment, the witness commitment
        self._scripts: dict[bytes, bytes] = {}  # payout script -> its length-prefixed bytes
        ntime = max(template.curtime, template.mintime)
        shared = (template.prev_hash, coinb1, branch, template.version, template.bits, ntime, template.mintime,
                  ntime + MAX_NTIME_ROLL, bits_to_target(share.share_bits), template.target)
        self._whole = JobBase(*shared)
        self._newcomers = self._newcomer_base(shared)
        self._origin = JobWork(template, share, work_id)  # every job's of this work
        self._newcomer_job: StratumJob | None = None  # every newcomer's, once asked for

    def _newcomer_base(self, shared: tuple[bytes, bytes, tuple[bytes, ...], int, int, int, int, int, int, int]
                       ) -> NewcomerBase | None:
        newcomer = self.share.split.newcomer(b"")
        if newcomer is None:  # (the empty script has weight: no newcomer base; every job is whole)
            return None
        others, amount = newcomer
        encoded = [amount.to_bytes(8, "little") + self._ser_script(script) for script, amount in others]
        offsets = [0]
        for output in encoded:
            offsets.append(offsets[-1] + len(output))
        count = len(others) + (1 if amount else 0) + self._extra_outputs
        commitment = ser_varbytes(op_return(self.params.network_id + bytes(32)))[:-32]
        # The share information serialized is the same around the payout script for every miner: found from
        # two probes (empty and one-byte scripts) instead of known here.
        empty, one = self.share.info_for(b"").serialize(), self.share.info_for(b"\x00").serialize()
        cut = next(i for i, (a, b) in enumerate(zip(empty, one, strict=False)) if a != b)
        return NewcomerBase(*shared, head=self._coinb2_head + ser_varint(count),
                            outputs=b"".join(encoded), offsets=tuple(offsets), others=others, amount=amount,
                            commitment=bytes(8) + commitment, tail=self._coinb2_tail, info_head=empty[:cut],
                            info_tail=empty[cut + 1:])

    @classmethod
    def prepare(cls, chain: ShareChain, template: BlockTemplate, now: int, branches: MerkleBranches) -> SharedWork:
        return cls(chain.params, template, chain.prepare_shared(now, template.coinbase_value), branches.of(template))

    def job(self, payout_script: bytes, job_id: str, clean: bool) -> StratumJob:
        """The job of a miner paid to ``payout_script``; ``job.origin`` is the work's :class:`JobWork`. A
        newcomer's job is the one every newcomer gets under this id (it names no payout script: coinb2,
        coinbase, notify and context are made with the miner's)."""
        origin = self._origin
        newcomers = self._newcomers
        if newcomers is not None and self.share.split.newcomer(payout_script) is not None:
            shared = self._newcomer_job
            if shared is None or shared.job_id != job_id or shared.clean != clean:
                shared = self._newcomer_job = StratumJob(job_id, newcomers, b"", clean, origin)
            return shared
        info, payouts = self.share.for_script(payout_script)
        return StratumJob(job_id, self._whole, self._coinb2(info, payouts), clean, origin, payout_script)

    def _ser_script(self, script: bytes) -> bytes:
        encoded = self._scripts.get(script)
        if encoded is None:
            encoded = self._scripts[script] = ser_varbytes(script)
        return encoded

    def _coinb2(self, info: ShareInfo, payouts: list[Payout]) -> bytes:
        """The coinbase after the extranonces: what ``sharechain.coinbase`` lays out, serialized directly."""
        parts = [self._coinb2_head, ser_varint(len(payouts) + self._extra_outputs)]
        for script, amount in payouts:
            parts.append(amount.to_bytes(8, "little"))
            parts.append(self._ser_script(script))
        parts.append(bytes(8))
        parts.append(ser_varbytes(share_commitment_script(self.params.network_id, info)))
        parts.append(self._coinb2_tail)
        return b"".join(parts)
