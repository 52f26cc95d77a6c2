"""``otedama config show``: the effective configuration as TOML, where each value came from as a comment.

The output is itself a valid config file: loading it gives the same configuration (a redacted
secret is refused with a message rather than used).
"""

from __future__ import annotations

from p2pool.config.build import Resolved
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
