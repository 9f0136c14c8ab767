"""Logistic regression on the cat images, as the course's first programming exercise.

Question: trained from w = 0, b = 0 with lr 0.005 for 2000 iterations, does jaxdnn's one-unit
sigmoid network print the course's costs (0.693147 at iteration 0, 0.140872 at 1900) and reach its
99.04 % train / 70.0 % test accuracy? And how do the cost curves for the course's learning rates
0.01, 0.001, 0.0001 (1500 iterations each) compare, trained together in one program with
``jax.vmap`` over the learning rate?

    python -m experiments.logistic_regression
    python -m experiments.logistic_regression --data-dir PATH --out out/lr
    python -m experiments.logistic_regression --quick          # a smoke test, 20 iterations
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.catdata import CAT_DIR_HELP, load_cat
from experiments.cli import option
from experiments.compare import accuracy_agreement, agreement, course_vs_ours, last_printed
from experiments.evaluate import accuracies, device_array
from experiments.markdown import pct
from experiments.plots import add_plot
from experiments.results import add_table, finish, skip, start
from jaxdnn.course import course_params


@dataclasses.dataclass(frozen=True)
class Config:
    data_dir: str | None = option(None, CAT_DIR_HELP)
    out: str = option("out/logistic_regression", "output folder")
    learning_rate: float = option(0.005, "step size of the main run")
    num_iterations: int = option(2000, "iterations of the main run")
    compare_learning_rates: tuple[float, ...] = option(
        (0.01, 0.001, 0.0001), "learning rates of the comparison, trained in one vmapped program")
    compare_iterations: int = option(1500, "iterations of each comparison run")
    quick: bool = option(False, "a fast smoke test: few iterations")

    QUICK: ClassVar[dict] = {"out": "out/quick/logistic_regression",
                             "num_iterations": 20, "compare_iterations": 10}


QUESTION = ("Does a zero-initialised one-unit sigmoid net (logistic regression) trained on the cat "
            "images with lr 0.005 for 2000 iterations print the course's costs and accuracies, and "
            "how do the course's three learning rates compare?")
ACTS = ("sigmoid",)
COURSE = {"cost0": 0.693147, "cost1900": 0.140872, "train": 0.9904306220095693, "test": 0.70}


def main(argv=None) -> dict:
    cfg, result = start("logistic_regression", Config, argv, __doc__, QUESTION)
    cat, reason = load_cat(cfg.data_dir)
    if cat is None:
        return finish(skip(result, reason))

    f64 = jnp.float64
    X, Y = jnp.asarray(cat.train_x, f64), jnp.asarray(cat.train_y, f64)
    X_test, Y_test = jnp.asarray(cat.test_x, f64), jnp.asarray(cat.test_y, f64)
    init = course_params([X.shape[0], 1], 1, "zeros")  # w = zeros((12288, 1)), b = 0

    # the course's run
    params, costs = jaxdnn.fit(init, X, Y, ACTS, learning_rate=cfg.learning_rate,
                               num_iterations=cfg.num_iterations, progress=False)
    costs = np.asarray(costs)
    train, test = accuracies(params, ACTS, (X, Y), (X_test, Y_test))
    last = last_printed(cfg.num_iterations, 100)
    result["data"].update(costs_every_100=costs[::100], cost0=costs[0], last_iteration=last,
                          cost_last=costs[last], train_accuracy=train, test_accuracy=test)
    full = cfg.num_iterations == 2000 and cfg.learning_rate == 0.005
    course_vs_ours(result, "Course vs ours: logistic regression on the cat images", [
        ("cost at iteration 0", f"{COURSE['cost0']:.6f}", f"{costs[0]:.6f}",
         agreement(COURSE["cost0"], costs[0], tol=5e-7, exact_digits=6)),
        (f"cost at iteration {last}", f"{COURSE['cost1900']:.6f} (iteration 1900)",
         f"{costs[last]:.6f}",
         agreement(COURSE["cost1900"], costs[last], tol=5e-7, exact_digits=6) if full
         else "n/a (not the course's run)"),
        ("train accuracy", pct(COURSE["train"]), pct(train),
         accuracy_agreement(COURSE["train"], train, X.shape[1]) if full else "n/a"),
        ("test accuracy", pct(COURSE["test"], 1), pct(test, 1),
         accuracy_agreement(COURSE["test"], test, X_test.shape[1]) if full else "n/a"),
    ], note="float64, w = zeros((12288, 1)), b = 0, full-batch gradient descent by the "
            "hand-derived backward pass; the cost is computed from the logits. Accuracies match "
            "when they count the same correct images (within half an image: 0.5 / m).")

    # the course's learning-rate comparison: one program, vmapped over the learning rate
    lrs = device_array(cfg.compare_learning_rates, f64)
    # X, Y are arguments, not closed-over constants, so XLA does not fold 12288 x 209 numbers
    train_all = jax.jit(jax.vmap(lambda lr, p, X, Y: jaxdnn.fit(
        p, X, Y, ACTS, learning_rate=lr, num_iterations=cfg.compare_iterations, progress=False),
        in_axes=(0, None, None, None)))
    params_lr, costs_lr = train_all(lrs, init, X, Y)
    acc = jax.vmap(lambda p, x, y: jaxdnn.accuracy(p, x, y, ACTS), in_axes=(0, None, None))
    # train and test accuracy of every run in one compiled call
    train_lr, test_lr = map(np.asarray, jax.jit(lambda p, X, Y, X_t, Y_t: (
        acc(p, X, Y), acc(p, X_t, Y_t)))(params_lr, X, Y, X_test, Y_test))
    costs_lr = np.asarray(costs_lr)
    result["data"]["learning_rate_comparison"] = [
        {"learning_rate": lr, "cost_last": c[-1], "train_accuracy": tr, "test_accuracy": te}
        for lr, c, tr, te in zip(cfg.compare_learning_rates, costs_lr, train_lr, test_lr)]
    add_table(
        result,
        f"Learning-rate comparison ({cfg.compare_iterations} iterations, one vmapped program)",
        ("learning rate", "cost at iteration 0", f"cost at iteration {cfg.compare_iterations - 1}",
         "train accuracy", "test accuracy"),
        [(f"{lr:g}", f"{c[0]:.6f}", f"{c[-1]:.6f}", pct(tr), pct(te, 1))
         for lr, c, tr, te in zip(cfg.compare_learning_rates, costs_lr, train_lr, test_lr)],
        note="the course shows this comparison as a plot of cost curves; course_results.md has no "
             "numbers for it.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(costs, color="C0")
    axes[0].set_title(f"lr {cfg.learning_rate:g}: cost per iteration")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("cost J")
    for lr, c in zip(cfg.compare_learning_rates, costs_lr):
        axes[1].plot(c, label=f"lr = {lr:g}")
    axes[1].set_title("the course's learning-rate comparison (jax.vmap over lr)")
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("cost J")
    axes[1].set_yscale("log")
    axes[1].legend()
    add_plot(result, fig, "cost_curves.png",
             "Logistic regression on the cat images: cost curves (left: lr 0.005; right: "
             "the course's three learning rates, trained together with jax.vmap).")
    return finish(result)


if __name__ == "__main__":
    main()
