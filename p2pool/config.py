"""Node configuration: defaults per network, a TOML file, then command-line options on top."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sharechain.params import NETWORKS, network


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says which file/option and why."""


@dataclass
class NodeConfig:
    network: str = "devnet"
    datadir: Path | None = None
    bitcoind: str | None = None
    bitcoind_cookie: Path | None = None
    payout_address: str | None = None
    stratum: str | None = None
    api: str | None = None
    miner_threads: int = 1
    miner: bool = True
    miner_opencl: bool = False
    reindex: bool = False
    devchain_bits: int | None = None
    stratum_difficulty: float = 0.0
    stratum_submit_interval: float = 10.0
    log_level: str = "info"
    # P2P: listen multiaddrs (None or empty: no P2P; the command line fills in the network's default
    # port unless --no-p2p), peers to dial at start, whether the network's default seeds are added.
    p2p: list[str] | None = None
    bootstrap: list[str] = field(default_factory=list)
    seeds: bool = True
    max_outbound: int = 8
    max_inbound: int = 32
    # While the node is behind its peers, Stratum gives miners no work (False: they mine anyway).
    sync_wait: bool = True
    # A seed node (``otedama bootstrap``): validates, relays and serves shares; no chain backend or miners.
    seed: bool = False
    # P2P discovery, reachability and connection limits: a seed-list file (bootstrap/seedlist.py's
    # format), addresses to advertise instead of the listen addresses, inbound connections per IP
    # address and per /24 (IPv4) or /48 (IPv6) subnet, and the network's DHT.
    seed_file: Path | None = None
    announce: list[str] = field(default_factory=list)
    max_per_ip: int = 4
    max_per_subnet: int = 8
    dht: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved_datadir(self) -> Path:
        if self.datadir is not None:
            return Path(self.datadir).expanduser()
        return Path(os.environ.get("OTEDAMA_HOME", "~/.otedama")).expanduser() / self.network

    def stratum_endpoint(self) -> tuple[str, int]:
        return parse_endpoint(self.stratum, "0.0.0.0", network(self.network).default_stratum_port, "--stratum")

    def api_endpoint(self) -> tuple[str, int]:
        return parse_endpoint(self.api, "127.0.0.1", network(self.network).default_api_port, "--api")

    def peers_to_dial(self) -> list[str]:
        """``--bootstrap`` peers, then the network's default seeds (unless turned off)."""
        from bootstrap import seeds

        defaults = seeds(self.network) if self.seeds else []
        return list(dict.fromkeys([*self.bootstrap, *self._seed_file_entries(), *defaults]))

    def _seed_file_entries(self) -> list[str]:
        from bootstrap.seedlist import SeedListError, parse_seed_list

        if self.seed_file is None:
            return []
        try:
            seeds = parse_seed_list(Path(self.seed_file).expanduser().read_text(encoding="utf-8"),
                                    f"seed file {self.seed_file}")
        except OSError as exc:
            raise ConfigError(f"cannot read seed file {self.seed_file}: {exc.strerror or exc}") from None
        except (SeedListError, UnicodeDecodeError) as exc:
            raise ConfigError(str(exc)) from None
        return [*seeds.peers, *(f"/dnsaddr/{name}" for name in seeds.dns)]


def parse_endpoint(text: str | None, default_host: str, default_port: int, option: str) -> tuple[str, int]:
    if not text:
        return default_host, default_port
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = default_host, text
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected HOST:PORT") from None
    if not 0 <= number <= 65535:
        raise ConfigError(f"{option} {text!r}: port out of range")
    return host.strip("[]") or default_host, number


_KNOWN = {f.name for f in fields(NodeConfig)} - {"extra"}


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config; keys are the long option names (dashes or underscores)."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _KNOWN:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
        out[name] = value
    return out


def build_config(file_values: dict[str, Any], cli_values: dict[str, Any]) -> NodeConfig:
    """Defaults, overridden by the file, overridden by options given on the command line."""
    merged = {**file_values, **{k: v for k, v in cli_values.items() if v is not None}}
    config = NodeConfig()
    for name, value in merged.items():
        if name not in _KNOWN:
            continue
        if name in ("datadir", "bitcoind_cookie", "seed_file") and value is not None:
            value = Path(value)
        setattr(config, name, value)
    if config.network not in NETWORKS:
        raise ConfigError(f"unknown network {config.network!r}; choose one of {', '.join(NETWORKS)}")
    if not isinstance(config.miner_threads, int) or config.miner_threads < 1:
        raise ConfigError("miner-threads must be a positive integer")
    config.stratum_endpoint()
    config.api_endpoint()
    _check_p2p(config, no_p2p=bool(merged.get("no_p2p")))
    return config


def _check_p2p(config: NodeConfig, *, no_p2p: bool) -> None:
    """Fill in the default P2P listen address and refuse unusable multiaddrs before anything starts."""
    from p2pool.p2p.host import AddressError, parse_listen, parse_peer

    if no_p2p:
        config.p2p = []
    elif not config.p2p:
        config.p2p = [f"/ip4/0.0.0.0/tcp/{network(config.network).default_p2p_port}"]
    if isinstance(config.p2p, str):
        config.p2p = [config.p2p]
    if isinstance(config.bootstrap, str):
        config.bootstrap = [config.bootstrap]
    if config.seed and not config.p2p:
        raise ConfigError("a seed node needs P2P: drop --no-p2p")
    if config.bootstrap and not config.p2p:
        raise ConfigError("--bootstrap needs P2P: drop --no-p2p")
    for name in ("max_outbound", "max_inbound"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name.replace('_', '-')} must be a non-negative integer")
    _check_discovery(config)
    try:
        for text in config.p2p:
            parse_listen(text)
        for text in config.bootstrap:
            if not text.startswith("/dnsaddr/"):  # a DNS seed: checked with the seed file below
                parse_peer(text)
    except AddressError as exc:
        raise ConfigError(str(exc)) from None


def _check_discovery(config: NodeConfig) -> None:
    """--announce, --seed-file, DNS seeds in --bootstrap and the per-address caps."""
    from bootstrap.seedlist import SeedListError, parse_entry
    from p2pool.p2p.host import AddressError, parse_announce

    if isinstance(config.announce, str):
        config.announce = [config.announce]
    for name in ("max_per_ip", "max_per_subnet"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name.replace('_', '-')} must be a positive integer")
    try:
        for text in config.announce:
            parse_announce(text)
        for text in config.bootstrap:
            if text.startswith("/dnsaddr/"):
                parse_entry(text)
    except (AddressError, SeedListError) as exc:
        raise ConfigError(f"{exc}") from None
    if config.announce and not config.p2p:
        raise ConfigError("--announce needs P2P: drop --no-p2p")
    config.peers_to_dial()  # reads and checks the seed file
