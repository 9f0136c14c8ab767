"""Beyond the course: how much do the cat classifiers' accuracies depend on the random seed?

Question: the course reports one run per network (L-layer 12288-20-7-5-1: 98.56 % train / 80 %
test; two-layer 12288-7-1: 100 % / 72 %), from one NumPy seed. Trained from many ``jax.random``
seeds at once (``jax.vmap`` over the ``init_params`` keys; the course's scales: randn /
sqrt(n_{l-1}) for the L-layer net, randn * 0.01 for the two-layer net; lr 0.0075, 2500
iterations, float32), what are the mean, spread and range of the accuracies, and where does the
course's single number fall in that distribution?

    python -m experiments.seeds                             # 32 seeds, 2500 iterations (minutes)
    python -m experiments.seeds --num-seeds 64 --seeds-per-batch 16
    python -m experiments.seeds --num-iterations 1000       # faster, no longer the course's setting
    python -m experiments.seeds --quick                     # a smoke test: 2 seeds, 5 iterations
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.catdata import CAT_DIR_HELP, load_cat
from experiments.cli import option
from experiments.compare import course_vs_ours, where_it_falls
from experiments.evaluate import device_array
from experiments.markdown import pct
from experiments.plots import add_plot
from experiments.results import add_table, finish, skip, start


@dataclasses.dataclass(frozen=True)
class Config:
    data_dir: str | None = option(None, CAT_DIR_HELP)
    out: str = option("out/seeds", "output folder")
    num_seeds: int = option(32, "random seeds per network")
    seeds_per_batch: int = option(8, "seeds trained together in one vmapped program")
    num_iterations: int = option(2500, "iterations of each run (the course: 2500)")
    learning_rate: float = option(0.0075, "step size")
    seed: int = option(0, "keys are jax.random.split(jax.random.fold_in(key(SEED), net), N)")
    dtype: str = option("float32", "dtype of the training", choices=("float32", "float64"))
    nets: tuple[str, ...] = option(("l_layer", "two_layer"), "which networks",
                                   choices=("l_layer", "two_layer"))
    quick: bool = option(False, "a fast smoke test: the two-layer net, 2 seeds, 5 iterations")

    QUICK: ClassVar[dict] = {"out": "out/quick/seeds",
                             "num_seeds": 2, "seeds_per_batch": 2, "num_iterations": 5,
                             "nets": ("two_layer",)}


QUESTION = ("How much do the cat classifiers' train and test accuracies vary over random "
            "initialisations, and where does the course's single run fall?")
NETS = {  # name: (title, dims, init scale, course train, course test)
    "l_layer": ("L-layer 12288-20-7-5-1", (12288, 20, 7, 5, 1), "xavier", 0.9856, 0.80),
    "two_layer": ("two-layer 12288-7-1", (12288, 7, 1), "small", 1.0, 0.72),
}


def train_seeds(cfg, dims, method, X, Y, X_test, Y_test, keys, label):
    """Train one network from every key, ``seeds_per_batch`` at a time; per-seed numbers."""
    acts = ("relu",) * (len(dims) - 2) + ("sigmoid",)
    dtype = jnp.dtype(cfg.dtype)

    def one(key, X, Y, X_test, Y_test):  # data as arguments: no 12288 x m constants to fold
        init = jaxdnn.init_params(key, list(dims), method, dtype)
        params, costs = jaxdnn.fit(init, X, Y, acts, learning_rate=cfg.learning_rate,
                                   num_iterations=cfg.num_iterations, progress=False)
        return (jaxdnn.accuracy(params, X, Y, acts), jaxdnn.accuracy(params, X_test, Y_test, acts),
                costs[0], costs[-1])

    batch = jax.jit(jax.vmap(one, in_axes=(0, None, None, None, None)))
    parts, t0 = [], time.perf_counter()
    for lo in range(0, len(keys), cfg.seeds_per_batch):
        parts.append([np.asarray(x, np.float64)
                      for x in batch(keys[lo:lo + cfg.seeds_per_batch], X, Y, X_test, Y_test)])
        print(f"seeds: {label}: {min(lo + cfg.seeds_per_batch, len(keys))}/{len(keys)} seeds "
              f"trained, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    train, test, c0, c_end = (np.concatenate(x) for x in zip(*parts))
    return {"train_accuracy": train, "test_accuracy": test, "cost0": c0, "cost_last": c_end,
            "seconds": time.perf_counter() - t0}


def main(argv=None) -> dict:
    cfg, result = start("seeds", Config, argv, __doc__, QUESTION)
    cat, reason = load_cat(cfg.data_dir)
    if cat is None:
        return finish(skip(result, reason))

    dt = jnp.dtype(cfg.dtype)
    X, Y, X_test, Y_test = (device_array(a, dt) for a in (cat.train_x, cat.train_y, cat.test_x,
                                                          cat.test_y))
    full = cfg.num_iterations == 2500 and cfg.learning_rate == 0.0075
    rows, stats_rows, runs = [], [], {}
    for i, name in enumerate(cfg.nets):
        title, dims, method, c_train, c_test = NETS[name]
        keys = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), i), cfg.num_seeds)
        r = train_seeds(cfg, dims, method, X, Y, X_test, Y_test, keys, title)
        runs[name] = r
        w_test = where_it_falls(c_test, r["test_accuracy"], X_test.shape[1])
        w_train = where_it_falls(c_train, r["train_accuracy"], X.shape[1])
        r["course_test_in_distribution"], r["course_train_in_distribution"] = w_test, w_train
        print(f"seeds: {title}: {cfg.num_seeds} seeds x {cfg.num_iterations} iterations "
              f"({cfg.dtype}) took {r['seconds']:.1f} s", flush=True)
        for split, w, course, acc in (("test", w_test, c_test, r["test_accuracy"]),
                                      ("train", w_train, c_train, r["train_accuracy"])):
            stats_rows.append((title, split, pct(acc.mean()), f"{100 * acc.std(ddof=1):.2f}",
                               pct(acc.min()), pct(np.median(acc)),
                               pct(acc.max()), pct(course)))
            rows.append((f"{title}: {split} accuracy", pct(course, 2),
                         f"mean {pct(acc.mean())} +- {100 * acc.std(ddof=1):.2f} "
                         f"(range {pct(acc.min())} .. {pct(acc.max())})",
                         f"placed: the course's run is at percentile {w['percentile']:.0f} of "
                         f"ours, z = {w['z']:+.2f}"
                         if full else "n/a"))
        r["label"] = title
    result["data"] = {"runs": runs, "seconds_per_net": {n: r["seconds"] for n, r in runs.items()}}
    add_table(
        result, f"Accuracy over {cfg.num_seeds} random seeds ({cfg.num_iterations} iterations, "
                f"lr {cfg.learning_rate:g}, {cfg.dtype})",
        ("network", "split", "mean", "std (points)", "min", "median", "max", "course (one run)"),
        stats_rows)
    course_vs_ours(
        result, "Course vs ours: where the course's single run falls", rows,
        note="ours: jax.random initialisation at the course's scales, one key per run, all keys of "
             f"a batch trained in one vmapped program; {cfg.dtype}. Percentile: the share of our "
             "runs below the course's number, compared as counts of correctly classified images "
             "(ties counted half). The test set has 50 images, so "
             "test accuracy moves in steps of 2 points.")

    fig, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 4.2), squeeze=False)
    for ax, (name, r) in zip(axes[0], runs.items()):
        title, _, _, c_train, c_test = NETS[name]
        bins = np.arange(0, 102.01, 2.0) - 1.0  # one bin per test-set step of 2 points
        lo = 100 * min(r["test_accuracy"].min(), c_test) - 4
        ax.hist(100 * r["test_accuracy"], bins=bins, color="C0", alpha=0.7, label="test (ours)")
        ax.hist(100 * r["train_accuracy"], bins=bins, color="C1", alpha=0.5, label="train (ours)")
        ax.axvline(100 * c_test, color="C0", linestyle="--",
                   label=f"course test {100 * c_test:.0f} %")
        ax.axvline(100 * c_train, color="C1", linestyle="--",
                   label=f"course train {100 * c_train:.2f} %")
        ax.set_xlim(max(lo, 0), 101)
        ax.set_xlabel("accuracy (%)")
        ax.set_ylabel(f"runs (of {cfg.num_seeds} seeds)")
        ax.set_title(f"{title}: {cfg.num_seeds} seeds, {cfg.num_iterations} iterations")
        ax.legend(fontsize=8, loc="upper left")
    add_plot(result, fig, "accuracy_histograms.png",
             "Cat classifiers: train and test accuracy over random seeds; dashed: the course's "
             "single run.", tight_layout=True)
    return finish(result)


if __name__ == "__main__":
    main()
