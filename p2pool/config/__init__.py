"""Node configuration, built once: defaults < TOML file < ``OTEDAMA_*`` environment < command line.

:mod:`.options` is the table of every option; :mod:`.values` the kinds of value; :mod:`.sources`
reads each source; :mod:`.build` checks and combines them into the frozen :class:`NodeConfig`
(:mod:`.model`); :mod:`.render` prints it for ``otedama config show``.
"""

from p2pool.config.build import Resolved, load_config, node_config
from p2pool.config.datadir import datadir_problem, prepare_datadir
from p2pool.config.model import NodeConfig
from p2pool.config.values import Endpoint
from p2pool.error import ConfigError

__all__ = ["ConfigError", "Endpoint", "NodeConfig", "Resolved", "datadir_problem", "load_config", "node_config",
           "prepare_datadir"]
