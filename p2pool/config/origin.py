"""Where a configuration value came from, lowest precedence first, and how to name it in a message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Layer(IntEnum):
    """Sources in order of precedence: a later layer overrides an earlier one."""

    DEFAULT = 0
    FILE = 1
    ENV = 2
    CLI = 3
    CODE = 4  # values a program passes directly (tests, ``otedama devnet``)


@dataclass(frozen=True)
class Origin:
    layer: Layer
    # The file's path, the environment variable or the command-line option; empty for defaults and code.
    where: str = ""

    def __str__(self) -> str:
        return {
            Layer.DEFAULT: "default",
            Layer.FILE: f"file {self.where}",
            Layer.ENV: f"env {self.where}",
            Layer.CLI: f"command line {self.where}",
            Layer.CODE: "given in code",
        }[self.layer]

    def blame(self, key: str, shown: str) -> str:
        """The start of a message about ``key``'s value ``shown``, naming it as its source spells it."""
        if self.layer is Layer.FILE:
            return f"config file {self.where}: {key} = {shown}"
        if self.layer is Layer.ENV:
            return f"environment {self.where}={shown}"
        if self.layer is Layer.CLI:
            return f"{self.where} {shown}"
        return f"{key} = {shown}"


DEFAULT = Origin(Layer.DEFAULT)
CODE = Origin(Layer.CODE)
