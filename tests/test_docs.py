"""The README starts with the two set-up commands (run the node; run every test), links the operator's
and the miner's guides, and every relative link of the docs leads to a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["./scripts/install.sh && .venv/bin/otedama run", "./scripts/install.sh && ./scripts/check.sh"]


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    lines = (REPO / "README.md").read_text().splitlines()
    assert lines[:6] == ["# Otedama", "", "```sh", *COMMANDS, "```"]
    assert COMMANDS[1].split("&& ", 1)[1] in (REPO / ".ci" / "run").read_text()


def test_readme_links_the_operations_and_mining_guides():
    readme = (REPO / "README.md").read_text()
    for guide in ("docs/operations.md", "docs/mining.md"):
        assert f"]({guide})" in readme and (REPO / guide).is_file()


def test_relative_links_resolve():
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links {target}, which does not exist"
