"""Jobs built from :class:`SharedWork` are byte for byte what the generic coinbase layout gives, and
their notify lines what the JSON codec gives (random chains, templates with and without a witness
commitment, many payout scripts): a newcomer's job, which keeps nothing of its own and puts its coinb2
together for the miner's payout script when asked, as much as a job built whole; every newcomer of a piece
of work gets the same job."""

from __future__ import annotations

import dataclasses
import random

import pytest

from p2pool.chain.template import BlockTemplate
from p2pool.stratum.job import JobBase, encode_notify, notify_line, notify_params
from p2pool.work.job_builder import JobContext
from p2pool.work.shared_job import COINBASE_TAG, EXTRANONCE_SIZE, MerkleBranches, NewcomerBase, SharedWork
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.script import bip34_height_push
from sharechain.bitcoin.stratum import codec as p
from sharechain.chain import ShareChain
from sharechain.coinbase import build_coinbase, coinbase_outputs
from sharechain.result import AddStatus
from tests.sharechain.miner import TEST_PARAMS, mine_on, script

T0 = 1_700_000_000


def _template(rng: random.Random, witness: bool, value: int | None = None) -> BlockTemplate:
    commitment = bytes.fromhex("6a24aa21a9ed") + rng.randbytes(32) if witness else None
    value = rng.randrange(0, 50 * 10**8) if value is None else value
    return BlockTemplate(0x20000000, rng.randbytes(32), 0x207FFFFF, 2**250, rng.randrange(1, 10**6), T0, T0 - 60,
                         value, (), commitment, None)


# Seeds 0-11: random coinbase values; 12-13: a value of 0 (no output for a newcomer); 14-15: a value so
# small that the dust limit drops payees; 16-17 a window capped at 3 payouts.
@pytest.mark.parametrize("seed", range(18))
def test_shared_jobs_are_the_generic_coinbase_and_notify(seed: int) -> None:
    rng = random.Random(seed)
    params = dataclasses.replace(TEST_PARAMS, max_payouts=3) if seed >= 16 else TEST_PARAMS
    chain = ShareChain(params)
    now = T0
    for _ in range(rng.randrange(0, 14) if seed < 12 else 10):
        now += rng.randrange(1, 20)
        assert chain.add(mine_on(chain, rng.randrange(5), now), now=now).status is AddStatus.ADDED
    value = 0 if seed in (12, 13) else 2500 if seed in (14, 15) else None
    template = _template(rng, witness=seed % 2 == 0, value=value)
    work = SharedWork.prepare(chain, template, now, MerkleBranches())
    script_sig = bip34_height_push(template.height) + b"\x00" * EXTRANONCE_SIZE + COINBASE_TAG
    kinds = set()
    newcomer_jobs = set()
    for miner in [0, 1, 2, 3, 4, *rng.sample(range(5, 256), 12)]:
        payout = script(miner)
        job = work.job(payout, "1f", clean=seed % 2 == 0)
        kinds.add(type(job.base))
        context = JobContext.of(job, payout)
        assert context is not None
        if isinstance(job.base, NewcomerBase):
            assert job.own == b"" and job.payout_script == b""  # nothing of its own: coinb2 made for the miner
            newcomer_jobs.add(id(job))
            with pytest.raises(ValueError, match="shared"):
                _ = job.coinb2
        else:
            assert job.own == job.coinb2 == job.coinb2_for(payout) and job.payout_script == payout
        assert (context.info, list(context.payouts)) == chain.prepare(payout, now, template.coinbase_value)
        outputs = coinbase_outputs(params, context.info, list(context.payouts), template.witness_commitment)
        expected = build_coinbase(script_sig, outputs, segwit=False).serialize(with_witness=False)
        assert job.coinb1 + bytes(EXTRANONCE_SIZE) + job.coinb2_for(payout) == expected
        for wire_id, clean in ((job.job_id, job.clean), (f"{job.job_id}.1", True), ('odd"id\\', False)):
            line = p.encode_notification("mining.notify", notify_params(job, wire_id, clean, payout))
            assert encode_notify(job, wire_id, clean, payout) == line == notify_line(job, wire_id, clean, payout)
    assert len(newcomer_jobs) <= 1  # one job for every newcomer of the work
    # both kinds were checked: the miners of the chain's shares have weight, the others are newcomers
    assert kinds == ({JobBase, NewcomerBase} if chain.tip is not None else {NewcomerBase})


def test_a_merkle_branch_is_computed_once_per_template() -> None:
    rng = random.Random(1)
    branches = MerkleBranches()
    template = _template(rng, witness=False)
    assert branches.of(template) is branches.of(template) == ()
    assert sha256d(b"") != b""  # (the dev templates carry no transactions: an empty branch)
