"""Real block headers (mainnet, Core regtest, cpuminer shares) and an independent sha256d oracle."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int, sha256d
from sharechain.bitcoin.header import BlockHeader
from sharechain.bitcoin.target import bits_to_target
from tests.fixtures.vectors import vector


@dataclass(frozen=True)
class HeaderVector:
    """A header whose hash (display hex) was published by the software that produced it."""

    name: str
    header: bytes
    hash_display: str

    @property
    def nonce(self) -> int:
        return int.from_bytes(self.header[76:], "little")

    @property
    def network_target(self) -> int:
        return bits_to_target(BlockHeader.parse(self.header).bits)


MAINNET = (
    HeaderVector(
        "genesis",
        bytes.fromhex(
            "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f61"
            "7fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
        ),
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    ),
    HeaderVector(
        "block-1",
        bytes.fromhex(
            "010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee1467"
            "7ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299"
        ),
        "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
    ),
    HeaderVector(
        "block-2",
        bytes.fromhex(
            "010000004860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000d5fdcc541e25de1c7a5addedf24858b8"
            "bb665c9f36ef744ee42c316022c90f9bb0bc6649ffff001d08d2bd61"
        ),
        "000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd",
    ),
    HeaderVector(
        "block-100000",
        bytes.fromhex(
            "0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2940996ecff9522"
            "28c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b0f2b5710"
        ),
        "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506",
    ),
    HeaderVector(
        "block-125552",
        bytes.fromhex(
            "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae"
            "710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695"
        ),
        "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d",
    ),
)


def regtest_block() -> HeaderVector:
    """The header of the block Bitcoin Core accepted (core-regtest-block-accepted.json)."""
    data = vector("core-regtest-block-accepted.json")
    return HeaderVector("core-regtest", bytes.fromhex(data["header"]["hex"]), data["block_hash"])


def cpuminer_shares() -> list[tuple[HeaderVector, int]]:
    """The 34 headers cpuminer submitted, each with the share target it was mined for."""
    data = vector("cpuminer-stratum-session.json")
    shares = []
    for i, submit in enumerate(data["submits"]):
        header = HeaderVector(f"cpuminer-{i}", bytes.fromhex(submit["header_hex"]), submit["hash_display"])
        target = int(data["targets"][f"difficulty_{submit['difficulty_cpuminer_used_for_this_job']}"], 16)
        shares.append((header, target))
    return shares


def random_headers(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(80) for _ in range(count)]


def hash_of(header76: bytes, nonce: int) -> int:
    """The oracle: sha256d through sharechain's primitives, as a number."""
    return hash_to_int(sha256d(header76 + nonce.to_bytes(4, "little")))


def solutions(header76: bytes, target: int, start: int, count: int) -> list[int]:
    """Every solution in the range (no 64 cap), by brute force."""
    return [n for n in range(start, start + count) if hash_of(header76, n) <= target]


def all_vectors() -> list[HeaderVector]:
    return [*MAINNET, regtest_block(), *(h for h, _ in cpuminer_shares())]


def display_hash(header: bytes) -> str:
    return hash_to_hex(sha256d(header))
