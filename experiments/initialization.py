"""Initialisation: zeros, large random and He weights on the course's circles.

Question: for the 2-10-5-1 relu-relu-sigmoid network trained on the course's circles with lr 0.01
for 15000 iterations, do zeros (cost 0.693147 throughout, 50 % / 50 %), large random weights
(randn * 10, ``np.random.seed(3)``: the course prints inf at iteration 0, about 0.3827 at the end,
83 % / 86 %) and He weights (randn * sqrt(2 / n_{l-1}), ``seed(3)``: 0.8830537 -> 0.0735790,
99.33 % / 96 %) behave as in the course? And what do the layers' gradient norms ||dW_l|| show
of the course's lesson on vanishing and exploding gradients (``fit(..., norms=True)``)?

    python -m experiments.initialization
    python -m experiments.initialization --inits he,large --num-iterations 15000
    python -m experiments.initialization --quick            # a smoke test, 1000 iterations
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_circles

import jaxdnn
from experiments.cli import option
from experiments.compare import accuracy_agreement, agreement, course_vs_ours, last_printed
from experiments.evaluate import accuracies, device_array, predictor
from experiments.plots import add_plot, decision_boundary
from experiments.results import add_table, finish, start
from jaxdnn.course import course_params


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out/initialization", "output folder")
    layer_dims: tuple[int, ...] = option((2, 10, 5, 1), "the network")
    learning_rate: float = option(0.01, "step size")
    num_iterations: int = option(15000, "iterations of each run")
    init_seed: int = option(3, "np.random.seed of the course's initial weights")
    inits: tuple[str, ...] = option(("zeros", "large", "he"), "initialisations to compare")
    quick: bool = option(False, "a fast smoke test: few iterations")

    QUICK: ClassVar[dict] = {"out": "out/quick/initialization", "num_iterations": 1000}


QUESTION = ("How does the initialisation (zeros, large random, He) decide what a 2-10-5-1 network "
            "learns on the course's circles, and do jaxdnn's runs print the course's numbers?")
F64 = jnp.float64
# course: (cost at 0, cost at 14000, train, test), as printed
COURSE = {
    "zeros": ("0.693147", "0.693147", 0.50, 0.50, 0.6931471805599453, 0.6931471805599453),
    "large": ("inf", "about 0.3827", 0.83, 0.86, float("inf"), 0.3827),
    "he": ("0.8830537", "0.0735790", 0.9933, 0.96, 0.8830537, 0.0735790),
}
COST_TOL = {"zeros": 5e-7, "large": 5e-5, "he": 5e-8}
TITLES = {"zeros": "zeros", "large": "large random (randn * 10)", "he": "He (randn * sqrt(2/n))"}


def main(argv=None) -> dict:
    cfg, result = start("initialization", Config, argv, __doc__, QUESTION)
    # the course: np.random.seed(1); make_circles(300, noise=.05); seed(2); make_circles(100, ...)
    tr, te = (make_circles(n, noise=0.05, random_state=s) for n, s in ((300, 1), (100, 2)))
    tr_X, tr_Y, te_X, te_Y = tr[0].T, tr[1][None], te[0].T, te[1][None]  # (2, m), (1, m)
    X, Y, X_test, Y_test = (device_array(a, F64) for a in (tr_X, tr_Y, te_X, te_Y))  # int labels
    dims = list(cfg.layer_dims)
    acts = ("relu",) * (len(dims) - 2) + ("sigmoid",)
    last = last_printed(cfg.num_iterations, 1000)
    full = (cfg.num_iterations == 15000 and cfg.learning_rate == 0.01
            and tuple(dims) == (2, 10, 5, 1) and cfg.init_seed == 3)
    rows, runs, norms = [], {}, {}
    for init in cfg.inits:
        params, costs, n = jaxdnn.fit(
            course_params(dims, cfg.init_seed, init), X, Y, acts, learning_rate=cfg.learning_rate,
            num_iterations=cfg.num_iterations, progress=False, norms=True)
        # NumPy from here on: eager slices of device arrays compile at each new shape
        costs, norms[init] = np.asarray(costs), jax.device_get(n)
        train, test = accuracies(params, acts, (X, Y), (X_test, Y_test))
        runs[init] = (params, costs, train, test)
        result["data"][init] = {"costs_every_1000": costs[::1000], "cost0": costs[0],
                                "last_iteration": last, "cost_last": costs[last],
                                "train_accuracy": train, "test_accuracy": test,
                                "grad_norm_every_1000": norms[init].grad[::1000],
                                "weight_norm_every_1000": norms[init].weight[::1000]}
        if init not in COURSE:
            continue
        c0_s, cl_s, c_tr, c_te, c0, cl = COURSE[init]
        same = full and init in COURSE
        rows += [
            (f"{TITLES[init]}: cost at iteration 0", c0_s, f"{costs[0]:.7f}",
             ("expected difference: finite here, inf in the course (see note)"
              if init == "large" else agreement(c0, costs[0], tol=COST_TOL[init]))
             if tuple(dims) == (2, 10, 5, 1) else "n/a"),
            (f"{TITLES[init]}: cost at iteration {last}", f"{cl_s} (iteration 14000)",
             f"{costs[last]:.7f}", agreement(cl, costs[last], tol=COST_TOL[init])
             if same else "n/a"),
            (f"{TITLES[init]}: train accuracy", f"{c_tr:g}", f"{train:.4f}",
             accuracy_agreement(c_tr, train, X.shape[1]) if same else "n/a"),
            (f"{TITLES[init]}: test accuracy", f"{c_te:g}", f"{test:.4f}",
             accuracy_agreement(c_te, test, X_test.shape[1]) if same else "n/a"),
        ]
    course_vs_ours(
        result, "Course vs ours: initialisation on the circles", rows,
        note="float64, the course's initial weights (np.random.seed(3); b = 0). The course prints "
             "inf for the large initialisation at iteration 0 because it computes log(sigmoid(z)): "
             "sigmoid rounds to exactly 1.0 for some logits, and log(1 - 1.0) = -inf. jaxdnn "
             "computes the cost from the logits (log-sigmoid form), so the same weights give a "
             "large but finite cost; the gradients (dZ_L = A_L - Y) are the same, so training "
             "follows the same path. Accuracies match when they count the same correct "
             "points (within half a point: 0.5 / m).")

    norms_table(result, norms, cfg.num_iterations - 1)

    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 4.2), squeeze=False)
    for ax, (init, (params, _, train, test)) in zip(axes[0], runs.items()):
        decision_boundary(ax, predictor(params, acts, F64), tr_X, tr_Y,
                          f"{TITLES.get(init, init)}\ntrain {100 * train:.2f} %, "
                          f"test {100 * test:.0f} %", coarse=cfg.quick)
    fig.suptitle(f"Circles: decision boundaries after {cfg.num_iterations} iterations "
                 f"(lr {cfg.learning_rate:g}), training points", fontsize=12)
    add_plot(result, fig, "decision_boundaries.png",
             "Circles: the decision boundary each initialisation leads to (training set).",
             tight_layout=True)

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for init, (_, costs, _, _) in runs.items():
        ax.plot(costs, label=TITLES.get(init, init))
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost J (log scale)")
    ax.set_title("Circles: cost per iteration by initialisation")
    ax.legend()
    add_plot(result, fig, "cost_curves.png",
             "Circles: cost per iteration for each initialisation (log scale).")
    norms_plot(result, norms)
    return finish(result)


def norms_table(result: dict, norms: dict, last: int) -> None:
    """Each layer's ||dW_l|| and ||W_l|| at the first and the last iteration, per init."""
    rows = [(TITLES.get(init, init), f"{l + 1}", *(f"{float(a[i, l]):.3g}" for a, i in (
        (n.grad, 0), (n.grad, last), (n.weight, 0), (n.weight, last))))
        for init, n in norms.items() for l in range(n.grad.shape[1])]
    ratios = "; ".join(  # how much more gradient the output layer gets than the first layer
        f"{TITLES.get(init, init)} {np.median(np.asarray(n.grad[:, -1] / n.grad[:, 0])):.3g}"
        for init, n in norms.items() if np.all(np.asarray(n.grad[:, 0]) > 0))
    add_table(
        result, "Gradient and weight norms by initialisation",
        ["initialisation", "layer l", "||dW_l|| at iteration 0", f"||dW_l|| at iteration {last}",
         "||W_l|| at iteration 0", f"||W_l|| at iteration {last}"], rows,
        note="Frobenius norms, from fit(..., norms=True), measured inside the compiled loop at "
             "the params of each iteration's cost. The course's lesson, as the course's setting "
             "shows it: zeros make every unit of a layer the same, so no gradient reaches any "
             "weight (dW_l = 0 exactly: the hidden activations are 0) and only b_L learns; "
             "weights ten times too large start with gradients hundreds of times He's, then "
             "drive the output into the sigmoid's flat tails, where the output layer's gradient "
             "vanishes while the hidden layers' swing from step to step; He weights keep the "
             "gradient norms of all layers within a small factor of each other throughout. "
             f"Median over iterations of ||dW_L|| / ||dW_1||: {ratios or 'n/a'}.")


def norms_plot(result: dict, norms: dict) -> None:
    """Per-layer gradient norms over iterations, one panel per initialisation."""
    fig, axes = plt.subplots(1, len(norms), figsize=(4.6 * len(norms), 4.0), squeeze=False,
                             sharey=True)
    for ax, (init, n) in zip(axes[0], norms.items()):
        grad = np.asarray(n.grad)
        for l in range(grad.shape[1]):
            ax.plot(np.where(grad[:, l] > 0, grad[:, l], np.nan), label=f"||dW{l + 1}||")
        if not (grad > 0).any():
            ax.text(0.5, 0.5, "||dW_l|| = 0 for every layer\nat every iteration",
                    ha="center", va="center", transform=ax.transAxes)
        ax.set_yscale("log")
        ax.set_xlim(0, len(grad) - 1)
        ax.set_xlabel("iteration")
        ax.set_title(TITLES.get(init, init), fontsize=10)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("gradient norm (log scale)")
    fig.suptitle("Circles: each layer's gradient norm per iteration, by initialisation")
    add_plot(result, fig, "gradient_norms.png",
             "Circles: each layer's gradient norm ||dW_l|| per iteration for each "
             "initialisation (log scale; zeros never appear on it).", tight_layout=True)


if __name__ == "__main__":
    main()
