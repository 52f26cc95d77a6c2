"""Test helper: mine real shares with hashlib on easy test networks."""

from __future__ import annotations

import dataclasses
import struct

from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.merkle import root_from_coinbase_branch
from sharechain.bitcoin.script import bip34_height_push, witness_program
from sharechain.bitcoin.target import bits_to_target, target_from_work
from sharechain.bitcoin.transaction import Transaction
from sharechain.chain import ShareChain
from sharechain.coinbase import build_coinbase, coinbase_outputs
from sharechain.params import DEVNET, NetworkParams
from sharechain.pplns import split_reward
from sharechain.share import Share, ShareInfo

TEST_PARAMS = dataclasses.replace(
    DEVNET, name="test", pplns_window=10, max_share_target=target_from_work(16),
    retarget_window=5, dust_limit=1000,
)
COINBASE_VALUE = 50_0000_0000
BRANCH = (sha256d(b"tx1"), sha256d(b"tx2"))


def script(n: int) -> bytes:
    """A distinct P2WPKH payout script per miner number."""
    return witness_program(0, sha256d(bytes([n]))[:20])


def grind(info: ShareInfo, payouts: list, params: NetworkParams, *, extra: bytes = b"",
          value_override: list | None = None, branch: tuple[bytes, ...] = BRANCH, tries: int | None = None) -> Share:
    """Build the coinbase and header for ``info`` and find a nonce meeting its share target.

    With ``tries``, give up after that many nonces and return the share with the last one (its
    proof of work then most likely fails: what a fuzzer wants for a target too hard to meet)."""
    return solve(info, coinbase_for(info, value_override or payouts, params, extra=extra), branch, tries=tries)


def coinbase_for(info: ShareInfo, payouts: list, params: NetworkParams, *, extra: bytes = b"") -> Transaction:
    """The coinbase a node builds for ``info`` paying ``payouts``."""
    outputs = coinbase_outputs(params, info, payouts, None)
    return build_coinbase(bip34_height_push(200 + info.height) + b"\x00" * 8 + extra, outputs, segwit=False)


def solve(info: ShareInfo, coinbase: Transaction, branch: tuple[bytes, ...] = BRANCH, *,
          tries: int | None = None) -> Share:
    """A share of ``coinbase`` (whatever it holds) whose header meets the share target of ``info``
    (with ``tries``: or the last nonce tried)."""
    root = root_from_coinbase_branch(coinbase.txid(), branch)
    try:
        target = bits_to_target(info.share_bits)
    except ValueError:
        target = -1
    prefix = struct.pack("<i32s32sII", 0x20000000, b"\x11" * 32, root, info.timestamp, 0x207FFFFF)
    raw = prefix + bytes(4)
    for nonce in range(1 << 32 if tries is None else tries):
        raw = prefix + struct.pack("<I", nonce)
        if hash_to_int(sha256d(raw)) <= target:
            break
    else:
        if tries is None:
            raise AssertionError("nonce space exhausted")
    return Share.create(BlockHeader.parse(raw), coinbase, branch, info)


def mine_on(chain: ShareChain, miner: int, now: int, *, value: int = COINBASE_VALUE,
            parent: bytes | None = None, uncles: tuple[bytes, ...] | None = None) -> Share:
    """A valid share by ``miner`` on the chain's tip (or on ``parent``), as a node would build it."""
    info, payouts = chain.prepare(script(miner), now, value)
    if parent is not None or uncles is not None:
        parent_record = chain.get(parent) if parent is not None else chain.tip
        assert parent_record is not None
        bits = chain.next_bits(parent_record)
        timestamp = max(now, chain.median_time(parent_record) + 1)
        info = ShareInfo(parent_record.hash, parent_record.height + 1, timestamp, bits, script(miner),
                         uncles if uncles is not None else tuple(chain.uncle_candidates(parent_record)))
        payouts = split_reward(value, chain.candidate_weights(info), script(miner), chain.params)
    return grind(info, payouts, chain.params)
