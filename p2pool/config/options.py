"""Every node option in one table: name, kind of value, default (per network where it differs), help,
secret or not, and which commands take it.

The table drives the command line, the TOML file (keys are the long option names), the environment
(``OTEDAMA_<NAME>``), validation, ``otedama config show`` and the help text, so nothing is written twice.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2pool.config.ipnets import IpNetworks
from p2pool.config.values import (
    Choice,
    Command,
    CompactBits,
    FilePath,
    Flag,
    Integer,
    Kind,
    ListenAddress,
    Multiaddrs,
    Number,
    Origins,
    RpcUrl,
    Text,
    Token,
    WebhookUrl,
)
from p2pool.devchain.params import DEFAULT_BITS
from sharechain.params import NETWORKS, NetworkParams

RUN = frozenset({"run"})
NODE = frozenset({"run", "bootstrap"})
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
ENV_PREFIX = "OTEDAMA_"
DEV_NETWORKS = ("devnet", "regtest")


@dataclass(frozen=True)
class DefaultContext:
    """What a default may depend on: the network, and the home directory (``$OTEDAMA_HOME``)."""

    params: NetworkParams
    home: Path


Default = Callable[[DefaultContext], Any]


@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    # A value as the file would hold it (parsed like one), a function of the network giving one, or
    # None for "not set".
    default: Any
    help: str
    commands: frozenset[str] = NODE
    secret: bool = False
    # How help shows a default that cannot be listed per network.
    default_text: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def default_for(self, context: DefaultContext) -> Any:
        return self.default(context) if callable(self.default) else self.default


OPTIONS: tuple[Option, ...] = (
    Option("network", Choice(tuple(NETWORKS)), "devnet",
           "network to join; devnet mines an embedded dev chain"),
    Option("datadir", FilePath(required=True), lambda c: str(c.home / c.params.name),
           "where shares, the peer identity and state are kept",
           default_text="$OTEDAMA_HOME/NETWORK, else ~/.otedama/NETWORK"),
    Option("bitcoind", RpcUrl(), None,
           "bitcoind JSON-RPC URL, e.g. http://user:pass@127.0.0.1:8332 (required on mainnet, testnet4, signet)",
           RUN, secret=True, default_text="not set"),
    Option("bitcoind_cookie", FilePath(), None, "bitcoind .cookie file for RPC auth instead of user:pass",
           RUN, default_text="not set"),
    Option("devchain", Flag(), lambda c: c.params.name == "devnet",
           "without --bitcoind, mine an embedded dev chain (devnet, regtest)", RUN),
    Option("devchain_bits", CompactBits(), f"{DEFAULT_BITS:08x}",
           "block difficulty of the embedded dev chain as compact nBits", RUN,
           default_text=f"{DEFAULT_BITS:08x}, about 2^24 hashes a block"),
    Option("payout_address", Text("an address"), None,
           "address the built-in miner is paid to (devnet, regtest: one is made up and kept in the datadir)",
           RUN, default_text="not set"),
    Option("stratum", ListenAddress("0.0.0.0"), lambda c: f"0.0.0.0:{c.params.default_stratum_port}",
           "Stratum v1 listen address for miners", RUN),
    Option("stratum_processes", Integer(1, 256), 1,
           "processes serving Stratum connections: 1 serves them in the node's own process; more spread them over "
           "that many worker processes (about one a core for thousands of miners), the sharechain staying in the "
           "node's", RUN),
    Option("stratum_difficulty", Number(1e-10, 1e12), 1.0,
           "starting Stratum difficulty of a new connection (vardiff then adjusts it)", RUN),
    Option("stratum_submit_interval", Number(0.1, 3600.0), 10.0,
           "seconds between shares that vardiff aims for on each connection", RUN),
    Option("stratum_tls", ListenAddress("0.0.0.0", optional=True), None,
           "also serve Stratum over TLS (stratum+ssl://) on this address; needs --stratum-tls-cert and "
           "--stratum-tls-key", RUN, default_text="not set: no TLS port"),
    Option("stratum_tls_cert", FilePath(), None, "PEM certificate chain of --stratum-tls", RUN,
           default_text="not set"),
    Option("stratum_tls_key", FilePath(), None, "the PEM private key of --stratum-tls-cert", RUN,
           default_text="not set"),
    Option("stratum_max_workers", Integer(1, 100_000), 256,
           "worker names one Stratum connection may authorize; an authorize past it is refused", RUN),
    Option("stratum_max_per_ip", Integer(1, 1_000_000), 256,
           "Stratum connections from one IP address (see --stratum-allow); more are refused at accept", RUN),
    Option("stratum_allow", IpNetworks(), [],
           "IP or CIDR with no per-IP cap, such as a miner farm behind one address (repeatable)", RUN,
           default_text="none"),
    Option("stratum_auth_timeout", Number(1.0, 3600.0), 30.0,
           "seconds a Stratum connection has to subscribe and authorize before it is closed", RUN),
    Option("stratum_idle_timeout", Number(10.0, 86_400.0), 600.0,
           "seconds a Stratum connection may send nothing before it is closed", RUN),
    Option("stratum_submit_rate", Number(0.1, 1e6), 100.0,
           "submits per second one Stratum connection may send (a token bucket); more are refused", RUN),
    Option("stratum_submit_burst", Integer(1, 10_000_000), 200,
           "submits one Stratum connection may send at once before --stratum-submit-rate applies", RUN),
    Option("stratum_ban_strikes", Integer(0, 1_000_000), 100,
           "net invalid submits (each accepted one forgives one; stale ones do not count) that ban an IP "
           "(0: never ban)", RUN),
    Option("stratum_ban_seconds", Integer(1, 31_536_000), 600,
           "how long such a ban lasts; kept in stratum-bans.json in the datadir (SIGHUP reloads it)", RUN),
    Option("api", ListenAddress("127.0.0.1"), lambda c: f"127.0.0.1:{c.params.default_api_port}",
           "HTTP API listen address (/api/status, /metrics)"),
    Option("api_token", Token(), None,
           "bearer token of the API's admin endpoints", secret=True,
           default_text="the file api-token in the datadir, made on first start (mode 0600)"),
    Option("api_token_file", FilePath(), None, "read the API's admin token from this file",
           default_text="not set"),
    Option("api_cors", Origins(), [], "allow cross-origin API requests from this origin (repeatable)",
           default_text="none: CORS off"),
    Option("api_tls_cert", FilePath(), None, "serve the API over HTTPS with this PEM certificate chain",
           default_text="not set: plain HTTP"),
    Option("api_tls_key", FilePath(), None, "the PEM private key of --api-tls-cert", default_text="not set"),
    Option("no_miner", Flag(), False, "do not start the built-in miner", RUN),
    Option("miner_threads", Integer(1, 1024), 1, "built-in miner threads", RUN),
    Option("miner_opencl", Flag(), False, "built-in miner on OpenCL devices", RUN),
    Option("reindex", Flag(), False, "repair the share database and re-validate every stored share"),
    Option("p2p", Multiaddrs(peer=False, nonempty=True), lambda c: [f"/ip4/0.0.0.0/tcp/{c.params.default_p2p_port}"],
           "P2P listen address (repeatable)"),
    Option("bootstrap", Multiaddrs(peer=True), [],
           "seed to dial at start: a peer /ip4/HOST/tcp/PORT/p2p/PEER_ID or a DNS seed /dnsaddr/NAME (repeatable)",
           default_text="none"),
    Option("no_p2p", Flag(), False, "run alone: no P2P network"),
    Option("no_seeds", Flag(), False, "do not dial the network's default seed nodes (bootstrap/)"),
    Option("max_outbound", Integer(0, 1000), 8, "outbound peer connections to keep"),
    Option("max_inbound", Integer(0, 10000), 32, "inbound peer connections accepted"),
    Option("seed_file", FilePath(), None, "more seeds to dial at start, one per line (the format is in docs/p2p.md)",
           default_text="not set"),
    Option("announce", Multiaddrs(peer=False, announce=True), [],
           "address peers should dial instead of the listen address, for a node behind NAT or a proxy, e.g. "
           "/ip4/203.0.113.5/tcp/9338 (repeatable)", default_text="none: the listen addresses"),
    Option("max_per_ip", Integer(1, 10000), 4, "inbound connections from one IP address (loopback is exempt)"),
    Option("max_per_subnet", Integer(1, 100000), 8, "inbound connections from one /24 (IPv4) or /48 (IPv6) subnet"),
    Option("no_dht", Flag(), False, "do not look for peers through the network's DHT"),
    Option("mine_while_syncing", Flag(), False, "give miners work even while the sharechain is behind its peers", RUN),
    Option("log_level", Choice(LOG_LEVELS), "info", "how much to log (SIGHUP reloads it)"),
    Option("log_format", Choice(LOG_FORMATS), "text", "text: readable lines; json: one JSON object a line, "
           "for log collectors"),
    Option("log_file", FilePath(), None, "write the log to this file instead of stderr, rotated by size",
           default_text="not set: stderr"),
    Option("log_file_max_mb", Integer(1, 100_000), 50, "rotate --log-file when it reaches this many MiB"),
    Option("log_file_backups", Integer(0, 1000), 5, "rotated log files kept (FILE.1 ... FILE.N)"),
    Option("notify_webhook", WebhookUrl(), None, "POST a JSON notification here on block found, worker offline "
           "and node unhealthy (SIGHUP reloads it)", secret=True, default_text="not set"),
    Option("notify_command", Command(), None, "run this command on the same notifications, the JSON on its "
           "stdin (SIGHUP reloads it)", default_text="not set"),
    Option("notify_worker_offline", Integer(0, 10_080), 10, "minutes a worker must be gone before a notification "
           "says so (0: never)", RUN),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


def for_command(command: str) -> tuple[Option, ...]:
    return tuple(option for option in OPTIONS if command in option.commands)


# Keys of earlier versions that are spelt differently now.
_RENAMED = {"sync_wait": ["mine_while_syncing"], "rpc": ["bitcoind"], "threads": ["miner_threads"],
            "stratum_port": ["stratum"], "api_port": ["api"], "p2p_port": ["p2p"]}


def closest(key: str) -> str | None:
    """The option a misspelt or inverted key (``miner`` -> ``no_miner``) probably meant, if any."""
    name = key.lower().replace("-", "_")
    inverted = sorted({"no_" + name, name.removeprefix("no_")} & BY_NAME.keys())
    close = inverted or _RENAMED.get(name) or difflib.get_close_matches(name, BY_NAME, n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(key: str) -> str:
    """``"; did you mean X?"`` naming :func:`closest`, or ``""``."""
    close = closest(key)
    return f"; did you mean {close}?" if close else ""
