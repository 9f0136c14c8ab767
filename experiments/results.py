"""The result of one experiment run: a plain dict that becomes ``OUT/results.json``, Markdown on
stdout and a section of the report.

Every experiment's ``main`` opens with :func:`start` (its config from the command line, float64 on,
an empty result), fills the result with :func:`add_table` (and ``plots.add_plot``), and ends with
:func:`finish`, or :func:`skip` when its data is missing.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time

import numpy as np

from experiments import cli
from experiments.markdown import markdown_table, result_markdown


def start(name: str, config_cls, argv, doc: str, question: str, *, x64: bool = True):
    """``(cfg, result)``: ``config_cls`` parsed from ``argv`` (``--help`` shows ``doc``) and an
    empty result for the experiment ``name``, which writes to ``cfg.out``.

    ``x64``: turn on float64 (the course computes in NumPy float64; float32 runs pass their dtype).
    """
    cfg = cli.parse_config(config_cls, argv, doc=doc, prog=f"python -m experiments.{name}")
    if x64:
        import jax

        jax.config.update("jax_enable_x64", True)
    return cfg, {
        "name": name,
        "question": question,
        "status": "ok",
        "reason": None,
        "quick": bool(getattr(cfg, "quick", False)),
        "config": config_dict(cfg),
        "out_dir": str(cfg.out),
        "tables": [],
        "plots": [],
        "notes": [],
        "data": {},
        "seconds": None,
        "_t0": time.perf_counter(),
    }


def skip(result: dict, reason: str) -> dict:
    """Mark ``result`` skipped, with the reason (what is missing, how to provide it)."""
    result["status"] = "skipped"
    result["reason"] = reason
    return result


def add_table(result: dict, title: str, headers, rows, note: str | None = None) -> str:
    """Append a table (and its Markdown) to ``result``; returns the Markdown."""
    md = markdown_table(headers, rows)
    result["tables"].append({"title": title, "markdown": md, "note": note,
                             "headers": list(map(str, headers)),
                             "rows": [list(map(str, r)) for r in rows]})
    return md


def finish(result: dict, *, echo: bool = True) -> dict:
    """Record the run time, write ``OUT/results.json`` and print the Markdown."""
    result["seconds"] = time.perf_counter() - result.pop("_t0", time.perf_counter())
    write_json(output_dir(result["out_dir"]) / "results.json", result)
    if echo:
        print(result_markdown(result), flush=True)
    return result


def output_dir(path) -> pathlib.Path:
    """``path`` as a folder, made if missing."""
    out = pathlib.Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def config_dict(cfg) -> dict:
    """A config dataclass as a JSON-ready dict (tuples as lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def to_jsonable(obj):
    """NumPy / JAX scalars and arrays to lists and floats; non-finite floats to strings; keys
    starting with ``_`` left out."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pathlib.Path):
        return str(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):  # np.ndarray, jax.Array
        arr = np.asarray(obj)
        return to_jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    return obj


def write_json(path, obj) -> None:
    pathlib.Path(path).write_text(json.dumps(to_jsonable(obj), indent=1, allow_nan=False) + "\n")
