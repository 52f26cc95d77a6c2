"""The log: readable lines naming the node, JSON lines for collectors, a file rotated by size."""

from __future__ import annotations

import json
import logging

import pytest
import trio

from p2pool.logs import NODE_NAME, LogSettings, current_level, set_level, setup_logging


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


async def test_each_line_names_the_node_of_the_task_and_thread_it_came_from(tmp_path):
    path = tmp_path / "node.log"
    setup_logging(LogSettings(level="info", file=path))
    log = logging.getLogger("otedama.test")

    async def node(name: str) -> None:
        NODE_NAME.set(name)
        async with trio.open_nursery() as nursery:  # a part's task, started inside the node
            nursery.start_soon(lambda: trio.to_thread.run_sync(log.info, "from a thread of %s", name))
            log.info("hello from %s", name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(node, "node0")
        nursery.start_soon(node, "node1")
    log.info("outside any node")
    lines = path.read_text().splitlines()
    assert any(line.endswith("INFO    [node0] otedama.test: hello from node0") for line in lines), lines
    assert any(line.endswith("INFO    [node1] otedama.test: from a thread of node1") for line in lines), lines
    assert any(line.endswith("INFO    otedama.test: outside any node") for line in lines), lines
    assert len(lines) == 5


def test_json_lines_carry_level_logger_node_and_exception(tmp_path):
    path = tmp_path / "node.log"
    setup_logging(LogSettings(level="debug", format="json", file=path))
    log = logging.getLogger("otedama.test")
    token = NODE_NAME.set("node2")
    try:
        log.debug("a \"quoted\" value: %d", 5)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        NODE_NAME.reset(token)
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["level"] == "debug" and first["logger"] == "otedama.test" and first["node"] == "node2"
    assert first["message"] == 'a "quoted" value: 5' and first["time"].endswith("Z")
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]


def test_the_file_is_rotated_by_size_and_old_files_are_kept_up_to_the_limit(tmp_path):
    path = tmp_path / "otedama.log"
    setup_logging(LogSettings(level="info", file=path, max_bytes=2000, backups=2))
    log = logging.getLogger("otedama.test")
    for i in range(200):
        log.info("line %03d %s", i, "x" * 40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["otedama.log", "otedama.log.1", "otedama.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    assert "line 199" in path.read_text()


def test_the_level_changes_while_running(tmp_path):
    path = tmp_path / "node.log"
    setup_logging(LogSettings(level="info", file=path))
    log = logging.getLogger("otedama.test")
    log.debug("hidden")
    set_level("debug")
    log.debug("shown")
    assert current_level() == "debug"
    text = path.read_text()
    assert "shown" in text and "hidden" not in text
