"""Which address the node's own built-in miner is paid to."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from p2pool.config import ConfigError, NodeConfig
from sharechain.bitcoin.address import AddressError, address_to_script, encode_segwit
from sharechain.bitcoin.hashing import hash160
from sharechain.params import NetworkParams

log = logging.getLogger("otedama.node")
_DEV_NETWORKS = ("devnet", "regtest")


def resolve_payout_address(config: NodeConfig, params: NetworkParams, datadir: Path) -> str:
    """The configured address (checked), or on dev networks one made up once and kept in the datadir."""
    if config.payout_address:
        try:
            address_to_script(config.payout_address, params.address_format)
        except AddressError as exc:
            raise ConfigError(f"--payout-address {config.payout_address!r}: {exc}") from None
        return config.payout_address
    if params.name not in _DEV_NETWORKS:
        if config.miner:
            raise ConfigError(f"--payout-address is required on {params.name} (the built-in miner pays to it)")
        return ""
    path = datadir / "dev-payout-address"
    if path.exists():
        return path.read_text().strip()
    address = encode_segwit(params.address_format.bech32_hrp, 0, hash160(os.urandom(32)))
    path.write_text(address + "\n")
    log.info("no --payout-address given: the built-in miner pays to %s (kept in %s)", address, path)
    return address
