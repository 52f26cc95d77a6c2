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
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

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


def _compact_bits(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hex compact bits such as 1e00ffff") from None


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)


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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run_node, "devchain": _run_devchain, "mine": _run_miner}
    try:
        return handlers[args.command](args)
    except (ConfigError, StoreError) as exc:
        print(f"otedama: error: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:  # raised from inside a nursery
        operator_errors = group.subgroup(lambda exc: isinstance(exc, (ConfigError, StoreError)))
        if operator_errors is None:
            raise
        for exc in _leaves(operator_errors):
            print(f"otedama: error: {exc}", file=sys.stderr)
        return 2


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


if __name__ == "__main__":
    sys.exit(main())
