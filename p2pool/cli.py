"""The ``otedama`` command: ``run`` a node, a seed node (``bootstrap``), check its ``config``, serve
the ``devchain``, start a local ``devnet``, ``mine`` against any Stratum pool, ``backup`` a running
node and ``restore`` a backup; and ask a running node (``status``, ``workers``, ``peers``, ``payouts``,
``blocks``, ``shares``, ``miner``, and the admin ``mining``, ``ban``, ``unban``: :mod:`p2pool.client`)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from p2pool import gc_policy, systemd
from p2pool.client import COMMANDS as CLIENT_COMMANDS
from p2pool.client import add_client_commands, run_client
from p2pool.config import ConfigError, NodeConfig, Resolved, datadir_problem, load_config
from p2pool.config.argv import add_options, argv_values
from p2pool.config.options import LOG_FORMATS, LOG_LEVELS
from p2pool.config.render import render_toml
from p2pool.config.values import Choice, CompactBits, FilePath, Integer, Invalid, Kind, ListenAddress
from p2pool.logs import NODE_NAME, LogSettings, setup_logging
from p2pool.storage.share_store import StoreError
from p2pool.version import otedama_version

log = logging.getLogger("otedama")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otedama", description="Peer-to-peer Bitcoin mining pool node")
    parser.add_argument("--version", action="version", version=f"otedama {otedama_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a node (embedded dev chain on devnet unless --bitcoind is given)")
    add_options(run, "run")
    seed = commands.add_parser("bootstrap", help="run a seed node: validates, relays and serves shares to peers "
                                                 "(no bitcoind, no miners)")
    add_options(seed, "bootstrap")
    _config_parser(commands)

    devnet = commands.add_parser("devnet", help="a local federation to watch: one dev chain, N mining nodes")
    devnet.add_argument("--nodes", type=_typed(Integer(1, 50)), default=3, metavar="N", help="how many nodes (default: 3)")
    devnet.add_argument("--datadir", type=Path, default=Path("~/.otedama/devnet-federation"), metavar="PATH",
                        help="holds the dev chain and one directory per node (default: ~/.otedama/devnet-federation)")
    devnet.add_argument("--base-port", type=_typed(Integer(0, 65000)), default=19400, metavar="PORT",
                        help="node i listens on BASE+3i (Stratum), +1 (API), +2 (P2P); the dev chain on BASE-1; "
                             "0: any free ports (default: 19400)")
    devnet.add_argument("--devchain-bits", type=_typed(CompactBits()), metavar="HEX",
                        help="dev chain block difficulty as compact nBits (default: about 2^24 hashes a block)")
    devnet.add_argument("--miner-threads", type=_typed(Integer(1, 1024)), default=1, metavar="N",
                        help="built-in miner threads per node (default: 1)")
    _log_level(devnet)

    dev = commands.add_parser("devchain", help="serve the embedded dev chain over JSON-RPC for several nodes")
    dev.add_argument("--datadir", type=Path, default=Path("~/.otedama/devchain"), metavar="PATH",
                     help="where its blocks are kept (default: ~/.otedama/devchain)")
    dev.add_argument("--rpc", type=_typed(ListenAddress("127.0.0.1")), default="127.0.0.1:18555", metavar="HOST:PORT",
                     help="JSON-RPC listen address (default: 127.0.0.1:18555)")
    dev.add_argument("--bits", type=_typed(CompactBits()), metavar="HEX",
                     help="block difficulty as compact nBits (default: about 2^24 hashes a block)")
    _log_level(dev)

    mine = commands.add_parser("mine", help="mine against a Stratum v1 pool with the built-in miner")
    mine.add_argument("--url", required=True, help="stratum+tcp://HOST:PORT (required)")
    mine.add_argument("--user", required=True, help="payout address, optionally ADDRESS.WORKER (required)")
    mine.add_argument("--password", default="x", help="(default: x)")
    mine.add_argument("--threads", type=_typed(Integer(1, 1024)), metavar="N", help="CPU threads (default: all cores)")
    mine.add_argument("--opencl", action="store_true", help="mine on OpenCL devices (default: CPU)")
    _log_level(mine)
    from p2pool.backup.command import add_backup_commands

    add_backup_commands(commands)
    add_client_commands(commands, _typed)
    return parser


def _config_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="show or check the configuration without starting anything")
    actions = config.add_subparsers(dest="action", required=True)
    show = ("print the effective configuration as TOML, where each value came from and secrets redacted "
            "(a valid config file itself)")
    validate = "check the configuration: exit 0 and 'configuration OK', or exit 1 and every reason"
    for action, text in (("show", show), ("validate", validate)):
        parser = actions.add_parser(action, help=text, description=text)
        parser.add_argument("--for", dest="target", choices=("run", "bootstrap"), default="run",
                            help="the command whose configuration to check (default: run)")
        add_options(parser, "run")


def _typed(kind: Kind) -> Callable[[str], Any]:
    """An argparse ``type`` that parses text as the config does, with the same message."""

    def parse(text: str) -> Any:
        try:
            return kind.parse(text, True)
        except Invalid as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return parse


def _log_level(parser: argparse.ArgumentParser) -> None:
    """The log options of the commands that are not driven by the option table."""
    parser.add_argument("--log-level", type=_typed(Choice(LOG_LEVELS)), default="info",
                        metavar="{" + ",".join(LOG_LEVELS) + "}", help="how much to log (default: info)")
    parser.add_argument("--log-format", type=_typed(Choice(LOG_FORMATS)), default="text",
                        metavar="{" + ",".join(LOG_FORMATS) + "}", help="text or json lines (default: text)")
    parser.add_argument("--log-file", type=_typed(FilePath()), metavar="PATH",
                        help="log to this file, rotated at 50 MiB, 5 kept (default: stderr)")


def _setup_logging(args: argparse.Namespace) -> None:
    setup_logging(LogSettings(level=args.log_level, format=args.log_format, file=args.log_file))


def _node_logging(config: NodeConfig) -> None:
    setup_logging(LogSettings(level=config.log_level, format=config.log_format, file=config.log_file,
                              max_bytes=config.log_file_max_mb * 1024 * 1024, backups=config.log_file_backups))


async def _until_signal(main: Callable[[], Awaitable[Any]], reload: Callable[[], None] | None = None) -> None:
    """Run ``main`` until it returns or SIGINT/SIGTERM arrives, then cancel everything cleanly; SIGHUP calls
    ``reload`` (when given)."""
    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if reload is not None else [])
    with trio.open_signal_receiver(*wanted) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for signum in signals:
                    if signum == signal.SIGHUP and reload is not None:
                        log.info("SIGHUP received, reloading the configuration")
                        reload()
                        continue
                    log.info("%s received, shutting down", signal.Signals(signum).name)
                    systemd.notify("STOPPING=1")
                    nursery.cancel_scope.cancel()
                    return

            async def body() -> None:
                await main()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            nursery.start_soon(body)


def _load(args: argparse.Namespace, command: str) -> Resolved:
    return load_config(command=command, config_file=args.config, environ=os.environ, argv=argv_values(args))


def _run_node(args: argparse.Namespace) -> int:
    from p2pool.node import Node

    config = _load(args, args.command).config
    _node_logging(config)
    node = Node(config)

    def reload() -> None:
        try:
            node.reload(_load(args, args.command).config)
        except ConfigError as exc:
            for reason in exc.reasons:
                log.error("configuration not reloaded: %s", reason)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            endpoints = await nursery.start(node.run)
            gc_policy.started()
            systemd.notify("READY=1", f"STATUS=mining on {config.network}: Stratum port {endpoints.stratum_port}, "
                           f"API port {endpoints.api_port}" if not config.seed else
                           f"STATUS=seed node on {config.network}, API port {endpoints.api_port}")
            if (interval := systemd.watchdog_interval()) is not None:
                nursery.start_soon(systemd.run_watchdog, interval)

    gc_policy.tune_for_a_server()
    trio.run(_until_signal, main, reload)
    return 0


def _config(args: argparse.Namespace) -> int:
    """``otedama config show|validate``: exit 1 and every reason when the configuration is unusable."""
    try:
        resolved = _load(args, args.target)
    except ConfigError as exc:
        _print_errors(exc.reasons)
        return 1
    if args.action == "show":
        print(render_toml(resolved, command=args.target, version=otedama_version()), end="")
        return 0
    if problem := datadir_problem(resolved.config.datadir):
        _print_errors([problem])
        return 1
    print("configuration OK")
    return 0


def _run_devchain(args: argparse.Namespace) -> int:
    from p2pool.devchain.server import serve_devchain
    from p2pool.devchain.service import DevchainConfig

    _setup_logging(args)
    config = DevchainConfig(datadir=args.datadir.expanduser(), host=args.rpc.host, port=args.rpc.port)
    if args.bits:
        config = replace(config, bits=args.bits)
    trio.run(_until_signal, lambda: serve_devchain(config))
    return 0


def _run_miner(args: argparse.Namespace) -> int:
    from miner.miner import MinerConfig, run_miner

    _setup_logging(args)
    config = MinerConfig(url=args.url, user=args.user, password=args.password, threads=args.threads,
                         kernel="opencl" if args.opencl else "auto")
    trio.run(_until_signal, lambda: run_miner(config))
    return 0


def _run_devnet(args: argparse.Namespace) -> int:
    from p2pool.devnet import DevnetConfig, run_devnet

    _setup_logging(args)
    NODE_NAME.set("devnet")  # the lines of the federation itself (signals included); each node names its own
    config = DevnetConfig(nodes=args.nodes, datadir=args.datadir.expanduser(), base_port=args.base_port,
                          devchain_bits=args.devchain_bits, miner_threads=args.miner_threads, log_level=args.log_level)
    trio.run(_until_signal, lambda: run_devnet(config))
    return 0


def _print_errors(reasons: Sequence[object]) -> None:
    for reason in reasons:
        print(f"otedama: error: {reason}", file=sys.stderr)


def _reasons(exc: BaseException) -> Sequence[object]:
    return exc.reasons if isinstance(exc, ConfigError) else [exc]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from p2pool.backup.command import run_backup, run_restore

    handlers = {"run": _run_node, "bootstrap": _run_node, "config": _config, "devchain": _run_devchain,
                "mine": _run_miner, "devnet": _run_devnet, "backup": run_backup, "restore": run_restore,
                **dict.fromkeys(CLIENT_COMMANDS, run_client)}
    try:
        return handlers[args.command](args)
    except (ConfigError, StoreError) as exc:
        _print_errors(_reasons(exc))
        return 2
    except BaseExceptionGroup as group:  # raised from inside a nursery
        operator_errors = group.subgroup(lambda exc: isinstance(exc, (ConfigError, StoreError)))
        if operator_errors is None:
            raise
        for error in _leaves(operator_errors):
            _print_errors(_reasons(error))
        return 2


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


if __name__ == "__main__":
    sys.exit(main())
