"""What deserves a notification: workers gone for N minutes, the node unhealthy past a grace period."""

from __future__ import annotations

from p2pool.events import FoundBlock
from p2pool.notify.watch import HealthWatch, WorkerWatch, block_found


def kinds(notifications):
    return [(n.kind, n.data.get("worker")) for n in notifications]


def test_a_worker_gone_for_n_minutes_is_reported_once_and_again_when_back():
    watch = WorkerWatch(after=600)
    assert watch.observe({"a.rig1", "a.rig2"}, now=0) == []
    assert watch.observe({"a.rig1"}, now=300) == []
    assert kinds(watch.observe({"a.rig1"}, now=600)) == [("worker_offline", "a.rig2")]
    assert watch.observe({"a.rig1"}, now=900) == []  # once
    back = watch.observe({"a.rig1", "a.rig2"}, now=1200)
    assert kinds(back) == [("worker_back", "a.rig2")] and back[0].data["offline_seconds"] == 1200


def test_worker_names_remembered_are_bounded():
    watch = WorkerWatch(after=60, limit=3)
    for i in range(10):
        watch.observe({f"w{i}"}, now=i)
    assert len(watch._last_seen) == 3


def test_unhealthy_after_the_grace_period_then_healthy_again():
    watch = HealthWatch(grace=60)
    assert watch.observe(["chain backend unavailable"], now=0) == []
    assert watch.observe(["chain backend unavailable"], now=30) == []
    unhealthy = watch.observe(["chain backend unavailable"], now=60)
    assert [n.kind for n in unhealthy] == ["node_unhealthy"]
    assert unhealthy[0].data["problems"] == ["chain backend unavailable"]
    assert watch.observe(["chain backend unavailable"], now=120) == []
    assert [n.kind for n in watch.observe([], now=130)] == ["node_healthy"]
    assert watch.observe([], now=140) == []
    assert watch.observe(["x"], now=150) == []  # a short problem is not worth one


def test_block_found_carries_the_block():
    block = FoundBlock("00" * 32, 120, 1700000000, "11" * 32, "", "addr.rig", 5000, (("addr", 5000),))
    notification = block_found(block, now=5.0)
    assert notification.kind == "block_found" and "block 120" in notification.text
    assert notification.as_dict("node0", "devnet")["data"]["payouts"] == [["addr", 5000]]
