"""The command line's client commands: ``otedama status | workers | peers | payouts | blocks | shares |
miner ADDRESS`` (and the admin ``mining start|stop``, ``ban``/``unban``) ask a running node's API and
print a readable table, or its JSON with ``--json``.

``--api HOST:PORT`` (default: the network's API address on 127.0.0.1); admin commands send ``--token``
or the datadir's ``api-token`` file. When no node answers: one line on stderr and exit code 2; when
the node refuses: its error and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from p2pool.config.values import Integer, ListenAddress
from p2pool.table import render_table
from sharechain.params import NETWORKS, network

COIN = 100_000_000
TIMEOUT = 10.0
READS = ("status", "workers", "peers", "payouts", "blocks", "shares", "miner")


class ClientError(Exception):
    """The command cannot be done: ``code`` 2 when no node answers, 1 when it refused."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_client_commands(commands: Any, typed: Callable[[Any], Callable[[str], Any]]) -> None:
    """The client subcommands, each with ``--api``, ``--network``, ``--json`` (and paging where it lists)."""
    helps = {"status": "the node at a glance: health, hash rate, sharechain, effort, blocks",
             "workers": "this node's Stratum workers", "peers": "connected peers and bans",
             "payouts": "what the next block would pay, per address", "blocks": "blocks this node found",
             "shares": "the recent sharechain, main and side", "miner": "one payout address: workers, shares, payouts"}
    for name in READS:
        parser = commands.add_parser(name, help=f"{helps[name]} (asks a running node)")
        _common(parser, typed)
        if name == "miner":
            parser.add_argument("address", help="the payout address (required: no default)")
        if name in ("workers", "peers", "blocks", "shares"):
            parser.add_argument("--limit", type=typed(Integer(1, 500)), default=20, metavar="N",
                                help="how many (default: 20)")
            parser.add_argument("--cursor", help="the next page, as printed at the end of a page (default: the first)")
        if name == "payouts":
            parser.add_argument("--finder", metavar="ADDRESS", help="the address assumed to find the block (default: "
                                                                        "the node's built-in miner, else its latest worker)")
    mining = commands.add_parser("mining", help="start or stop a running node's built-in miner (admin)")
    mining.add_argument("action", choices=("start", "stop"), help="start or stop (required: no default)")
    mining.add_argument("--threads", type=typed(Integer(1, 1024)), metavar="N",
                        help="CPU threads, for start (default: as the node was configured)")
    _common(mining, typed, admin=True)
    for action in ("ban", "unban"):
        parser = commands.add_parser(action, help=f"{action} a peer of a running node (admin)")
        parser.add_argument("peer_id", metavar="PEER_ID", help="the peer's ID (required: no default)")
        if action == "ban":
            parser.add_argument("--duration", type=float, default=86400.0, metavar="SECONDS",
                                help="how long (default: 86400)")
            parser.add_argument("--reason", default="banned by the operator",
                                help="why, for the ban list (default: banned by the operator)")
        _common(parser, typed, admin=True)


def _common(parser: argparse.ArgumentParser, typed: Callable[[Any], Callable[[str], Any]], admin: bool = False) -> None:
    parser.add_argument("--network", choices=tuple(NETWORKS), default="devnet",
                        help="the node's network, for the default --api and --datadir (default: devnet)")
    parser.add_argument("--api", type=typed(ListenAddress("127.0.0.1")), metavar="HOST:PORT",
                        help="the node's API (default: 127.0.0.1 and the network's API port)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON (default: a table)")
    if admin:
        parser.add_argument("--token", help="the node's API token (default: read from the datadir)")
        parser.add_argument("--datadir", type=Path, metavar="PATH",
                            help="the node's datadir, to read its api-token (default: ~/.otedama/NETWORK)")


def run_client(args: argparse.Namespace) -> int:
    try:
        api = Api(_base_url(args), _token(args) if args.command in ("mining", "ban", "unban") else None)
        return COMMANDS[args.command](api, args)
    except ClientError as exc:
        print(f"otedama: error: {exc}", file=sys.stderr)
        return exc.code


class Api:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.token = token

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, json=body)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            reply = httpx.request(method, self.base + path, headers=headers, timeout=TIMEOUT, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(f"no node answers at {self.base} ({_reason(exc)}); is it running? (--api HOST:PORT)",
                              2) from None
        try:
            body = reply.json()
        except ValueError:
            raise ClientError(f"{self.base}{path} answered HTTP {reply.status_code} with no JSON: is that an "
                              "otedama node?", 2) from None
        if reply.status_code >= 400:
            message = body.get("error") or body.get("message") if isinstance(body, dict) else None
            raise ClientError(f"the node refused ({reply.status_code}): {message or body}", 1)
        return body


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    return "connection refused" if "refused" in text.lower() else text


def _base_url(args: argparse.Namespace) -> str:
    if args.api is not None:
        return f"http://{args.api.host}:{args.api.port}"
    return f"http://127.0.0.1:{network(args.network).default_api_port}"


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    datadir = (args.datadir or Path("~/.otedama") / args.network).expanduser()
    path = datadir / "api-token"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ClientError(f"cannot read the API token {path} ({exc.strerror}): give --token or --datadir", 2) from None


# --- the commands ---------------------------------------------------------------------------------------
def _print(args: argparse.Namespace, document: Any, table: Callable[[Any], str]) -> int:
    print(json.dumps(document, indent=2) if args.json else table(document))
    return 0


def _status(api: Api, args: argparse.Namespace) -> int:
    status, stats = api.get("/api/status"), api.get("/api/stats")
    if args.json:
        return _print(args, {"status": status, "stats": stats}, str)
    sharechain = status.get("sharechain", {})
    rows = [
        ("network", status.get("network")),
        ("health", "healthy" if status.get("healthy") else "unhealthy: " + "; ".join(status.get("problems", []))),
        ("pool hash rate", _rates(stats["pool"]["hashrate"])),
        ("local hash rate", _rates(stats["local"]["hashrate"])),
        ("sharechain", f"height {sharechain.get('height')}, {sharechain.get('shares')} shares"),
        ("window", (f"{stats['window']['shares']} shares, {stats['window']['uncles']} uncles, "
                   f"{stats['window']['orphans']} orphans")),
        ("share difficulty", _number(stats["share_difficulty"])),
        ("network difficulty", _number(stats["network_difficulty"])),
        ("effort", "-" if stats["effort"] is None else f"{stats['effort']:.1f} %"),
        ("expected block in", _duration(stats["expected_block_seconds"])),
        ("blocks found", str(stats["blocks_found"])),
        ("miners connected", str(status.get("miners_connected", 0))),
        ("peers", str(status.get("peers", 0))),
    ]
    print(render_table(["", ""], [[k, str(v)] for k, v in rows], header=False))
    return 0


def _workers(api: Api, args: argparse.Namespace) -> int:
    page = api.get("/api/workers", limit=args.limit, cursor=args.cursor)
    return _print(args, page, lambda p: _paged(p, ["worker", "online", "hash rate", "1 h", "shares", "last share"], [
        [w["name"], "yes" if w["online"] else "no", _hashrate(w["hashrate"]), _hashrate(w["hashrate_1h"]),
         str(w["shares"]), _time(w["last_share"])] for w in p["items"]]))


def _peers(api: Api, args: argparse.Namespace) -> int:
    page = api.get("/api/peers", limit=args.limit, cursor=args.cursor)

    def table(p: dict[str, Any]) -> str:
        if not p.get("enabled", True):
            return "P2P is off on this node (--no-p2p)"
        out = _paged(p, ["peer", "direction", "score", "tip height"], [
            [x["id"], x["direction"], str(x["score"]), str(x["tip_height"] if x["tip_height"] is not None else "-")]
            for x in p["items"]])
        if p["banned"]:
            out += "\n\nbanned:\n" + render_table(["peer", "until", "reason"], [
                [b["id"], _time(b["until"]), b["reason"]] for b in p["banned"]])
        return out

    return _print(args, page, table)


def _payouts(api: Api, args: argparse.Namespace) -> int:
    document = api.get("/api/payouts", finder=args.finder)
    return _print(args, document, lambda d: (
        f"next block {d['block_height']} on share {d['tip'][:16]}, found by {d['finder']}: {_btc(d['total'])} BTC\n"
        + render_table(["address", "amount (BTC)", "window share"], [
            [o["address"], _btc(o["amount"]), f"{100 * o['window_share']:.2f} %"] for o in d["outputs"]])))


def _blocks(api: Api, args: argparse.Namespace) -> int:
    page = api.get("/api/blocks", limit=args.limit, cursor=args.cursor)
    return _print(args, page, lambda p: _paged(p, ["height", "block", "state", "value (BTC)", "found"], [
        [str(b["height"]), b["hash"], f"{b['state']} ({b['confirmations']})" if b["state"] == "confirmed"
         else b["state"], _btc(b["value"]), _time(b["time"])] for b in p["items"]]))


def _shares(api: Api, args: argparse.Namespace) -> int:
    page = api.get("/api/shares", limit=args.limit, cursor=args.cursor)
    return _print(args, page, lambda p: _paged(p, ["height", "share", "miner", "status", "uncles", "time"], [
        [str(s["height"]), s["hash"], s["address"], s["status"], str(len(s["uncles"])), _time(s["timestamp"])]
        for s in p["items"]]))


def _miner(api: Api, args: argparse.Namespace) -> int:
    miner = api.get(f"/api/miner/{args.address}")

    def table(m: dict[str, Any]) -> str:
        window = m["window"]
        summary = render_table(["", ""], [
            ["address", m["address"]], ["hash rate", _rates(m["hashrate"])],
            ["window", f"{window['shares']} shares, {window['uncles']} uncles, {100 * window['share']:.2f} % of it"],
            ["next block pays", "-" if m["expected_payout"] is None else f"{_btc(m['expected_payout'])} BTC"],
            ["paid so far", f"{_btc(m['total_paid'])} BTC in {len(m['payouts'])} blocks"]], header=False)
        workers = render_table(["worker", "online", "hash rate", "shares", "last share"], [
            [w["name"], "yes" if w["online"] else "no", _hashrate(w["hashrate"]), str(w["shares"]),
             _time(w["last_share"])] for w in m["workers"]])
        shares = render_table(["height", "share", "status", "time"], [
            [str(s["height"]), s["hash"], s["status"], _time(s["timestamp"])] for s in m["shares"]])
        return f"{summary}\n\nworkers:\n{workers}\n\nrecent shares:\n{shares}"

    return _print(args, miner, table)


def _mining(api: Api, args: argparse.Namespace) -> int:
    body = {"threads": args.threads} if args.action == "start" and args.threads else None
    return _print(args, api.post(f"/api/mining/{args.action}", body), lambda r: r["message"])


def _ban(api: Api, args: argparse.Namespace) -> int:
    body = {"peer_id": args.peer_id, "duration": args.duration, "reason": args.reason}
    return _print(args, api.post("/api/peers/ban", body), lambda r: r["message"])


def _unban(api: Api, args: argparse.Namespace) -> int:
    return _print(args, api.post("/api/peers/unban", {"peer_id": args.peer_id}), lambda r: r["message"])


COMMANDS: dict[str, Callable[[Api, argparse.Namespace], int]] = {
    "status": _status, "workers": _workers, "peers": _peers, "payouts": _payouts, "blocks": _blocks,
    "shares": _shares, "miner": _miner, "mining": _mining, "ban": _ban, "unban": _unban}


# --- formatting ---------------------------------------------------------------------------------------
def _paged(page: dict[str, Any], headers: Sequence[str], rows: list[list[str]]) -> str:
    out = render_table(headers, rows) if rows else "(none)"
    if page.get("next"):
        out += f"\n(more: --cursor {page['next']})"
    return out


def _hashrate(value: float) -> str:
    for unit, size in (("EH/s", 1e18), ("PH/s", 1e15), ("TH/s", 1e12), ("GH/s", 1e9), ("MH/s", 1e6), ("kH/s", 1e3)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value:.0f} H/s"


def _rates(rates: dict[str, float]) -> str:
    return ", ".join(f"{_hashrate(rates[span])} ({span})" for span in ("10m", "1h", "24h"))


def _btc(sats: int) -> str:
    return f"{sats / COIN:.8f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _time(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
