"""``otedama backup DIR`` and ``otedama restore DIR``: their options and what they print.

``backup`` asks the running node's API (``--api``, by default the network's API address on this
machine) with its admin token (``--token``, ``--token-file``, or the file ``api-token`` in the
datadir); ``restore`` writes into ``--datadir`` (by default the backup's network's datadir under
``$OTEDAMA_HOME``). Both exit 0 when done and 2, with one line saying why, when not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from p2pool.backup.client import NodeApi, api_url, download
from p2pool.backup.manifest import BackupError, Manifest, read_manifest
from p2pool.backup.restore import RESTORED_CONFIG, restore
from sharechain.params import NETWORKS, network

_TOKEN_FILE = "api-token"


def add_backup_commands(commands: Any) -> None:
    backup = commands.add_parser("backup", help="write a consistent snapshot of a running node into DIR",
                                 description="Ask a running node for a consistent snapshot (sharechain, peer book "
                                             "and bans, identity key, config, statistics) and write it into DIR.")
    backup.add_argument("dir", type=Path, metavar="DIR", help="a new (or empty) directory for the backup")
    backup.add_argument("--network", choices=tuple(NETWORKS), default="devnet",
                        help="the node's network, for the default --api and --datadir (default: devnet)")
    backup.add_argument("--api", metavar="HOST:PORT", help="the node's API (default: the network's, on 127.0.0.1); "
                                                          "https://HOST:PORT for HTTPS")
    backup.add_argument("--datadir", type=Path, metavar="PATH", help="the node's datadir, for its token file "
                                                                     "(default: $OTEDAMA_HOME/NETWORK)")
    backup.add_argument("--token", metavar="TOKEN", help="the API's admin token (default: DATADIR/api-token)")
    backup.add_argument("--token-file", type=Path, metavar="PATH",
                        help="read the admin token from this file (default: not set)")
    backup.add_argument("--cacert", type=Path, metavar="PATH",
                        help="trust this certificate for an HTTPS API (default: the system's CAs)")

    restore_parser = commands.add_parser("restore", help="verify a backup and write it into a datadir no node uses",
                                         description="Verify the backup in DIR and write it into a datadir that no "
                                                     "node is using.")
    restore_parser.add_argument("dir", type=Path, metavar="DIR", help="a directory written by otedama backup")
    restore_parser.add_argument("--datadir", type=Path, metavar="PATH",
                                help="where to restore (default: $OTEDAMA_HOME/NETWORK of the backup)")
    restore_parser.add_argument("--force", action="store_true",
                                help="restore into a datadir that holds something, its sharechain moved aside "
                                     "(default: refuse)")


def _home() -> Path:
    return Path(os.environ.get("OTEDAMA_HOME") or "~/.otedama").expanduser()


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    path = args.token_file or (args.datadir or _home() / args.network).expanduser() / _TOKEN_FILE
    try:
        return path.expanduser().read_text().strip()
    except OSError as exc:
        raise BackupError(f"cannot read the admin token from {path} ({exc.strerror or exc}); give --token, "
                          "--token-file or the node's --datadir") from None


def run_backup(args: argparse.Namespace) -> int:
    address = args.api or f"127.0.0.1:{network(args.network).default_api_port}"
    try:
        api = NodeApi(api_url(address), _token(args), args.cacert)
        manifest = download(api, args.dir.expanduser())
    except BackupError as exc:
        return _fail(exc)
    print(f"backup of the {manifest.network} node {manifest.peer_id or '(no P2P)'} written to {args.dir}")
    _summary(manifest)
    return 0


def run_restore(args: argparse.Namespace) -> int:
    try:
        datadir = (args.datadir or _home() / read_manifest(args.dir.expanduser()).network).expanduser()
        manifest = restore(args.dir.expanduser(), datadir, force=args.force)
    except BackupError as exc:
        return _fail(exc)
    print(f"restored the backup of {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(manifest.created))} into "
          f"{datadir}")
    _summary(manifest)
    print(f"its configuration is in {datadir / RESTORED_CONFIG}; start it with: otedama run --network "
          f"{manifest.network} --datadir {datadir} (see that file for the other options)")
    return 0


def _summary(manifest: Manifest) -> None:
    print(f"  sharechain: {manifest.shares} shares, tip {manifest.tip or '-'} at height "
          f"{manifest.height if manifest.height is not None else '-'}")
    print(f"  blocks found: {manifest.blocks_found}; files: {', '.join(entry.name for entry in manifest.files)}")


def _fail(exc: BackupError) -> int:
    print(f"otedama: error: {exc}", file=sys.stderr)
    return 2
