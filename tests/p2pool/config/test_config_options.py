"""The option table: one row per NodeConfig field, every source and the help derived from it."""

from __future__ import annotations

import argparse
import dataclasses
import re

import pytest

from p2pool.cli import _parser
from p2pool.config import NodeConfig
from p2pool.config.argv import add_options, default_text
from p2pool.config.options import BY_NAME, OPTIONS, DefaultContext, for_command, suggest
from sharechain.params import NETWORKS


def test_the_table_has_exactly_the_fields_of_node_config():
    fields = [f.name for f in dataclasses.fields(NodeConfig)]
    assert fields == [option.name for option in OPTIONS] + ["seed", "seed_entries"]


def test_names_flags_and_environment_variables_follow_from_the_name():
    for option in OPTIONS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", option.name)
        assert option.flag == "--" + option.name.replace("_", "-")
        assert option.env == "OTEDAMA_" + option.name.upper()
        assert option.commands <= {"run", "bootstrap"} and "run" in option.commands
        assert option.help and not option.help.endswith(".")


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_every_default_is_a_valid_value_on_every_network(network, tmp_path):
    context = DefaultContext(NETWORKS[network], tmp_path)
    for option in OPTIONS:
        default = option.default_for(context)
        if default is not None:
            option.kind.parse(default, False)


@pytest.mark.parametrize("command", ["run", "bootstrap"])
def test_argparse_has_one_option_per_row_each_with_its_default_in_the_help(command):
    parser = argparse.ArgumentParser()
    add_options(parser, command)
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help", "config")}
    assert list(actions) == [option.name for option in for_command(command)]
    for name, action in actions.items():
        assert action.option_strings == [BY_NAME[name].flag]
        assert action.help and "(default: " in action.help


def test_help_lists_a_per_network_default_for_each_network():
    text = default_text(BY_NAME["stratum"])
    for params in NETWORKS.values():
        assert f"0.0.0.0:{params.default_stratum_port} on " in text
    assert default_text(BY_NAME["devchain"]) == "false on mainnet, testnet4, signet, regtest; true on devnet"
    assert default_text(BY_NAME["miner_threads"]) == "1"


def test_every_command_and_option_help_shows_a_default(capsys):
    parser = _parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subcommands.choices.items():
        if name == "config":
            continue
        for action in sub._actions:
            if action.dest in ("help", "config", "url", "user") or not action.option_strings:
                continue  # required ones and positional arguments have no default
            assert action.help and "default" in action.help, f"{name} {action.option_strings}"


@pytest.mark.parametrize(("key", "hint"), [
    ("miner", "; did you mean no_miner?"),
    ("seeds", "; did you mean no_seeds?"),
    ("sync_wait", "; did you mean mine_while_syncing?"),
    ("stratum_port", "; did you mean stratum?"),
    ("log-levle", "; did you mean log_level?"),
    ("colour", ""),
])
def test_unknown_keys_get_a_suggestion(key, hint):
    assert suggest(key) == hint


def test_the_readme_table_is_the_option_table():
    from p2pool.config.render import options_markdown
    from tests.functional.framework import REPO

    readme = (REPO / "README.md").read_text()
    generated = readme.split("a test keeps it in step -->\n", 1)[1].split("<!-- end of generated options -->")[0]
    assert generated == options_markdown(), "README.md: paste the output of p2pool.config.render.options_markdown()"
