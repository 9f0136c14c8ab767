"""The helpers experiments/bench imports by their former names; each lives in its own module:
:mod:`experiments.cli` (the command line), :mod:`experiments.results` (a run's result and its
JSON), :mod:`experiments.markdown`, :mod:`experiments.plots`, :mod:`experiments.catdata`.
"""

from experiments.catdata import load_cat
from experiments.cli import option, parse_config
from experiments.markdown import markdown_table
from experiments.plots import plt
from experiments.results import config_dict, output_dir, to_jsonable, write_json

__all__ = ["config_dict", "load_cat", "markdown_table", "option", "output_dir", "parse_config",
           "plt", "to_jsonable", "write_json"]
