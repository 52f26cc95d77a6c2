"""Every consensus constant of every Otedama network, in one place.

Changing any value here forks a node off its network: every node of a network must agree on all of
them. That is why a network's id is a hash of all of them (:func:`consensus_id`): nodes whose rules
differ in anything get different ids, so their shares, databases and P2P protocol names differ and
they never talk to each other. ``docs/consensus.md`` explains each rule and why its constants were
chosen.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from sharechain.bitcoin.address import AddressFormat
from sharechain.bitcoin.hashing import sha256d
from sharechain.bitcoin.target import target_from_work
from sharechain.share import SHARE_FORMAT_RULES

# Raised when a rule changes without any constant changing (a new rule, a changed formula): it is
# hashed into every network's id with the constants.
CONSENSUS_VERSION = 3
# Marks a field that is a local default, not a rule all nodes share: it stays out of the id.
_LOCAL = {"consensus": False}
# Marks the id itself (derived from the others).
_DERIVED = {"consensus": False, "derived": True}


@dataclass(frozen=True)
class NetworkParams:
    name: str
    address_format: AddressFormat
    # Expected seconds between shares; the retarget steers toward it.
    share_period: int
    # PPLNS window length in main-chain shares (each share also brings its uncles).
    pplns_window: int
    # The easiest share target allowed (the network's minimum share difficulty).
    max_share_target: int
    # Retarget: shares looked back over; the most the target may ease in one step (num/den), and the
    # most it may harden (a factor): hardening fast keeps a fast new miner on a young chain from
    # flooding it with shares; easing slowly keeps a lucky streak from swinging it back.
    retarget_window: int
    retarget_step_num: int
    retarget_step_den: int
    retarget_harder_max: int
    # Timestamps: after the median of this many ancestors, at most this far ahead of the local clock.
    median_time_span: int
    max_future_seconds: int
    # Uncles: at most this many per share, at most this many heights below the including share.
    max_uncles: int
    uncle_depth: int
    uncle_penalty_percent: int
    # Finder bonus, in parts per thousand of the coinbase value, paid to the share's own miner.
    finder_bonus_per_mille: int
    # Payouts below this many satoshis are not paid but shared among the others.
    dust_limit: int
    # At most this many payout outputs in one coinbase (the smallest are folded into the others).
    max_payouts: int
    # The deepest fork a node follows, in heights below its tip; with the look-back of the rules it
    # sets what a node keeps (``sharechain/horizon.py``). One PPLNS window: a joining node validates
    # the whole current window, which needs one window of older shares as context, so every node keeps
    # that context anyway, and a fork up to a window deep costs nothing more to follow.
    reorg_margin: int
    # Bitcoin-side defaults for this network (not sharechain consensus).
    bitcoind_rpc_port: int = field(metadata=_LOCAL)
    default_stratum_port: int = field(metadata=_LOCAL)
    default_api_port: int = field(metadata=_LOCAL)
    default_p2p_port: int = field(metadata=_LOCAL)
    # 8 bytes that tag every share commitment, the share database and the P2P protocol names of this
    # network: a hash of every consensus constant, derived in __post_init__ and never given.
    network_id: bytes = field(init=False, repr=False, compare=False, metadata=_DERIVED)

    def __post_init__(self) -> None:
        object.__setattr__(self, "network_id", consensus_id(self))


def consensus_fields(params: NetworkParams) -> dict[str, object]:
    """The network's consensus constants by name (every field not marked local)."""
    out: dict[str, object] = {}
    for item in dataclasses.fields(params):
        if item.metadata.get("consensus", True):
            value = getattr(params, item.name)
            out[item.name] = dataclasses.asdict(value) if isinstance(value, AddressFormat) else value
    return out


def consensus_id(params: NetworkParams, share_format: Mapping[str, int] = SHARE_FORMAT_RULES) -> bytes:
    """sha256d of a canonical JSON document of the consensus version, the network's consensus
    constants and the share format rules, first 8 bytes."""
    document = {"consensus_version": CONSENSUS_VERSION, "network": consensus_fields(params),
                "share_format": dict(share_format)}
    return sha256d(b"otedama/" + json.dumps(document, sort_keys=True, separators=(",", ":")).encode())[:8]


_MAINNET_ADDRESSES = AddressFormat("bc", 0x00, 0x05)
_TEST_ADDRESSES = AddressFormat("tb", 0x6F, 0xC4)
_REGTEST_ADDRESSES = AddressFormat("bcrt", 0x6F, 0xC4)

_COMMON = {
    "retarget_window": 30,
    "retarget_step_num": 5,
    "retarget_step_den": 4,
    "retarget_harder_max": 4,
    "median_time_span": 11,
    "max_uncles": 4,
    "uncle_depth": 3,
    "uncle_penalty_percent": 20,
    "finder_bonus_per_mille": 5,
    "dust_limit": 546,
    "max_payouts": 500,
}

MAINNET = NetworkParams(
    name="mainnet", address_format=_MAINNET_ADDRESSES,
    share_period=30, pplns_window=8640, reorg_margin=8640, max_share_target=target_from_work(1 << 40),
    max_future_seconds=120, bitcoind_rpc_port=8332,
    default_stratum_port=9332, default_api_port=9333, default_p2p_port=9338, **_COMMON,
)
TESTNET4 = NetworkParams(
    name="testnet4", address_format=_TEST_ADDRESSES,
    share_period=30, pplns_window=8640, reorg_margin=8640, max_share_target=target_from_work(1 << 32),
    max_future_seconds=120, bitcoind_rpc_port=48332,
    default_stratum_port=19332, default_api_port=19333, default_p2p_port=19338, **_COMMON,
)
SIGNET = NetworkParams(
    name="signet", address_format=_TEST_ADDRESSES,
    share_period=30, pplns_window=8640, reorg_margin=8640, max_share_target=target_from_work(1 << 32),
    max_future_seconds=120, bitcoind_rpc_port=38332,
    default_stratum_port=39332, default_api_port=39333, default_p2p_port=39338, **_COMMON,
)
REGTEST = NetworkParams(
    name="regtest", address_format=_REGTEST_ADDRESSES,
    share_period=2, pplns_window=720, reorg_margin=720, max_share_target=target_from_work(1 << 16),
    max_future_seconds=60, bitcoind_rpc_port=18443,
    default_stratum_port=29332, default_api_port=29333, default_p2p_port=29338, **_COMMON,
)
DEVNET = NetworkParams(
    name="devnet", address_format=_REGTEST_ADDRESSES,
    share_period=2, pplns_window=720, reorg_margin=720, max_share_target=target_from_work(1 << 16),
    max_future_seconds=60, bitcoind_rpc_port=18555,
    default_stratum_port=3333, default_api_port=8080, default_p2p_port=9338, **_COMMON,
)

NETWORKS: dict[str, NetworkParams] = {p.name: p for p in (MAINNET, TESTNET4, SIGNET, REGTEST, DEVNET)}


def network(name: str) -> NetworkParams:
    try:
        return NETWORKS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}") from None
