"""Raw settings from each source: the TOML file, the ``OTEDAMA_*`` environment, the command line and
programs. Nothing is parsed here beyond finding the key; :mod:`.build` checks the values."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2pool.config.options import BY_NAME, ENV_PREFIX, closest, suggest
from p2pool.config.origin import CODE, Layer, Origin
from p2pool.error import ConfigError


@dataclass(frozen=True)
class Setting:
    """One value for option ``name`` as its source gave it; ``textual`` when it is text to be parsed."""

    name: str
    raw: Any
    origin: Origin

    @property
    def textual(self) -> bool:
        return self.origin.layer in (Layer.ENV, Layer.CLI)


@dataclass(frozen=True)
class Read:
    """What a source gave: its settings, and one reason per key it could not place."""

    settings: tuple[Setting, ...] = ()
    errors: tuple[str, ...] = ()


def read_file(path: Path) -> Read:
    """The settings of a TOML file whose keys are the long option names (dashes or underscores)."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    settings: dict[str, Setting] = {}
    errors: list[str] = []
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in BY_NAME:
            errors.append(f"config file {path}: unknown key {key!r}{suggest(key)}")
        elif name in settings:
            errors.append(f"config file {path}: {name} is given twice (as {key!r} and with the other spelling)")
        else:
            settings[name] = Setting(name, value, Origin(Layer.FILE, str(path)))
    return Read(tuple(settings.values()), tuple(errors))


def read_env(environ: Mapping[str, str]) -> Read:
    """``OTEDAMA_<NAME>`` variables (``OTEDAMA_NO_MINER=true``). Other ``OTEDAMA_*`` variables are not
    options (``OTEDAMA_HOME``) and are left alone, unless one looks like a misspelt option."""
    settings: list[Setting] = []
    errors: list[str] = []
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX):
            continue
        name = var[len(ENV_PREFIX):].lower()
        if name in BY_NAME:
            settings.append(Setting(name, environ[var], Origin(Layer.ENV, var)))
        elif (close := closest(name)) and difflib.SequenceMatcher(None, name, close).ratio() >= 0.85:
            # Only near misses count, so that unrelated OTEDAMA_* variables pass.
            errors.append(f"environment {var}: not an option; did you mean {ENV_PREFIX + close.upper()}?")
    return Read(tuple(settings), tuple(errors))


def read_argv(values: Mapping[str, Any]) -> Read:
    """Options given on the command line: option name -> text (a list for repeated options)."""
    settings = [Setting(name, value, Origin(Layer.CLI, BY_NAME[name].flag))
                for name, value in values.items() if value is not None]
    return Read(tuple(settings))


def read_code(values: Mapping[str, Any]) -> Read:
    """Values a program passes, typed as in the file (None: not given)."""
    errors = [f"unknown option {name!r}{suggest(name)}" for name in values if name not in BY_NAME]
    settings = [Setting(name, value, CODE) for name, value in values.items() if value is not None and name in BY_NAME]
    return Read(tuple(settings), tuple(errors))
