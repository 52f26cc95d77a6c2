"""Block submission runs in a task of its own: while bitcoind fails and is retried, the miner that
found the block gets its answers (and new work) at once. Real parts over real TCP: a dev chain served
on 127.0.0.1, the share store, intake, work provider, block submitter and Stratum server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from p2pool.chain.backend import ChainUnavailable, SubmitResult
from p2pool.chain.events import TemplateChanged
from p2pool.chain.monitor import TemplateMonitor
from p2pool.chain.rpc import BitcoindClient
from p2pool.chain.template import BlockTemplate
from p2pool.devchain.service import DevchainConfig
from p2pool.event_bus import EventBus
from p2pool.events import NewWork, TipChanged
from p2pool.intake import ShareIntake
from p2pool.storage.share_store import ShareStore
from p2pool.stratum.server import StratumConfig, StratumServer
from p2pool.work.found_blocks import FoundBlocks
from p2pool.work.provider import WorkProvider
from p2pool.work.submitter import BlockSubmitter, SubmitterConfig
from sharechain.bitcoin.stratum.work import coinbase_bytes, header_bytes, merkle_root_from_branch, swap_words
from sharechain.bitcoin.target import bits_to_target
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from tests.fixtures.devchain import running_devchain
from tests.p2pool.stratum.stratum_vector import USER, LineClient, grind


class FlakyBitcoind:
    """The real dev chain over RPC, except that ``submitblock`` fails twice, then waits for ``release``."""

    def __init__(self, rpc: BitcoindClient) -> None:
        self.rpc = rpc
        self.attempts = 0
        self.release = trio.Event()

    async def get_template(self) -> BlockTemplate:
        return await self.rpc.get_template()

    async def wait_for_template(self, longpollid: str) -> BlockTemplate:
        return await self.rpc.wait_for_template(longpollid)

    async def submit_block(self, block: bytes) -> SubmitResult:
        self.attempts += 1
        if self.attempts <= 2:
            raise ChainUnavailable("http://127.0.0.1", "connection refused (test outage)")
        await self.release.wait()
        return await self.rpc.submit_block(block)


@dataclass
class Mining:
    backend: FlakyBitcoind
    found: FoundBlocks
    chain: ShareChain
    stratum_port: int


@asynccontextmanager
async def mining_parts(root: Path) -> AsyncIterator[Mining]:
    chain_config = DevchainConfig(datadir=root / "devchain", port=0, bits=0x207FFFFF)
    async with running_devchain(chain_config) as port, BitcoindClient(f"http://127.0.0.1:{port}") as rpc:
        with ShareStore(root / "sharechain", DEVNET) as store:
            bus, chain = EventBus(), ShareChain(DEVNET)
            backend = FlakyBitcoind(rpc)
            found = FoundBlocks(store)
            submitter = BlockSubmitter(backend, found, DEVNET.address_format, bus.publish, time.time,
                                       SubmitterConfig(first_retry=0.01))
            work = WorkProvider(DEVNET, chain, ShareIntake(chain, store, bus.publish, time.time), submitter,
                                bus.publish, time.time)
            stratum = StratumServer(work, StratumConfig(host="127.0.0.1", port=0))
            bus.subscribe(TemplateChanged, work.on_template)
            bus.subscribe(TipChanged, work.on_tip_changed)
            bus.subscribe(NewWork, lambda event: stratum.new_work(event.clean))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(submitter.run)
                await nursery.start(TemplateMonitor(backend, publish=bus.publish).run)
                stratum_port = await nursery.start(stratum.serve, "127.0.0.1", 0)
                yield Mining(backend, found, chain, stratum_port)
                backend.release.set()
                nursery.cancel_scope.cancel()


def header76(notify: list, extranonce1: bytes) -> bytes:
    _, prevhash, coinb1, coinb2, branch, version, bits, ntime, _ = notify
    coinbase = coinbase_bytes(bytes.fromhex(coinb1), extranonce1, bytes(4), bytes.fromhex(coinb2))
    root = merkle_root_from_branch(coinbase, [bytes.fromhex(h) for h in branch])
    return header_bytes(int(version, 16), swap_words(bytes.fromhex(prevhash)), root, int(ntime, 16),
                        int(bits, 16), 0)[:76]


async def next_notify(client: LineClient) -> list:
    while True:
        message = await client.message()
        if message.get("method") == "mining.notify":
            return message["params"]


async def test_a_miner_is_answered_while_its_block_is_still_being_submitted(tmp_path):
    async with mining_parts(tmp_path) as parts:
        client = await LineClient.connect(parts.stratum_port)
        subscribed = await client.call({"id": 1, "method": "mining.subscribe", "params": []})
        extranonce1 = bytes.fromhex(subscribed["result"][1])
        assert (await client.call({"id": 2, "method": "mining.authorize", "params": [USER, "x"]}))["result"] is True
        notify = await next_notify(client)
        # A header that meets the share target also meets the dev chain's very easy block target.
        share_target = bits_to_target(parts.chain.next_bits(None))
        prefix = header76(notify, extranonce1)
        nonce = grind(prefix, share_target)
        submit = [USER, notify[0], "00000000", notify[7], f"{nonce:08x}"]
        with trio.fail_after(10):
            reply = await client.call({"id": 3, "method": "mining.submit", "params": submit})
            assert reply == {"id": 3, "result": True, "error": None}
            # The share joined at once and miners get new work, while the block waits on bitcoind.
            assert parts.chain.tip is not None
            fresh = await next_notify(client)
        assert fresh[0] != notify[0]
        with trio.fail_after(10):
            low = await client.call({"id": 4, "method": "mining.submit",
                                     "params": [USER, fresh[0], "00000000", fresh[7], "00000000"]})
        assert low["error"][0] in (23, 20)  # answered, whatever the verdict
        assert len(parts.found) == 0 and not parts.backend.release.is_set()
        parts.backend.release.set()
        with trio.fail_after(10):
            while len(parts.found) == 0:
                await trio.sleep(0.01)
        assert parts.backend.attempts == 3  # two failed deliveries retried, then accepted
        (block,) = parts.found.all()
        assert (await parts.backend.rpc.getblock(block.hash, 0))
        await client.aclose()
