"""Plumbing shared by the experiment scripts (nothing here trains anything).

- a frozen-dataclass configuration parsed from the command line: :func:`option`,
  :func:`parse_config` (``--quick`` swaps in the class's ``QUICK`` values);
- the result of a run as a plain dict: :func:`new_result`, :func:`add_table`, :func:`add_plot`,
  :func:`finish` (writes ``results.json`` and prints the Markdown);
- Markdown: :func:`markdown_table`, :func:`course_vs_ours`, :func:`result_markdown`;
- the cat data, or the reason it is missing: :func:`load_cat`;
- plots: :func:`decision_boundary` (two or more classes), :func:`predictor` (matplotlib's Agg
  backend, so no display is needed);
- :func:`accuracy`, :func:`accuracies`: ``jaxdnn.accuracy`` jitted once (eagerly it compiles op
  by op), train and test in one call;
- small numbers helpers: :func:`last_printed`, :func:`where_it_falls`, :func:`environment`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import pathlib
import platform
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

# ----------------------------------------------------------------------------------------------
# configuration


def option(default, help: str, choices=None):
    """A config field with its command-line help: ``lr: float = option(0.005, "step size")``.

    ``choices``: the allowed values (of each item, for a tuple field); others are a usage error.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parser_type(field: dataclasses.Field, default):
    """(type converter, metavar) for one field, from its annotation, default and choices."""
    hint = str(field.type)
    choices = field.metadata.get("choices")
    if isinstance(default, tuple) or hint.startswith("tuple"):
        elem = float if "float" in hint else int if "int" in hint else str

        def parse_tuple(text: str):
            try:
                items = tuple(elem(s.strip()) for s in text.split(",") if s.strip())
            except ValueError as e:
                raise argparse.ArgumentTypeError(f"expected comma-separated {elem.__name__}s, "
                                                 f"got {text!r}") from e
            bad = [x for x in items if choices is not None and x not in choices]
            if bad or not items:
                raise argparse.ArgumentTypeError(
                    f"got {text!r}; expected a comma-separated subset of "
                    f"{','.join(map(str, choices))}" if choices else f"got {text!r}: empty")
            return items

        return parse_tuple, "A,B,..."
    if "float" in hint:
        return float, "FLOAT"
    if "int" in hint:
        return int, "INT"
    return str, "TEXT"


def _show(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def parse_config(cls, argv=None, *, doc: str | None = None, prog: str | None = None):
    """Parse ``argv`` into the frozen dataclass ``cls``, one ``--option`` per field.

    ``my_field`` becomes ``--my-field``; bools become ``--my-field / --no-my-field``; tuples are
    comma-separated. With ``--quick`` (every config has a ``quick`` field), the values in the
    class attribute ``QUICK`` (a dict) replace the defaults, while options given explicitly on the
    command line still win. A ``ValueError`` from the class's ``__post_init__`` (its own checks of
    the values) becomes a usage error (``SystemExit``), as a bad ``--option`` does.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick_values = getattr(cls, "QUICK", {})
    for f in dataclasses.fields(cls):
        help_text = f.metadata.get("help", "")
        default = f.default
        shown = [] if default is None else [f"default: {_show(default)}"]
        if f.name in quick_values:
            shown.append(f"with --quick: {_show(quick_values[f.name])}")
        shown = f" ({'; '.join(shown)})" if shown else ""
        if isinstance(default, bool):
            parser.add_argument(_flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=f"{help_text}{shown}")
            continue
        conv, metavar = _parser_type(f, default)
        choices = f.metadata.get("choices")
        if choices is not None and not isinstance(default, tuple):
            parser.add_argument(_flag(f.name), dest=f.name, type=conv, choices=choices,
                                default=argparse.SUPPRESS, help=f"{help_text}{shown}")
            continue
        parser.add_argument(_flag(f.name), dest=f.name, type=conv, metavar=metavar,
                            default=argparse.SUPPRESS, help=f"{help_text}{shown}")
    given = vars(parser.parse_args(argv))
    values = {f.name: f.default for f in dataclasses.fields(cls)}
    if given.get("quick", values.get("quick", False)):
        values.update(quick_values)
    values.update(given)
    try:
        return cls(**values)
    except ValueError as e:
        parser.error(str(e))


def enable_x64() -> None:
    """Turn on float64 (the course computes in NumPy float64); float32 runs pass their dtype."""
    import jax

    jax.config.update("jax_enable_x64", True)


def config_dict(cfg) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


# ----------------------------------------------------------------------------------------------
# results: a dict that becomes results.json, Markdown on stdout and a section of the report


_PLOTS = {"resolution": 300, "dpi_scale": 1.0}  # --quick runs draw coarser, smaller plots


def new_result(name: str, question: str, cfg) -> dict:
    """An empty result; ``finish`` fills in the time and writes it.

    A quick config (``cfg.quick``) also makes this run's plots coarser (smoke tests stay fast).
    """
    quick = bool(getattr(cfg, "quick", False))
    _PLOTS.update(resolution=80 if quick else 300, dpi_scale=0.5 if quick else 1.0)
    return {
        "name": name,
        "question": question,
        "status": "ok",
        "reason": None,
        "quick": bool(getattr(cfg, "quick", False)),
        "config": config_dict(cfg),
        "tables": [],
        "plots": [],
        "notes": [],
        "data": {},
        "seconds": None,
        "_t0": time.perf_counter(),
    }


def skip(result: dict, reason: str) -> dict:
    result["status"] = "skipped"
    result["reason"] = reason
    return result


def markdown_table(headers, rows) -> str:
    """A GitHub-flavoured Markdown table; cells are ``str``-ed and ``|`` is escaped."""
    cell = lambda x: str(x).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(map(cell, headers)) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return "\n".join(lines)


def add_table(result: dict, title: str, headers, rows, note: str | None = None) -> str:
    md = markdown_table(headers, rows)
    result["tables"].append({"title": title, "markdown": md, "note": note,
                             "headers": list(map(str, headers)),
                             "rows": [list(map(str, r)) for r in rows]})
    return md


COURSE_HEADERS = ("quantity", "course", "ours", "agreement")


def course_vs_ours(result: dict, title: str, rows, note: str | None = None) -> str:
    """A table of ``(quantity, course's number, our number, agreement)`` rows."""
    return add_table(result, title, COURSE_HEADERS, rows, note)


def agreement(course: float, ours: float, *, tol: float, exact_digits: int | None = None) -> str:
    """``"matches"`` within ``tol`` (absolute), else ``"differs by ..."``."""
    if course is None or ours is None or not (math.isfinite(course) and math.isfinite(ours)):
        return "n/a"
    diff = abs(course - ours)
    if diff <= tol:
        return "matches" + (f" ({exact_digits} digits)" if exact_digits else "")
    return f"differs by {diff:.3g}"


def add_plot(result: dict, fig, out_dir: pathlib.Path, filename: str, caption: str,
             dpi: int = 100) -> pathlib.Path:
    """Save ``fig`` as ``out_dir/filename`` (PNG) and record it in the result."""
    path = pathlib.Path(out_dir) / filename
    fig.savefig(path, dpi=max(30, int(dpi * _PLOTS["dpi_scale"])), bbox_inches="tight")
    plt.close(fig)
    result["plots"].append({"file": filename, "caption": caption})
    return path


def output_dir(path) -> pathlib.Path:
    out = pathlib.Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def to_jsonable(obj):
    """NumPy / JAX scalars and arrays to lists and floats; non-finite floats to strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (pathlib.Path,)):
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


def result_markdown(result: dict, link_prefix: str = "", level: int = 2) -> str:
    """The result as Markdown: question, status, tables with notes, plot links, time."""
    h = "#" * level
    lines = [f"{h} {result['name']}", "", f"**Question.** {result['question']}", ""]
    if result["status"] != "ok":
        lines += [f"**{result['status'].upper()}:** {result['reason']}", ""]
    for t in result["tables"]:
        lines += [f"**{t['title']}**", "", t["markdown"], ""]
        if t.get("note"):
            lines += [f"*Note.* {t['note']}", ""]
    for note in result["notes"]:
        lines += [note, ""]
    for p in result["plots"]:
        alt = p["caption"].replace("[", "(").replace("]", ")")  # brackets would end the alt text
        lines += [f"![{alt}]({link_prefix}{p['file']})", "", f"*{p['caption']}*", ""]
    if result.get("seconds") is not None:
        lines += [f"Run time: {result['seconds']:.1f} s.", ""]
    return "\n".join(lines)


def finish(result: dict, out_dir, *, echo: bool = True) -> dict:
    """Record the run time, write ``out_dir/results.json`` and print the Markdown."""
    result["seconds"] = time.perf_counter() - result.pop("_t0", time.perf_counter())
    result["out_dir"] = str(out_dir)
    out = output_dir(out_dir)
    write_json(out / "results.json", result)
    if echo:
        print(result_markdown(result), flush=True)
    return result


# ----------------------------------------------------------------------------------------------
# data


def cat_dir_help() -> str:
    return ("folder holding train_catvnoncat.h5 and test_catvnoncat.h5 (default: $JAXDNN_DATA if "
            "set, else the copy shipped in the package, jaxdnn/datasets/catvnoncat)")


def load_cat(data_dir):
    """``(CatData, None)``, or ``(None, reason)`` naming the folder and how to point at the data."""
    from jaxdnn import data

    folder = data.find_cat_dir(data_dir)
    try:
        return data.load_catvnoncat(folder), None
    except (FileNotFoundError, ImportError, ValueError) as e:
        return None, (f"the cat / non-cat data could not be loaded from {folder}: {e}. Point at "
                      "the folder with --data-dir PATH (python -m experiments.reproduce --data-dir "
                      "PATH) or set JAXDNN_DATA=PATH.")


# ----------------------------------------------------------------------------------------------
# numbers


def last_printed(num_iterations: int, every: int) -> int:
    """The last iteration the course prints: the largest multiple of ``every`` below the end."""
    return ((num_iterations - 1) // every) * every


def where_it_falls(value: float, samples) -> dict:
    """Where a single number falls in a sample: percentile (ties count half) and z-score."""
    s = np.asarray(samples, np.float64)
    below, ties = float(np.sum(s < value)), float(np.sum(s == value))
    std = float(np.std(s, ddof=1)) if s.size > 1 else 0.0
    return {
        "percentile": 100.0 * (below + 0.5 * ties) / s.size,
        "z": (value - float(np.mean(s))) / std if std > 0 else float("nan"),
        "mean": float(np.mean(s)), "std": std, "min": float(np.min(s)), "max": float(np.max(s)),
        "median": float(np.median(s)),
    }


def pct(x: float, digits: int = 2) -> str:
    return f"{100 * float(x):.{digits}f} %"


def environment() -> dict:
    import jax
    import jaxlib
    import optax

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "optax": optax.__version__,
        "matplotlib": matplotlib.__version__,
        "devices": [str(d) for d in jax.devices()],
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "x64": bool(jax.config.jax_enable_x64),
    }


# ----------------------------------------------------------------------------------------------
# plots


REGION_COLORS = ("#f7c6b0", "#b9d7ea")  # predicted 0 (light red), predicted 1 (light blue)
POINT_COLORS = ("#c0392b", "#1f5fa8")  # label 0 (red), label 1 (blue)


def class_colors(num_classes: int):
    """``(region colors, point colors)`` for ``num_classes`` labels: the course's red and blue for
    two, matplotlib's ``tab10`` (points) and its lightened shades (regions) for up to ten."""
    if num_classes <= 2:
        return REGION_COLORS, POINT_COLORS
    if num_classes > 10:
        raise ValueError(f"at most 10 classes can be told apart by colour, got {num_classes}")
    points = [plt.get_cmap("tab10")(k)[:3] for k in range(num_classes)]
    regions = [tuple(0.65 + 0.35 * c for c in rgb) for rgb in points]  # mixed with white
    return regions, points


def decision_boundary(ax, predict, X, Y, title: str, *, resolution: int | None = None,
                      margin: float = 1.0):
    """Shade ``predict``'s regions over the plane and scatter the points, as the course does.

    Two classes: light red / light blue regions for predicted 0 / 1, red / blue points for labels
    0 / 1. K > 2 classes: one ``tab10`` colour per class, lighter for its region.

    Args:
      ax: a matplotlib Axes.
      predict: maps a ``(2, N)`` NumPy array to ``N`` (or ``(1, N)``) integer labels.
      X: ``(2, m)`` points; Y: ``(1, m)`` or ``(m,)`` labels 0..K-1.
      resolution: grid points per axis (default 300; 80 in quick runs).
    """
    resolution = resolution or _PLOTS["resolution"]
    X, Y = np.asarray(X), np.asarray(Y).ravel()
    region_colors, point_colors = class_colors(max(2, int(Y.max()) + 1))
    x_min, x_max = X[0].min() - margin, X[0].max() + margin
    y_min, y_max = X[1].min() - margin, X[1].max() + margin
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, resolution),
                         np.linspace(y_min, y_max, resolution))
    grid = np.stack([xx.ravel(), yy.ravel()])  # (2, N): one point per column
    zz = np.asarray(predict(grid)).reshape(xx.shape)
    ax.contourf(xx, yy, zz, levels=np.arange(len(region_colors) + 1) - 0.5, colors=region_colors)
    for label, color in enumerate(point_colors):
        ax.scatter(X[0, Y == label], X[1, Y == label], color=color, s=10, edgecolors="k",
                   linewidths=0.3, label=f"y = {label}")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=10)


@functools.cache
def _compiled():
    """``(accuracies, predict)``: jaxdnn's functions jitted once per process, so networks and data
    of the same shapes share one compiled program (eagerly they compile op by op)."""
    import jax

    import jaxdnn

    def accuracies(params, data, activations):
        return tuple(jaxdnn.accuracy(params, X, Y, activations) for X, Y in data)

    return (jax.jit(accuracies, static_argnames="activations"),
            jax.jit(jaxdnn.predict, static_argnames="activations"))


def accuracies(params, activations, *data) -> tuple[float, ...]:
    """:func:`jaxdnn.accuracy` on every ``(X, Y)`` pair of ``data`` (train and test, say), all in
    one compiled call: one compile per network and data shapes, not one per pair."""
    acc = _compiled()[0](params, tuple(tuple(d) for d in data), activations=tuple(activations))
    return tuple(float(a) for a in acc)


def accuracy(params, X, Y, activations) -> float:
    """:func:`jaxdnn.accuracy` as one compiled call (eagerly it compiles op by op), as a float."""
    return accuracies(params, activations, (X, Y))[0]


def predictor(params, activations, dtype):
    """``grid (2, N) -> labels (N,)`` with :func:`jaxdnn.predict`, compiled once per network
    shape (networks of the same shapes share the program)."""
    import jax.numpy as jnp

    predict = _compiled()[1]
    acts = tuple(activations)
    return lambda grid: np.asarray(predict(params, jnp.asarray(grid, dtype),
                                           activations=acts)).ravel()
