"""Whole blocks and the BIP141 witness commitment."""

from __future__ import annotations

from dataclasses import dataclass

from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.header import HEADER_SIZE, BlockHeader
from sharechain.bitcoin.merkle import merkle_root
from sharechain.bitcoin.serialize import ByteReader, ser_varint
from sharechain.bitcoin.transaction import Transaction

WITNESS_COMMITMENT_HEADER = bytes.fromhex("6a24aa21a9ed")
WITNESS_RESERVED_VALUE = b"\x00" * 32


def witness_commitment_script(witness_root: bytes, reserved: bytes = WITNESS_RESERVED_VALUE) -> bytes:
    """The coinbase output script committing to the block's witness merkle root."""
    return WITNESS_COMMITMENT_HEADER + sha256d(witness_root + reserved)


def witness_root(transactions: list[Transaction]) -> bytes:
    """Merkle root of wtxids with the coinbase's taken as zero."""
    return merkle_root([b"\x00" * 32] + [tx.wtxid() for tx in transactions[1:]])


def find_witness_commitment(coinbase: Transaction) -> bytes | None:
    """The last output script that carries a witness commitment, as BIP141 chooses it."""
    found = None
    for txout in coinbase.outputs:
        script = txout.script_pubkey
        if len(script) >= 38 and script[:6] == WITNESS_COMMITMENT_HEADER:
            found = script[6:38]
    return found


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    transactions: list[Transaction]

    def serialize(self) -> bytes:
        return (self.header.serialize() + ser_varint(len(self.transactions))
                + b"".join(tx.serialize() for tx in self.transactions))

    @classmethod
    def parse(cls, raw: bytes) -> Block:
        reader = ByteReader(raw)
        header = BlockHeader.parse(reader.read(HEADER_SIZE))
        count = reader.read_count(1_000_000)
        txs = [Transaction.read(reader) for _ in range(count)]
        reader.expect_end()
        return cls(header, txs)
