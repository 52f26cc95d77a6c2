"""The command-line face of the option table: one argparse option per table row, help with defaults.

argparse only collects text here; the values are parsed and checked with the file's and the
environment's (:mod:`.build`), so every source gets the same messages and ``config validate`` can
report every problem at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from p2pool.config.options import BY_NAME, DefaultContext, Option, for_command
from p2pool.config.tomltext import toml_value
from sharechain.params import NETWORKS


def add_options(parser: argparse.ArgumentParser, command: str) -> None:
    """``--config FILE`` and every option of ``command`` (``run`` or ``bootstrap``)."""
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file whose keys are these options' long names (no_miner = true); "
                             "precedence: default < file < environment OTEDAMA_<NAME> < command line")
    for option in for_command(command):
        kwargs: dict[str, Any] = {"dest": option.name, "default": None, "metavar": option.kind.metavar,
                                  "help": f"{option.help} (default: {default_text(option)})".replace("%", "%%")}
        if option.kind.flag:
            kwargs.update(nargs="?", const="true")
        elif option.kind.repeated:
            kwargs.update(action="append")
        parser.add_argument(option.flag, **kwargs)


def argv_values(args: argparse.Namespace) -> dict[str, Any]:
    """The table's options that were given on the command line (text, or lists of text)."""
    return {name: value for name, value in vars(args).items() if name in BY_NAME and value is not None}


def default_text(option: Option) -> str:
    """The default as help shows it: one value, or the value on each network where they differ."""
    if option.default_text is not None:
        return option.default_text
    by_value: dict[str, list[str]] = {}
    for name in NETWORKS:
        raw = option.default_for(DefaultContext(NETWORKS[name], Path("~/.otedama")))
        by_value.setdefault(_show(option, raw), []).append(name)
    if len(by_value) == 1:
        return next(iter(by_value))
    return "; ".join(f"{value} on {', '.join(names)}" for value, names in by_value.items())


def _show(option: Option, raw: Any) -> str:
    value = option.kind.render(option.kind.parse(raw, False))
    if isinstance(value, list):
        return " ".join(value) or "none"
    return toml_value(value).strip('"')
