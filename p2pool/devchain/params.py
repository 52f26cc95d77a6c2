"""Consensus constants of the embedded dev chain and its genesis block.

The devchain follows Bitcoin's block rules (regtest-like subsidy) with a fixed difficulty: every
block uses ``bits``. Changing a value here (or ``bits`` in the config) makes a different genesis block,
so a datadir written with other parameters is refused on open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sharechain.bitcoin.block import Block
from sharechain.bitcoin.hashing import sha256
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.merkle import merkle_root
from sharechain.bitcoin.script import push_data, witness_program
from sharechain.bitcoin.target import bits_to_target, target_from_work, target_to_bits, work_from_target
from sharechain.bitcoin.transaction import NULL_HASH, Transaction, TxIn, TxOut

COIN = 100_000_000
MAX_MONEY = 21_000_000 * COIN

# About 2**24 expected hashes per block: a few seconds for a ~5 MH/s CPU miner.
DEFAULT_BITS = target_to_bits(target_from_work(1 << 24))

# Anyone-can-spend outputs the mempool generator recycles: bare OP_TRUE and P2WSH(OP_TRUE).
OP_TRUE_SCRIPT = b"\x51"
P2WSH_OP_TRUE = witness_program(0, sha256(OP_TRUE_SCRIPT))
ANYONE_CAN_SPEND = frozenset({OP_TRUE_SCRIPT, P2WSH_OP_TRUE})


@dataclass(frozen=True)
class DevchainParams:
    bits: int = DEFAULT_BITS
    initial_subsidy: int = 50 * COIN
    halving_interval: int = 150
    coinbase_maturity: int = 100
    median_time_span: int = 11
    max_future_seconds: int = 2 * 60 * 60
    max_block_weight: int = 4_000_000
    genesis_time: int = 1_735_689_600
    genesis_outputs: int = 16

    def __post_init__(self) -> None:
        if bits_to_target(self.bits) <= 0:
            raise ValueError(f"devchain bits {self.bits:#010x} encode a zero target")

    @property
    def target(self) -> int:
        return bits_to_target(self.bits)

    @property
    def block_work(self) -> int:
        return work_from_target(self.target)

    def subsidy(self, height: int) -> int:
        halvings = height // self.halving_interval
        return 0 if halvings >= 64 else self.initial_subsidy >> halvings


def genesis_block(params: DevchainParams) -> Block:
    """The genesis block: its coinbase funds the mempool generator with anyone-can-spend outputs.

    Its proof of work is not checked and its outputs need no maturity (unlike later coinbases).
    """
    count = params.genesis_outputs
    value = params.initial_subsidy // count
    outputs = tuple(TxOut(value, OP_TRUE_SCRIPT if i % 2 == 0 else P2WSH_OP_TRUE) for i in range(count))
    script_sig = push_data(b"Otedama devchain genesis") + push_data(params.bits.to_bytes(4, "little"))
    coinbase = Transaction(1, (TxIn(NULL_HASH, 0xFFFFFFFF, script_sig),), outputs)
    header = BlockHeader(1, NULL_HASH, merkle_root([coinbase.txid()]), params.genesis_time, params.bits, 0)
    return Block(header, [coinbase])
