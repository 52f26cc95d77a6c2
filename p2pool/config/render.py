"""``otedama config show``: the effective configuration as TOML, where each value came from as a comment.

The output is itself a valid config file: loading it gives the same configuration (a redacted
secret is refused with a message rather than used).
"""

from __future__ import annotations

from p2pool.config.argv import default_text
from p2pool.config.build import Resolved
from p2pool.config.model import NodeConfig
from p2pool.config.options import OPTIONS
from p2pool.config.origin import Layer
from p2pool.config.tomltext import toml_value


def render_toml(resolved: Resolved, *, command: str = "run", version: str = "") -> str:
    config = resolved.config
    lines = [f"# otedama {version}: the configuration `otedama {command}` runs with",
             "# precedence: default < config file < environment (OTEDAMA_*) < command line", ""]
    for option in OPTIONS:
        origin = resolved.origins[option.name]
        note = f"default on {config.network}" if origin.layer is Layer.DEFAULT and callable(option.default) \
            else str(origin)
        if command not in option.commands:
            note += f"; not used by otedama {command}"
        value = getattr(config, option.name)
        if value is None:
            lines.append(f"# {option.name} is not set ({note})")
            continue
        rendered = option.kind.render(value)
        if option.secret and (redacted := option.kind.redact(rendered)) != rendered:
            rendered, note = redacted, note + "; secret redacted"
        lines.append(f"{option.name} = {toml_value(rendered)}  # {note}")
    return "\n".join(lines) + "\n"


def render_values(config: NodeConfig, *, heading: str, skip: tuple[str, ...] = ()) -> str:
    """``config`` as a TOML config file, every value set (secrets redacted), for a backup of the node."""
    lines = [f"# {heading}", ""]
    for option in OPTIONS:
        value = getattr(config, option.name)
        if option.name in skip or value is None:
            continue
        rendered = option.kind.render(value)
        note = ""
        if option.secret and (redacted := option.kind.redact(rendered)) != rendered:
            rendered, note = redacted, "  # secret redacted: write it here again"
        lines.append(f"{option.name} = {toml_value(rendered)}{note}")
    return "\n".join(lines) + "\n"


def options_markdown() -> str:
    """The README's table of options, from the option table (a test keeps the README in step)."""
    rows = ["| option (file key, env var) | default | meaning |", "|---|---|---|"]
    for option in OPTIONS:
        seed = "" if "bootstrap" in option.commands else " (not for `bootstrap`)"
        usage = option.flag if option.kind.flag else f"{option.flag} {option.kind.metavar}"
        rows.append(f"| `{usage}` (`{option.name}`, `{option.env}`) "
                    f"| {default_text(option)} | {option.help}{seed} |")
    return "\n".join(rows) + "\n"
