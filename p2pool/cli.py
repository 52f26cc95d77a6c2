"""The ``otedama`` command: ``run`` a node, serve the ``devchain``, or ``mine`` against any Stratum pool."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from p2pool.config import ConfigError, build_config, load_config_file
from sharechain.params import NETWORKS
from sharechain.store import StoreError

log = logging.getLogger("otedama")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otedama", description="Peer-to-peer Bitcoin mining pool node")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a node (embedded dev chain unless --bitcoind is given)")
    run.add_argument("--config", type=Path, help="TOML file with any of these options (long names as keys)")
    run.add_argument("--network", choices=sorted(NETWORKS), help="network to join (default devnet)")
    run.add_argument("--datadir", help="where shares and state are kept (default ~/.otedama/NETWORK)")
    run.add_argument("--bitcoind", metavar="URL", help="bitcoind JSON-RPC, e.g. http://user:pass@127.0.0.1:8332")
    run.add_argument("--bitcoind-cookie", metavar="FILE", help="bitcoind .cookie file for RPC auth")
    run.add_argument("--payout-address", help="address the built-in miner is paid to")
    run.add_argument("--stratum", metavar="HOST:PORT", help="Stratum listen address")
    run.add_argument("--api", metavar="HOST:PORT", help="HTTP API listen address")
    run.add_argument("--miner-threads", type=int, metavar="N", help="built-in miner threads (default 1)")
    run.add_argument("--no-miner", dest="miner", action="store_const", const=False, help="do not start the built-in miner")
    run.add_argument("--miner-opencl", action="store_const", const=True, help="built-in miner on OpenCL devices")
    run.add_argument("--stratum-difficulty", type=float, help="starting Stratum difficulty for new connections")
    run.add_argument("--devchain-bits", type=_compact_bits, metavar="HEX",
                     help="block difficulty of the embedded dev chain as compact nBits (default: ~2^24 hashes/block)")
    run.add_argument("--reindex", action="store_const", const=True, help="repair the share database and re-validate it")
    _p2p_arguments(run)
    run.add_argument("--mine-while-syncing", dest="sync_wait", action="store_const", const=False,
                     help="give miners work even while the sharechain is behind its peers")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    seed = commands.add_parser("bootstrap", help="run a seed node: validates, relays and serves shares to peers "
                                                 "(no bitcoind, no miners)")
    seed.add_argument("--config", type=Path, help="TOML file with any of these options (long names as keys)")
    seed.add_argument("--network", choices=sorted(NETWORKS), help="network to serve (default devnet)")
    seed.add_argument("--datadir", help="where shares and state are kept (default ~/.otedama/NETWORK)")
    seed.add_argument("--api", metavar="HOST:PORT", help="HTTP API listen address")
    _p2p_arguments(seed)
    seed.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    devnet = commands.add_parser("devnet", help="a local federation to watch: one dev chain, N mining nodes")
    devnet.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    devnet.add_argument("--datadir", type=Path, default=Path("~/.otedama/devnet-federation"),
                        help="holds the dev chain and one directory per node")
    devnet.add_argument("--base-port", type=int, default=19400,
                        help="node i listens on BASE+3i (Stratum), +1 (API), +2 (P2P); the dev chain on BASE-1")
    devnet.add_argument("--devchain-bits", type=_compact_bits, metavar="HEX", help="dev chain block difficulty")
    devnet.add_argument("--miner-threads", type=int, default=1, help="built-in miner threads per node")
    devnet.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")

    dev = commands.add_parser("devchain", help="serve the embedded dev chain over JSON-RPC for several nodes")
    dev.add_argument("--datadir", type=Path, default=Path("~/.otedama/devchain"), help="where its blocks are kept")
    dev.add_argument("--rpc", metavar="HOST:PORT", default="127.0.0.1:18555", help="JSON-RPC listen address")
    dev.add_argument("--bits", type=_compact_bits, metavar="HEX", help="block difficulty as compact nBits")
    dev.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")

    mine = commands.add_parser("mine", help="mine against a Stratum v1 pool with the built-in miner")
    mine.add_argument("--url", required=True, help="stratum+tcp://HOST:PORT")
    mine.add_argument("--user", required=True, help="payout address (optionally ADDRESS.WORKER)")
    mine.add_argument("--password", default="x")
    mine.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    mine.add_argument("--opencl", action="store_true", help="mine on OpenCL devices")
    mine.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    return parser


def _p2p_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p2p", action="append", metavar="MULTIADDR",
                        help="P2P listen address, e.g. /ip4/0.0.0.0/tcp/9338 (repeatable; default: the network's port)")
    parser.add_argument("--bootstrap", action="append", metavar="MULTIADDR",
                        help="peer to connect to at start, /ip4/HOST/tcp/PORT/p2p/PEER_ID (repeatable)")
    parser.add_argument("--no-p2p", action="store_const", const=True, help="run alone: no P2P network")
    parser.add_argument("--no-seeds", dest="seeds", action="store_const", const=False,
                        help="do not dial the network's default seed nodes (bootstrap/)")
    parser.add_argument("--max-outbound", type=int, metavar="N", help="outbound peer connections to keep (default 8)")
    parser.add_argument("--max-inbound", type=int, metavar="N", help="inbound peer connections accepted (default 32)")
    parser.add_argument("--seed-file", metavar="FILE",
                        help="seed peers to dial at start, one per line (the format is in docs/p2p.md)")
    parser.add_argument("--announce", action="append", metavar="MULTIADDR",
                        help="address peers should dial, instead of the listen address (behind NAT or a proxy), "
                             "e.g. /ip4/203.0.113.5/tcp/9338 (repeatable)")
    parser.add_argument("--max-per-ip", type=int, metavar="N", help="inbound connections from one IP address (default 4)")
    parser.add_argument("--max-per-subnet", type=int, metavar="N",
                        help="inbound connections from one /24 (IPv4) or /48 (IPv6) subnet (default 8)")
    parser.add_argument("--no-dht", dest="dht", action="store_const", const=False,
                        help="do not look for peers through the network's DHT")


def _compact_bits(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hex compact bits such as 1e00ffff") from None


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # libp2p logs routine events (a peer going away, a full queue) as errors; ours say what matters.
    logging.getLogger("libp2p").setLevel(logging.DEBUG if level == "debug" else logging.CRITICAL)


async def _until_signal(main: Callable[[], Awaitable[Any]]) -> None:
    """Run ``main`` until it returns or SIGINT/SIGTERM arrives, then cancel everything cleanly."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for signum in signals:
                    log.info("%s received, shutting down", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return

            async def body() -> None:
                await main()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            nursery.start_soon(body)


def _run_node(args: argparse.Namespace) -> int:
    from p2pool.node import Node

    file_values = load_config_file(args.config) if args.config else {}
    cli_values = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    if args.command == "bootstrap":
        cli_values.update(seed=True, miner=False)
    config = build_config(file_values, cli_values)
    _setup_logging(config.log_level)
    node = Node(config)
    trio.run(_until_signal, node.run)
    return 0


def _run_devchain(args: argparse.Namespace) -> int:
    from p2pool.config import parse_endpoint
    from p2pool.devchain.server import serve_devchain
    from p2pool.devchain.service import DevchainConfig

    _setup_logging(args.log_level)
    host, port = parse_endpoint(args.rpc, "127.0.0.1", 18555, "--rpc")
    config = DevchainConfig(datadir=args.datadir.expanduser(), host=host, port=port)
    if args.bits:
        config = replace(config, bits=args.bits)
    trio.run(_until_signal, lambda: serve_devchain(config))
    return 0


def _run_miner(args: argparse.Namespace) -> int:
    from miner.miner import MinerConfig, run_miner

    _setup_logging(args.log_level)
    config = MinerConfig(url=args.url, user=args.user, password=args.password, threads=args.threads,
                         kernel="opencl" if args.opencl else "auto")
    trio.run(_until_signal, lambda: run_miner(config))
    return 0


def _run_devnet(args: argparse.Namespace) -> int:
    from p2pool.p2p.devnet import DevnetConfig, run_devnet

    _setup_logging(args.log_level)
    if not 1 <= args.nodes <= 50:
        raise ConfigError("--nodes must be between 1 and 50")
    config = DevnetConfig(nodes=args.nodes, datadir=args.datadir.expanduser(), base_port=args.base_port,
                          devchain_bits=args.devchain_bits, miner_threads=args.miner_threads, log_level=args.log_level)
    trio.run(_until_signal, lambda: run_devnet(config))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run_node, "bootstrap": _run_node, "devchain": _run_devchain, "mine": _run_miner,
                "devnet": _run_devnet}
    try:
        return handlers[args.command](args)
    except (ConfigError, StoreError) as exc:
        print(f"otedama: error: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:  # raised from inside a nursery
        operator_errors = group.subgroup(lambda exc: isinstance(exc, (ConfigError, StoreError)))
        if operator_errors is None:
            raise
        for error in _leaves(operator_errors):
            print(f"otedama: error: {error}", file=sys.stderr)
        return 2


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


if __name__ == "__main__":
    sys.exit(main())
