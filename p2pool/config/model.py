"""The node's configuration: frozen, every field already parsed and checked (see :mod:`.build`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bootstrap import seeds
from p2pool.config.values import Endpoint


@dataclass(frozen=True)
class NodeConfig:
    """One field per option of :data:`p2pool.config.options.OPTIONS` (same names), plus ``seed``.

    Build it with :func:`p2pool.config.load_config` (file, environment, command line) or
    :func:`p2pool.config.node_config` (values from a program); both check every value and fill in
    the network's defaults, so nothing here is parsed again.
    """

    network: str
    datadir: Path
    bitcoind: str | None
    bitcoind_cookie: Path | None
    devchain: bool
    devchain_bits: int
    payout_address: str | None
    stratum: Endpoint
    stratum_processes: int
    stratum_difficulty: float
    stratum_submit_interval: float
    stratum_tls: Endpoint | None
    stratum_tls_cert: Path | None
    stratum_tls_key: Path | None
    stratum_max_workers: int
    stratum_max_per_ip: int
    stratum_allow: tuple[str, ...]
    stratum_auth_timeout: float
    stratum_idle_timeout: float
    stratum_submit_rate: float
    stratum_submit_burst: int
    stratum_ban_strikes: int
    stratum_ban_seconds: int
    api: Endpoint
    api_token: str | None
    api_token_file: Path | None
    api_cors: tuple[str, ...]
    api_tls_cert: Path | None
    api_tls_key: Path | None
    no_miner: bool
    miner_threads: int
    miner_opencl: bool
    reindex: bool
    p2p: tuple[str, ...]
    bootstrap: tuple[str, ...]
    no_p2p: bool
    no_seeds: bool
    max_outbound: int
    max_inbound: int
    seed_file: Path | None
    announce: tuple[str, ...]
    max_per_ip: int
    max_per_subnet: int
    no_dht: bool
    mine_while_syncing: bool
    log_level: str
    log_format: str
    log_file: Path | None
    log_file_max_mb: int
    log_file_backups: int
    notify_webhook: str | None
    notify_command: str | None
    notify_worker_offline: int
    # A seed node (``otedama bootstrap``): validates, relays and serves shares; no chain backend or miners.
    seed: bool = False
    # The entries of ``seed_file``, read and checked when the configuration was built.
    seed_entries: tuple[str, ...] = ()

    @property
    def miner(self) -> bool:
        """Whether the built-in miner runs (never on a seed node)."""
        return not self.no_miner and not self.seed

    @property
    def seeds(self) -> bool:
        return not self.no_seeds

    @property
    def sync_wait(self) -> bool:
        """While the node is behind its peers, Stratum gives miners no work."""
        return not self.mine_while_syncing

    @property
    def p2p_listen(self) -> tuple[str, ...]:
        """The P2P listen multiaddrs; empty with ``no_p2p``."""
        return () if self.no_p2p else self.p2p

    def peers_to_dial(self) -> tuple[str, ...]:
        """``bootstrap`` peers, the seed file's, then the network's default seeds (unless ``no_seeds``), each once."""
        defaults = seeds(self.network) if self.seeds else []
        return tuple(dict.fromkeys([*self.bootstrap, *self.seed_entries, *defaults]))
