"""Real devnet shares, fast: a sharechain mined with the Numba kernel at the network's minimum share
difficulty, timestamps two seconds apart ending now (so the retarget keeps the minimum).

Used to give nodes a long history (a whole PPLNS window) without waiting for it to be mined live.
"""

from __future__ import annotations

import struct
import time

from kernels.factory import make_scanner
from p2pool.storage.share_store import ShareStore
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.merkle import root_from_coinbase_branch
from sharechain.bitcoin.script import bip34_height_push, witness_program
from sharechain.bitcoin.target import bits_to_target
from sharechain.chain import ShareChain
from sharechain.coinbase import build_coinbase, coinbase_outputs
from sharechain.params import DEVNET, NetworkParams
from sharechain.pplns import split_reward
from sharechain.record import ShareRecord
from sharechain.result import AddStatus
from sharechain.share import Share, ShareInfo

COINBASE_VALUE = 50_0000_0000
BRANCH = (sha256d(b"tx1"), sha256d(b"tx2"))
_CHUNK = 1 << 16


def payout_script(miner: int) -> bytes:
    return witness_program(0, sha256d(b"sharegen" + bytes([miner]))[:20])


def grind(info: ShareInfo, payouts: list, params: NetworkParams, scanner, *, tag: bytes = b"") -> Share:
    """Coinbase, header and a nonce meeting ``info``'s share target (found by the kernel; an easy test
    target is found in the first few nonces, so the hashlib loop scans short runs)."""
    chunk = 256 if scanner.name == "hashlib" else _CHUNK
    outputs = coinbase_outputs(params, info, payouts, None)
    script_sig = bip34_height_push(200 + info.height) + b"\x00" * 8 + tag[:40]
    coinbase = build_coinbase(script_sig, outputs, segwit=False)
    root = root_from_coinbase_branch(coinbase.txid(), BRANCH)
    target = bits_to_target(info.share_bits)
    prefix = struct.pack("<i32s32sII", 0x20000000, b"\x11" * 32, root, info.timestamp, 0x207FFFFF)
    for start in range(0, 1 << 32, chunk):
        found = scanner.scan(prefix, target, start, chunk)
        if found.nonces:
            header = BlockHeader.parse(prefix + found.nonces[0].to_bytes(4, "little"))
            return Share.create(header, coinbase, BRANCH, info)
    raise AssertionError("nonce space exhausted")


def make_chain(count: int, *, miners: int = 4, params: NetworkParams = DEVNET, end: int | None = None,
               chain: ShareChain | None = None, miner_offset: int = 0, uncle_every: int = 0,
               kernel: str = "numba") -> list[Share]:
    """``count`` valid shares in order (extending ``chain`` if given), the last timestamped ``end``.

    With ``uncle_every``, every that many shares a second share is made on the same parent (a stale
    share), which the next one includes as an uncle: the list then holds ``count`` plus those.
    ``kernel`` "hashlib" suits a network with an easy test target (the benchmarks)."""
    scanner = make_scanner(kernel, threads=1)
    chain = chain if chain is not None else ShareChain(params)
    end = int(time.time()) if end is None else end
    first = end - params.share_period * (count - 1)
    shares = []
    for i in range(count):
        now = first + params.share_period * i
        parent = chain.tip
        info, payouts = chain.prepare(payout_script(miner_offset + i % miners), now, COINBASE_VALUE)
        share = grind(info, payouts, params, scanner)
        result = chain.add(share, now=now)
        assert result.status is AddStatus.ADDED, result.error
        shares.append(share)
        if uncle_every and parent is not None and i % uncle_every == uncle_every - 1:
            shares.append(_sibling(chain, parent, payout_script(miner_offset + miners + i % miners), now, scanner))
    return shares


def _sibling(chain: ShareChain, parent: ShareRecord, script: bytes, now: int, scanner) -> Share:
    """A second share on ``parent`` (mined a moment too late to be the main one)."""
    info = ShareInfo(parent.hash, parent.height + 1, max(now, chain.median_time(parent) + 1), chain.next_bits(parent),
                     script)
    payouts = split_reward(COINBASE_VALUE, chain.candidate_weights(info), script, chain.params)
    share = grind(info, payouts, chain.params, scanner, tag=b"sibling")
    result = chain.add(share, now=now)
    assert result.status is AddStatus.ADDED, result.error
    return share


def store_shares(path, shares: list[Share], params: NetworkParams = DEVNET) -> None:
    """Write shares (of a chain from its first share) into the share database a node at ``path`` (its
    datadir/sharechain) will load; a node keeps what the keep rule needs and deletes the rest on start."""
    with ShareStore(path, params) as store:
        for start in range(0, len(shares), 500):
            store.put_shares(shares[start : start + 500])
