"""The API's read documents, put together from read-only views of the node's parts.

Every list that grows is paged: ``limit`` (at most :data:`MAX_PAGE`) and an opaque ``cursor`` from the
previous page's ``next``. A malformed cursor or address raises :class:`~p2pool.api.reads.BadRequest`
(the API's 400), what this node cannot have :class:`~p2pool.api.reads.NotOnThisNode` (409).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from p2pool.api.reads import BadRequest, NotOnThisNode
from p2pool.chain.block_states import BlockStates
from p2pool.miner_control import MinerControl
from p2pool.stats.listener import StatsListener
from p2pool.storage.share_store import ShareStore
from p2pool.stratum.service import StratumService
from p2pool.views.chain_view import MAX_PAGE, ChainView
from p2pool.views.process import process_usage
from p2pool.work.found_blocks import FoundBlocks
from p2pool.work.provider import WorkProvider
from sharechain.bitcoin.address import AddressError, address_to_script
from sharechain.bitcoin.hashing import hash_to_hex, hash_to_int
from sharechain.bitcoin.target import DIFF1_TARGET, bits_to_target, work_from_target
from sharechain.params import NetworkParams

if TYPE_CHECKING:  # (libp2p is imported only by a node that runs P2P)
    from p2pool.p2p.service import P2PService

TOP_WORKERS = 20
MINER_SHARES = 20
MINER_BLOCKS = 50




@dataclass
class NodeViews:
    """What the documents read; a seed node has no work, Stratum, miner or found blocks."""

    params: NetworkParams
    chain: ChainView
    stats: StatsListener
    store: ShareStore
    payout_address: str = ""
    work: WorkProvider | None = None
    stratum: StratumService | None = None
    stratum_url: str | None = None
    found: FoundBlocks | None = None
    block_states: BlockStates | None = None
    p2p: P2PService | None = None
    miner: MinerControl | None = None
    started: float = field(default_factory=time.monotonic)
    clock: Callable[[], float] = time.time

    # --- statistics ------------------------------------------------------------------------------------
    def statistics(self) -> dict[str, Any]:
        self.stats.sample_rejects()
        now = self.stats.now()
        stats = self.stats.stats
        window = self.chain.composition()
        network_work = self._network_work()
        pool_rate = stats.rates(now, "pool")
        rejected = stats.counted("rejected")
        tip = self.chain.chain.tip
        share_bits = self.chain.chain.next_bits(tip)
        return {
            "time": now,
            "pool": {"hashrate": pool_rate, "miners": len(self._window_addresses()),
                     "blocks": stats.meta["pool_blocks"]},
            "local": {"hashrate": stats.rates(now, "local"), "workers": self._online_workers(),
                      "blocks_found": len(self.found) if self.found is not None else 0},
            "shares": {"valid": stats.counted("valid"), "invalid": stats.counted("invalid"), "rejected": rejected,
                       "stale": sum(v for k, v in rejected.items() if "stale" in k),
                       "classified": stats.counted("classified")},
            "window": {"shares": window.main, "uncles": window.uncles, "side": window.side,
                       "orphans": window.orphans, "length": self.params.pplns_window},
            "uncles": window.uncles,
            "orphans": window.orphans,
            "share_difficulty": DIFF1_TARGET / bits_to_target(share_bits),
            "network_difficulty": DIFF1_TARGET / self._network_target() if network_work else None,
            "effort": 100 * stats.meta["effort_work"] / network_work if network_work else None,
            "expected_block_seconds": network_work / pool_rate["1h"] if network_work and pool_rate["1h"] else None,
            "last_block_time": stats.meta["last_block_time"] or None,
            "blocks_found": len(self.found) if self.found is not None else 0,
        }

    def history(self, span: int) -> dict[str, Any]:
        """Pool and local hash rate by the minute over the last ``span`` seconds."""
        now = self.stats.now()
        return {"bucket": self.stats.stats.series["pool"].bucket,
                "pool": [[t, r] for t, r in self.stats.stats.history(now, "pool", span=span)],
                "local": [[t, r] for t, r in self.stats.stats.history(now, "local", span=span)]}

    def _network_target(self) -> int:
        template = self.work.template if self.work is not None else None
        return template.target if template is not None else 0

    def _network_work(self) -> int:
        target = self._network_target()
        return work_from_target(target) if target else 0

    def _window_addresses(self) -> set[str]:
        return {self.chain.address(r.payout_script) for r in self.chain.window()}

    def _online_workers(self) -> int:
        return sum(1 for w in self.stats.stats.workers.values() if w.connections)

    # --- workers and peers -------------------------------------------------------------------------------
    def workers(self, limit: int, cursor: str | None, address: str | None = None) -> dict[str, Any]:
        now = self.stats.now()
        live = {w.name: w for w in self.stratum.stats().workers} if self.stratum is not None else {}
        names = sorted(n for n, w in self.stats.stats.workers.items() if address is None or w.address == address)
        page, following = _page(names, limit, cursor)
        items = []
        for name in page:
            info = self.stats.stats.workers[name]
            rates = self.stats.stats.rates(now, "worker", name)
            current = live.get(name)
            items.append({"name": name, "address": info.address, "online": info.connections > 0,
                          "connections": info.connections,
                          "hashrate": current.hashrate if current is not None else 0.0,
                          "hashrate_1h": rates["1h"], "hashrate_24h": rates["24h"], "shares": info.shares,
                          "accepted": current.accepted if current else 0, "rejected": current.rejected if current else 0,
                          "last_share": info.last_share, "first_seen": info.first_seen, "last_seen": info.last_seen})
        return {"items": items, "next": following, "total": len(names)}

    def peers(self, limit: int, cursor: str | None) -> dict[str, Any]:
        if self.p2p is None:
            return {"items": [], "next": None, "total": 0, "banned": [], "enabled": False}
        listed = {p["id"]: p for p in self.p2p.peer_list()}
        page, following = _page(sorted(listed), limit, cursor)
        bans = self.p2p.ban_list()
        return {"items": [listed[p] for p in page], "next": following, "total": len(listed),
                "banned": bans[:MAX_PAGE], "enabled": True, "peer_id": self.p2p.peer_id}

    # --- shares ----------------------------------------------------------------------------------------
    def shares(self, limit: int, cursor: str | None, status: str | None = None,
               address: str | None = None) -> dict[str, Any]:
        before = _share_cursor(cursor)
        records, following = self.chain.page(limit, before, status, address)
        tip = self.chain.chain.tip
        return {"items": [self.chain.share(r) for r in records],
                "next": f"{following[0]}-{hash_to_hex(following[1])}" if following else None,
                "tip": hash_to_hex(tip.hash) if tip else None, "height": tip.height if tip else None,
                "total": len(self.chain.chain)}

    def share(self, share_hash: str) -> dict[str, Any] | None:
        key = _hash(share_hash)
        record = self.chain.chain.get(key)
        if record is None:
            return None
        out = self.chain.share(record)
        out["prev_hash"] = hash_to_hex(record.prev_hash)
        out["target"] = f"{record.target:064x}"
        stored = self.store.get_share(key)
        if stored is not None:
            out["coinbase"] = [{"address": self.chain.address(o.script_pubkey), "amount": o.value}
                               for o in stored.coinbase.outputs if o.value > 0]
            out["block_hash_meets_target"] = False
            with contextlib.suppress(ValueError):
                out["block_hash_meets_target"] = hash_to_int(key) <= bits_to_target(stored.header.bits)
        return out

    # --- payouts and blocks ----------------------------------------------------------------------------
    def payouts(self, finder: str | None = None) -> dict[str, Any] | None:
        """The exact coinbase outputs of the next block, found by ``finder`` (default: this node's miner, or
        its latest worker); None without work (no template yet, or a seed node)."""
        if self.work is None:
            raise NotOnThisNode("a seed node builds no blocks: it has no payouts to show")
        finder = finder or self._default_finder()
        if not finder:
            raise BadRequest("no miner to assume as the finder yet: give ?finder=ADDRESS")
        script = self._script(finder)
        upcoming = self.work.next_payouts(script)
        if upcoming is None:
            return None
        info, payouts, value = upcoming
        weights = self.chain.chain.candidate_weights(info)
        total_weight = sum(weights.values()) or 1
        outputs = [{"address": self.chain.address(s), "amount": amount, "window_weight": weights.get(s, 0),
                    "window_share": weights.get(s, 0) / total_weight, "finder": s == script}
                   for s, amount in payouts]
        template = self.work.template
        return {"finder": finder, "tip": hash_to_hex(info.prev_hash), "share_height": info.height,
                "block_height": template.height if template else None, "coinbase_value": value,
                "outputs": outputs, "total": sum(amount for _, amount in payouts),
                "uncles": [hash_to_hex(u) for u in info.uncles],
                "window_weight": total_weight}

    def _default_finder(self) -> str:
        if self.payout_address:
            return self.payout_address
        seen = sorted(self.stats.stats.workers.values(), key=lambda w: (w.connections > 0, w.last_seen))
        return seen[-1].address if seen else ""

    def blocks(self, limit: int, cursor: str | None) -> dict[str, Any]:
        found = self.found.all() if self.found is not None else []
        end = len(found)
        if cursor is not None:
            if not cursor.isdigit() or int(cursor) > len(found):
                raise BadRequest(f"cursor {cursor!r} is not one this endpoint gave")
            end = int(cursor)
        limit = _limit(limit)
        start = max(0, end - limit)
        items = [self._block(b.as_dict()) for b in reversed(found[start:end])]
        return {"items": items, "next": str(start) if start > 0 else None, "total": len(found)}

    def _block(self, block: dict[str, Any]) -> dict[str, Any]:
        state = self.block_states.get(block["hash"]) if self.block_states is not None else None
        block["payouts"] = [{"address": a, "amount": v} for a, v in block["payouts"]]
        block.update(state.as_dict() if state is not None else {"state": "unknown", "confirmations": 0,
                                                                 "checked": None})
        return block

    # --- one miner -------------------------------------------------------------------------------------
    def miner_page(self, address: str) -> dict[str, Any]:
        script = self._script(address)
        now = self.stats.now()
        stats = self.stats.stats
        window = self.chain.composition(address)
        weights = self.chain.chain.window_weights(self.chain.chain.tip.hash) if self.chain.chain.tip else {}
        total_weight = sum(weights.values()) or 1
        pool_next = self.payouts()
        own_next = self.payouts(address)
        found = self.found.all() if self.found is not None else []
        paid = [{"hash": b.hash, "height": b.height, "time": b.time, "amount": dict(b.payouts).get(address, 0)}
                for b in found if any(a == address for a, _ in b.payouts)][-MINER_BLOCKS:][::-1]
        return {
            "address": address,
            "workers": self.workers(MAX_PAGE, None, address)["items"],
            "hashrate": stats.rates(now, "address", address),
            "history": [[t, rate] for t, rate in stats.history(now, "address", address)],
            "window": {"shares": window.main, "uncles": window.uncles, "orphans": window.orphans, "side": window.side,
                       "weight": weights.get(script, 0), "share": weights.get(script, 0) / total_weight},
            "expected_payout": _amount(pool_next, address),
            "expected_payout_as_finder": _amount(own_next, address),
            "shares": self.shares(MINER_SHARES, None, address=address)["items"],
            "payouts": paid,
            "total_paid": sum(p["amount"] for p in paid),
        }

    def _script(self, address: str) -> bytes:
        try:
            return address_to_script(address, self.params.address_format)
        except (AddressError, ValueError) as exc:
            raise BadRequest(f"{address!r} is not a {self.params.name} address: {exc}") from None

    # --- health ----------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        uptime = time.monotonic() - self.started
        services = {"stratum": self._stratum_health(), "p2p": self._p2p_health(), "chain": self._chain_health(),
                    "database": self._database_health()}
        healthy = all(s["state"] in ("ok", "off", "degraded") for s in services.values())
        connections = {"stratum": self.stratum.connection_count if self.stratum is not None else 0,
                       "peers": len(self.p2p.peers.connected()) if self.p2p is not None else 0}
        return {"status": "ok" if healthy else "unhealthy", "uptime": round(uptime, 1), "services": services,
                "process": {**process_usage(uptime), "connections": connections},
                "miner": self.miner.status() if self.miner is not None else None}

    def _stratum_health(self) -> dict[str, Any]:
        if self.stratum is None:
            return {"state": "off", "reason": "a seed node has no miners"}
        problems = self.work.problems() if self.work is not None else []
        if problems:
            return {"state": "down", "reason": f"miners get no work: {'; '.join(problems)}", "url": self.stratum_url}
        if self.work is not None and self.work.syncing and self.work.wait_while_syncing:
            return {"state": "degraded", "reason": "miners wait: the sharechain is behind its peers",
                    "url": self.stratum_url}
        return {"state": "ok", "reason": f"{self.stratum.connection_count} connections", "url": self.stratum_url}

    def _p2p_health(self) -> dict[str, Any]:
        if self.p2p is None:
            return {"state": "off", "reason": "P2P disabled (--no-p2p)"}
        peers = len(self.p2p.peers.connected())
        sync = self.p2p.progress()
        if not peers:
            return {"state": "degraded", "reason": "no peers connected", "peers": 0}
        if sync.behind:
            return {"state": "degraded", "reason": "the sharechain is behind its peers", "peers": peers}
        return {"state": "ok", "reason": f"{peers} peers, in sync", "peers": peers}

    def _chain_health(self) -> dict[str, Any]:
        if self.work is None:
            return {"state": "off", "reason": "a seed node has no chain backend"}
        if self.work.chain_problem:
            return {"state": "down", "reason": self.work.chain_problem}
        template = self.work.template
        return {"state": "ok", "reason": f"mining on block {template.height}" if template else "connected"}

    def _database_health(self) -> dict[str, Any]:
        try:
            self.store.has_share(b"\x00" * 32)
        except Exception as exc:
            return {"state": "down", "reason": f"the share database cannot be read: {exc}"}
        return {"state": "ok", "reason": f"{len(self.chain.chain)} shares indexed"}


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_PAGE))


def _page(names: list[str], limit: int, cursor: str | None) -> tuple[list[str], str | None]:
    """Names after ``cursor`` (the last name of the previous page), ``limit`` of them."""
    start = 0
    if cursor is not None:
        start = next((i for i, name in enumerate(names) if name > cursor), len(names))
    page = names[start:start + _limit(limit)]
    following = page[-1] if page and start + len(page) < len(names) else None
    return page, following


def _share_cursor(cursor: str | None) -> tuple[int, bytes] | None:
    if cursor is None:
        return None
    height, _, share_hash = cursor.partition("-")
    if not height.isdigit():
        raise BadRequest(f"cursor {cursor!r} is not one this endpoint gave")
    return int(height), _hash(share_hash)


def _hash(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BadRequest(f"{text[:80]!r} is not a share hash (64 hex digits)")
    return raw[::-1]


def _amount(payouts: dict[str, Any] | None, address: str) -> int | None:
    if payouts is None:
        return None
    return sum(o["amount"] for o in payouts["outputs"] if o["address"] == address)
