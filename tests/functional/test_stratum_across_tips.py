"""Miners keep working across new sharechain tips without reconnecting; clean_jobs is true only when
the Bitcoin block changes (checked on the wire). A cpuminer-style client and the built-in miner mine
on one node (in-process, its own dev chain, real TCP Stratum) through several share tips and blocks."""

from __future__ import annotations

import itertools

import trio

from miner.miner import Miner, MinerConfig, run_miner
from p2pool.config import node_config
from p2pool.node import Node
from sharechain.bitcoin.address import encode_segwit
from sharechain.bitcoin.hashing import hash160
from sharechain.bitcoin.target import target_from_work, target_to_bits
from sharechain.params import DEVNET
from tests.functional.cpuminer_style import CpuminerStyle
from tests.functional.federation import wait_for


def address(tag: bytes) -> str:
    return encode_segwit(DEVNET.address_format.bech32_hrp, 0, hash160(tag))


async def test_share_tips_bring_work_without_clean_jobs_and_miners_stay_connected(tmp_path):
    # Blocks of about 2^25 hashes against shares of 2^22-2^24: several share tips between blocks.
    config = node_config(network="devnet", datadir=str(tmp_path / "node"), stratum="127.0.0.1:0", api="127.0.0.1:0",
                         no_p2p=True, no_miner=True, stratum_submit_interval=2.0,
                         devchain_bits=f"{target_to_bits(target_from_work(1 << 25)):08x}")
    node = Node(config)
    async with trio.open_nursery() as nursery:
        endpoints = await nursery.start(node.run)
        cpuminer = CpuminerStyle(endpoints.stratum_port, address(b"cpuminer"))
        nursery.start_soon(cpuminer.run)
        miner: Miner = await nursery.start(run_miner, MinerConfig(
            url=f"stratum+tcp://127.0.0.1:{endpoints.stratum_port}", user=address(b"built-in"), threads=1,
            kernel="numba", report_interval=3600))
        assert node.chain is not None and node.found is not None
        start = len(node.chain)

        def enough() -> bool:
            tips = sum(1 for n in cpuminer.notifies[1:] if not n.clean)
            return tips >= 5 and len(node.found) >= 2 and cpuminer.accepted >= 5 and miner.accepted >= 5

        await wait_for(enough, "five share tips, two blocks and work accepted from both miners", 240)
        nursery.cancel_scope.cancel()

    notifies = cpuminer.notifies
    assert notifies[0].clean
    for previous, notify in itertools.pairwise(notifies):
        # clean_jobs exactly when the notify's prevhash (the Bitcoin block it builds on) changes.
        assert notify.clean == (notify.prevhash != previous.prevhash), (previous, notify)
    assert len(node.chain) - start >= 5
    assert miner.connections == 1  # the built-in miner never had to reconnect
    # Every refusal names its true reason: stale work (a miner that keeps hashing a job for a while,
    # as cpuminer does, makes some while a fresh chain's tips move fast), never "Job not found".
    assert all(r.startswith("[21, 'Stale share: ") for r in cpuminer.rejected), cpuminer.rejected
