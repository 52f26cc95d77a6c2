"""The sharechain as the API shows it, on a real chain with a fork: main, side, uncle and orphan shares,
pages newest first with a cursor, and what the PPLNS window is made of."""

from __future__ import annotations

import time

from kernels.factory import make_scanner
from p2pool.views.chain_view import ChainView
from sharechain.chain import ShareChain
from sharechain.params import DEVNET
from sharechain.pplns import split_reward
from sharechain.record import ShareRecord
from sharechain.result import AddStatus
from sharechain.share import ShareInfo
from tests.functional.sharegen import COINBASE_VALUE, grind, make_chain, payout_script


def sibling(chain: ShareChain, parent: ShareRecord, miner: int, now: int) -> bytes:
    """A share on ``parent`` (not the tip): a side share."""
    script = payout_script(miner)
    info = ShareInfo(parent.hash, parent.height + 1, now, chain.next_bits(parent), script)
    payouts = split_reward(COINBASE_VALUE, chain.candidate_weights(info), script, DEVNET)
    share = grind(info, payouts, DEVNET, make_scanner("numba", threads=1), tag=b"side")
    assert chain.add(share, now=now).status is AddStatus.ADDED
    return share.hash


def main_at(chain: ShareChain, height: int) -> ShareRecord:
    assert chain.tip is not None
    record = chain.ancestor_at_height(chain.tip.hash, height)
    assert record is not None
    return record


def test_statuses_pages_and_window():
    now = int(time.time())
    chain = ShareChain(DEVNET)
    make_chain(4, chain=chain, end=now - 20)  # heights 0..3
    view = ChainView(chain)
    uncle = sibling(chain, main_at(chain, 1), 9, now - 19)  # height 2, beside the main chain
    assert view.status(uncle) == "side"
    make_chain(3, chain=chain, end=now - 10)  # heights 4..6: the first includes the sibling as an uncle
    assert view.status(uncle) == "uncle"
    assert view.share(chain.get(uncle))["included_by"] == main_at(chain, 4).hash[::-1].hex()
    orphan = sibling(chain, main_at(chain, 1), 8, now - 9)  # height 2, too deep under tip 6 to be an uncle
    assert view.status(orphan) == "orphan"
    assert view.status(main_at(chain, 6).hash) == "main"

    seen: list[bytes] = []
    cursor = None
    while True:
        page, cursor = view.page(3, cursor)
        seen += [r.hash for r in page]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(chain) == 9
    heights = [chain.get(h).height for h in seen]
    assert heights == sorted(heights, reverse=True)
    assert [r.hash for r in view.page(10, None, status="orphan")[0]] == [orphan]

    everyone = view.composition()
    assert (everyone.main, everyone.uncles, everyone.side, everyone.orphans) == (7, 1, 0, 1)
    miner_9 = view.composition(view.address(payout_script(9)))
    assert (miner_9.main, miner_9.uncles, miner_9.orphans) == (0, 1, 0)
