"""A node whose share database sits on a disk that fills up (a real tmpfs, filled to the last byte): it
stops taking shares, from peers and from its miner (told ``store-unwritable`` and why), answers 503 on
``/api/health`` naming the cause, exports it as a metric, and resumes by itself once space returns:
it catches up with its peer, and after a restart its chain opens intact on that tip."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import trio

from p2pool.node import Node
from sharechain.bitcoin.address import script_to_address
from sharechain.params import DEVNET
from tests.fixtures.full_disk import fill, small_filesystem
from tests.fixtures.solve import grind
from tests.functional.federation import federation, mine_share, sync_sharechains, tip, wait_for
from tests.functional.sharegen import make_chain, payout_script
from tests.stratum_client import submits_over

SCRIPT = payout_script(5)


def api(node: Node, path: str) -> tuple[int, str]:
    assert node.endpoints is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.endpoints.api_port}{path}", timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def get(node: Node, path: str) -> tuple[int, str]:
    """The node's API, from a thread (the node answers in this trio run)."""
    return await trio.to_thread.run_sync(api, node, path)


def miner_submit(node: Node, share_target: int) -> tuple[int, str] | None:
    """A miner on the node's Stratum port submits one solution that is a share; the error it is told."""
    assert node.endpoints is not None
    with socket.create_connection(("127.0.0.1", node.endpoints.stratum_port), timeout=30) as sock:
        user = script_to_address(SCRIPT, DEVNET.address_format)
        [answer] = submits_over(sock, user, lambda job: min(job.target, share_target), grind, attempts=1)
    return answer.error


async def test_a_full_disk_stops_shares_clearly_and_the_node_resumes_when_space_returns(tmp_path):
    history = make_chain(10)
    datadir = tmp_path / "full"
    with small_filesystem(datadir / "sharechain", "8m") as disk:
        async with federation(tmp_path) as fed:
            full = await fed.add_node(shares=history, datadir=datadir)
            other = await fed.add_node(full, shares=history)
            await sync_sharechains([full, other])
            assert full.store is not None and full.chain is not None
            filler = fill(disk)

            # The peer's shares arrive; one soon cannot be written (the last page of the log may hold one).
            for n in range(20):
                share = await mine_share(other, n)
                await wait_for(lambda share=share: share in full.chain or full.store.write_error,
                               "the share to arrive or fail")
                if full.store.write_error:
                    break
            assert "No space left on device" in full.store.write_error
            assert share not in full.chain and tip(full) != tip(other)

            status, body = await get(full, "/api/health")
            health = json.loads(body)
            assert status == 503 and health["status"] == "unhealthy"
            assert any(p.startswith("store-unwritable: ") and "No space left" in p for p in health["problems"])
            _, metrics = await get(full, "/metrics")
            assert "otedama_store_unwritable 1.0" in metrics and "otedama_store_write_errors_total 1.0" in metrics

            # Its own miner is told, with the true reason, not answered true.
            job = full.work.job_for(SCRIPT)
            assert job is not None
            error = await trio.to_thread.run_sync(miner_submit, full, job.share_target)
            assert error is not None and "Share not stored" in error[1] and "No space left on device" in error[1]
            assert full.status()["shares_rejected"].get("store-unwritable") == 1

            filler.unlink()  # space returns: the node tries again by itself, and catches up
            await wait_for(lambda: full.store.write_error is None, "the store to be writable again")
            status, _ = await get(full, "/api/health")
            assert status == 200
            await sync_sharechains([full, other], all_shares=False)
            mined = await mine_share(full, 30)  # and takes shares again
            final = await sync_sharechains([full, other], all_shares=False)
            assert final == mined
            restarted = await fed.restart_node(full)
            assert tip(restarted) == final and restarted.chain is not None and restarted.chain.get(final) is not None
