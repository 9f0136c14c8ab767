"""The course's two-layer and L-layer networks on the cat images, from the course's own weights.

Question: started from the course's NumPy-seeded weights (``np.random.seed(1)``; randn * 0.01 for
12288-7-1, randn / sqrt(n_{l-1}) for 12288-20-7-5-1) and trained in float64 with lr 0.0075 for
2500 iterations, do jaxdnn's hand-derived gradients print the course's costs
(0.6930497356599888 -> 0.04855478562877018 and 0.771749 -> 0.092878 at iteration 2400) and reach
its accuracies (1.0 / 0.72 and 0.9856 / 0.80, train / test)?

    python -m experiments.deep_cat
    python -m experiments.deep_cat --data-dir PATH          # a copy of the cat data elsewhere
    JAXDNN_DATA=/path/to/catvnoncat python -m experiments.deep_cat
    python -m experiments.deep_cat --quick                  # a smoke test, 3 iterations

Without the data (two HDF5 files), it returns a "skipped" result naming the folder it looked in.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.catdata import CAT_DIR_HELP, load_cat
from experiments.cli import option
from experiments.compare import accuracy_agreement, agreement, course_vs_ours, last_printed
from experiments.evaluate import accuracies
from experiments.plots import add_plot
from experiments.results import finish, skip, start
from jaxdnn.course import course_params


@dataclasses.dataclass(frozen=True)
class Config:
    data_dir: str | None = option(None, CAT_DIR_HELP)
    out: str = option("out/deep_cat", "output folder")
    learning_rate: float = option(0.0075, "step size")
    num_iterations: int = option(2500, "iterations of each net")
    two_layer_dims: tuple[int, ...] = option((12288, 7, 1), "the two-layer net")
    l_layer_dims: tuple[int, ...] = option((12288, 20, 7, 5, 1), "the L-layer net")
    quick: bool = option(False, "a fast smoke test: few iterations")

    QUICK: ClassVar[dict] = {"out": "out/quick/deep_cat", "num_iterations": 3}


QUESTION = ("Do the course's two-layer (12288-7-1) and L-layer (12288-20-7-5-1) cat classifiers, "
            "trained by jaxdnn from the course's own initial weights in float64, print the "
            "course's costs and accuracies?")

# the course's printouts: (cost at 0, cost at 2400, train, test, cost digits shown)
COURSE = {
    "two_layer": (0.6930497356599888, 0.04855478562877018, 1.0, 0.72, 16),
    "l_layer": (0.771749, 0.092878, 0.9856, 0.80, 6),
}


def nets(cfg):
    """name -> (title, dims, init method, activations)."""
    two, deep = tuple(cfg.two_layer_dims), tuple(cfg.l_layer_dims)
    return {
        "two_layer": (f"two-layer {'-'.join(map(str, two))}", two, "small",
                      ("relu",) * (len(two) - 2) + ("sigmoid",)),
        "l_layer": (f"L-layer {'-'.join(map(str, deep))}", deep, "xavier",
                    ("relu",) * (len(deep) - 2) + ("sigmoid",)),
    }


def main(argv=None) -> dict:
    cfg, result = start("deep_cat", Config, argv, __doc__, QUESTION)
    cat, reason = load_cat(cfg.data_dir)
    if cat is None:
        return finish(skip(result, reason))

    f64 = jnp.float64
    X, Y = jnp.asarray(cat.train_x, f64), jnp.asarray(cat.train_y, f64)
    X_test, Y_test = jnp.asarray(cat.test_x, f64), jnp.asarray(cat.test_y, f64)
    last = last_printed(cfg.num_iterations, 100)
    full = cfg.num_iterations == 2500 and cfg.learning_rate == 0.0075
    rows, curves = [], {}
    for name, (title, dims, method, acts) in nets(cfg).items():
        init = course_params(list(dims), 1, method)  # np.random.seed(1), W drawn in layer order
        params, costs = jaxdnn.fit(init, X, Y, acts, learning_rate=cfg.learning_rate,
                                   num_iterations=cfg.num_iterations)
        costs = np.asarray(costs)
        train, test = accuracies(params, acts, (X, Y), (X_test, Y_test))
        curves[title] = costs
        result["data"][name] = {"dims": dims, "init": method, "costs_every_100": costs[::100],
                                "cost0": costs[0], "last_iteration": last,
                                "cost_last": costs[last], "train_accuracy": train,
                                "test_accuracy": test}
        c0, c_end, c_train, c_test, digits = COURSE[name]
        course_dims = (12288, 7, 1) if name == "two_layer" else (12288, 20, 7, 5, 1)
        same_net = full and dims == course_dims
        cost_tol = 1e-12 if digits > 6 else 5e-7
        rows += [
            (f"{title}: cost at iteration 0", f"{c0:.{min(digits, 16)}g}",
             f"{costs[0]:.{min(digits, 16)}g}",
             agreement(c0, costs[0], tol=cost_tol) if dims == course_dims else "n/a"),
            (f"{title}: cost at iteration {last}", f"{c_end:.{min(digits, 16)}g} (iteration 2400)",
             f"{costs[last]:.{min(digits, 16)}g}",
             agreement(c_end, costs[last], tol=cost_tol) if same_net else "n/a"),
            (f"{title}: train accuracy", f"{c_train:g}", f"{train:.4f}",
             accuracy_agreement(c_train, train, X.shape[1]) if same_net else "n/a"),
            (f"{title}: test accuracy", f"{c_test:g}", f"{test:.4f}",
             accuracy_agreement(c_test, test, X_test.shape[1]) if same_net else "n/a"),
        ]
    course_vs_ours(
        result, "Course vs ours: deep networks on the cat images", rows,
        note="float64, the course's initial weights (np.random.seed(1); randn * 0.01 for the "
             "two-layer net, randn / sqrt(n_{l-1}) for the L-layer net), full-batch gradient "
             "descent with the hand-derived backward pass. Costs are shown to the digits the "
             "course prints; 'matches' means within 1e-12 (two-layer, 16 digits printed) or within "
             "rounding of the 6 printed digits (L-layer); accuracies match when they count the "
             "same correct images (within half an image: 0.5 / m).")

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for title, costs in curves.items():
        ax.plot(costs, label=title)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost J")
    ax.set_title(f"Cat vs non-cat: cost per iteration (lr {cfg.learning_rate:g}, course init)")
    ax.legend()
    add_plot(result, fig, "cost_curves.png",
             "The course's two-layer and L-layer cat classifiers: cost per iteration.")
    return finish(result)


if __name__ == "__main__":
    main()
