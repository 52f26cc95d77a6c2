"""Found blocks' state in the Bitcoin chain, asked of a real dev chain over JSON-RPC: confirmed with its
depth, orphaned once a heavier branch replaces it, unknown when the backend has never heard of it, and
not asked again once buried deep enough."""

from __future__ import annotations

from dataclasses import replace

from p2pool.chain.block_states import FINAL_DEPTH, BlockStates
from p2pool.chain.rpc import BitcoindClient
from p2pool.devchain.service import DevchainConfig
from sharechain.bitcoin.hashing import hash_to_hex
from tests.fixtures.blocks import block_from_template
from tests.fixtures.devchain import PAYOUT, running_devchain


async def test_confirmed_then_orphaned_and_unknown(tmp_path) -> None:
    config = DevchainConfig(datadir=tmp_path / "devchain", port=0, bits=0x207FFFFF)
    async with running_devchain(config) as port, BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        template = await rpc.get_template()
        ours = block_from_template(template, PAYOUT, tag=b"/ours/")
        assert (await rpc.submit_block(ours.serialize())).accepted
        found = [hash_to_hex(ours.header.hash()), "00" * 32]
        asked: list[str] = []

        async def header(block_hash: str) -> dict:
            asked.append(block_hash)
            return await rpc.getblockheader(block_hash)

        states = BlockStates(header, lambda: found, clock=lambda: 1000.0)
        await states.check()
        assert states.get(found[0]).as_dict() == {"state": "confirmed", "confirmations": 1, "checked": 1000.0}
        assert states.get(found[1]).state == "unknown"  # the backend does not know it

        bare = replace(template, transactions=(), witness_commitment=None,
                       coinbase_value=template.coinbase_value - template.total_fees())
        rival = block_from_template(bare, PAYOUT, tag=b"/rival/")
        await rpc.submit_block(rival.serialize())  # a side branch of equal work: ours stays the tip
        assert await rpc.getbestblockhash() == found[0]
        heavier = block_from_template(replace(bare, prev_hash=rival.header.hash(), height=2), PAYOUT,
                                      timestamp=bare.curtime + 1, tag=b"/rival/")
        assert (await rpc.submit_block(heavier.serialize())).accepted
        assert await rpc.getbestblockhash() == hash_to_hex(heavier.header.hash())
        await states.check()
        assert states.get(found[0]).state == "orphaned" and states.get(found[0]).confirmations == 0

        found.append(hash_to_hex(heavier.header.hash()))
        for _ in range(FINAL_DEPTH - 1):
            block = block_from_template(await rpc.get_template(), PAYOUT)
            assert (await rpc.submit_block(block.serialize())).accepted
        await states.check()
        assert states.get(found[2]).confirmations == FINAL_DEPTH
        asked.clear()
        await states.check()
        assert asked == found[:2]  # a block buried FINAL_DEPTH deep is not asked about again
