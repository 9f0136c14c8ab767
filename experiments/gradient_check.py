"""Gradient checking, the course's cases: does the check pass correct gradients and flag bugs?

Question: with centred differences (eps = 1e-7, float64), does the 1-D case J(theta) = theta * x
(x = 2, theta = 4) give the course's difference 2.919e-10; does the course's 3-layer network
(``np.random.seed(1)``, X (4, 3)) with the course's planted bugs (dW2 doubled, db1 computed with
4/m) give its difference 0.2851 and get flagged, on exactly the two buggy leaves; and does the
bug-free hand-derived backward pass pass? Then, beyond the course: does the check scale to the
course's L-layer cat network ([12288, 20, 7, 5, 1], random data, m = 64) in random-direction mode,
passing the correct pass and flagging a doubled dW2 on ``[1]['W']`` only, and how long does it take?

    python -m experiments.gradient_check
    python -m experiments.gradient_check --epsilon 1e-6 --threshold 1e-7
    python -m experiments.gradient_check --directions 8
"""

from __future__ import annotations

import dataclasses
import time
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.cli import option
from experiments.compare import agreement, course_vs_ours
from experiments.plots import add_plot
from experiments.results import add_table, finish, start
from jaxdnn.course import gradient_check_test_case
from jaxdnn.gradcheck import numeric_grad, relative_difference


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out/gradient_check", "output folder")
    epsilon: float = option(1e-7, "finite-difference step")
    threshold: float = option(1e-7, "a leaf passes when its differences are below this")
    x: float = option(2.0, "x of the 1-D case J = theta * x")
    theta: float = option(4.0, "theta of the 1-D case")
    directions: int = option(4, "random directions per leaf for the cat network")
    m: int = option(64, "examples of random data for the cat network")
    quick: bool = option(False, "skip the cat network")

    QUICK: ClassVar[dict] = {"out": "out/quick/gradient_check"}


QUESTION = ("Does jaxdnn's gradient check reproduce the course's differences, pass the "
            "hand-derived backward pass, and flag the course's planted bugs on the right leaves?")
COURSE_1D = 2.919335883291695e-10  # printed as 2.919335883291695e-10 ("2.919e-10")
COURSE_BUGS = 0.2850931567761623


CAT_DIMS = (12288, 20, 7, 5, 1)


def buggy_value_and_grad(params, X, Y, activations, **kwargs):
    """The course's planted bugs: dW2 doubled (``* 2``), db1 computed with 4/m instead of 1/m."""
    J, grads = jaxdnn.manual_value_and_grad(params, X, Y, activations, **kwargs)
    grads[1]["W"] = grads[1]["W"] * 2  # dW2 = 1/m dZ2 A1^T * 2
    grads[0]["b"] = grads[0]["b"] * 4  # db1 = 4/m sum(dZ1)
    return J, grads


def doubled_dW2(params, X, Y, activations, **kwargs):
    J, grads = jaxdnn.manual_value_and_grad(params, X, Y, activations, **kwargs)
    grads[1]["W"] = grads[1]["W"] * 2
    return J, grads


def cat_network_check(cfg):
    """The L-layer cat network on random data in random-direction mode, timed (float64)."""
    k_init, k_x, k_y = jax.random.split(jax.random.key(0), 3)
    params = jaxdnn.init_params(k_init, CAT_DIMS, "xavier", jnp.float64)
    X = jax.random.uniform(k_x, (CAT_DIMS[0], cfg.m), jnp.float64)
    Y = jax.random.bernoulli(k_y, 0.5, (1, cfg.m)).astype(jnp.float64)
    acts = ("relu",) * (len(CAT_DIMS) - 2) + ("sigmoid",)
    times = []
    for grad_fn in (jaxdnn.manual_value_and_grad, doubled_dW2, jaxdnn.manual_value_and_grad):
        start = time.perf_counter()
        report = jaxdnn.gradient_check(params, X, Y, acts, grad_fn=grad_fn,
                                       num_directions=cfg.directions)
        times.append(time.perf_counter() - start)
        yield report, times[-1]


def main(argv=None) -> dict:
    cfg, result = start("gradient_check", Config, argv, __doc__, QUESTION)

    # 1-D: J(theta) = theta * x, dJ/dtheta = x
    approx = numeric_grad(lambda t: t * cfg.x, jnp.float64(cfg.theta), cfg.epsilon)
    d_1d = relative_difference(cfg.x, approx)
    course_case = cfg.x == 2.0 and cfg.theta == 4.0 and cfg.epsilon == 1e-7

    # n-D: the course's 3-layer network, with and without the planted bugs
    problem = gradient_check_test_case()
    good = jaxdnn.gradient_check(*problem, epsilon=cfg.epsilon, threshold=cfg.threshold)
    bad = jaxdnn.gradient_check(*problem, grad_fn=buggy_value_and_grad, epsilon=cfg.epsilon,
                                threshold=cfg.threshold)
    result["data"].update(one_d={"difference": d_1d, "gradapprox": float(approx)},
                          correct=good.to_dict(), planted_bugs=bad.to_dict())
    course_vs_ours(result, "Course vs ours: gradient checks (eps = "
                           f"{cfg.epsilon:g}, float64)", [
        ("1-D, J = theta * x: difference", f"{COURSE_1D:.4g} (passes)",
         f"{d_1d:.6e} ({'passes' if d_1d < cfg.threshold else 'fails'})",
         agreement(COURSE_1D, d_1d, tol=5e-13) if course_case else "n/a"),
        ("3-layer net with the planted bugs: difference", f"{COURSE_BUGS:.4g} (flagged)",
         f"{bad.manual_vs_numeric:.10f} "
         f"({'flagged on ' + ', '.join(bad.failed_leaves) if not bad.passed else 'NOT flagged'})",
         agreement(COURSE_BUGS, bad.manual_vs_numeric, tol=5e-5)),
        ("3-layer net, bug-free backward pass", "passes",
         f"{good.manual_vs_numeric:.3g} ({'passes' if good.passed else 'FAILS'}; manual~autodiff "
         f"{good.manual_vs_autodiff:.1e})",
         "matches" if good.passed else "differs"),
    ], note="the difference is ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2) over all parameters "
            "with centred differences. jaxdnn's numeric gradient differentiates the cost computed "
            "from the logits, the course's the cost from log(A3); both are float64, so the "
            "differences agree to the printed digits. jaxdnn also checks each leaf separately, "
            "against jax.grad as well as against the finite differences, and names the failing "
            f"leaves (threshold {cfg.threshold:g}; the course's n-D check prints its warning above "
            "2e-7).")
    result["notes"] += [
        "**Per-leaf report, bug-free backward pass**", "", "```", str(good), "```", "",
        "**Per-leaf report, with the planted bugs (dW2 doubled, db1 with 4/m)**", "", "```",
        str(bad), "```",
    ]
    if not cfg.quick:
        (good_cat, t_first), (bad_cat, t_bad), (_, t_again) = cat_network_check(cfg)
        n_params = sum(int(np.prod(leaf.shape)) for leaf in good_cat.leaves)
        result["data"]["cat_network"] = {
            "dims": list(CAT_DIMS), "m": cfg.m, "directions": cfg.directions,
            "parameters": n_params, "seconds_first_check": t_first,
            "seconds_buggy_check": t_bad, "seconds_repeat_check": t_again,
            "correct": good_cat.to_dict(), "doubled_dW2": bad_cat.to_dict()}
        add_table(result, f"L-layer cat network {list(CAT_DIMS)} ({n_params} parameters), "
                          f"random data, m = {cfg.m}, {cfg.directions} random directions "
                          "per leaf, float64", ["check", "verdict", "seconds"], [
            ["correct pass (first check: includes compiling)",
             "passes" if good_cat.passed else "FAILS", f"{t_first:.2f}"],
            ["dW2 doubled", "flagged on " + ", ".join(bad_cat.failed_leaves)
             if not bad_cat.passed else "NOT flagged", f"{t_bad:.2f}"],
            ["correct pass again (compiled)", "passes", f"{t_again:.2f}"]])
        result["notes"] += ["", "**Cat network, dW2 doubled, random directions**", "", "```",
                            str(bad_cat), "```"]
    result["notes"] = ["\n".join(result["notes"])]

    fig, ax = plt.subplots(figsize=(8, 4))
    paths = [leaf.path for leaf in good.leaves]
    idx = np.arange(len(paths))
    floor = 1e-18  # log axis: show exact zeros at the floor
    for off, rep, label, color in ((-0.2, good, "bug-free", "C2"),
                                   (0.2, bad, "planted bugs", "C3")):
        vals = [max(leaf.manual_vs_numeric, floor) for leaf in rep.leaves]
        ax.bar(idx + off, vals, width=0.4, label=label, color=color)
    ax.axhline(cfg.threshold, color="k", linestyle="--", label=f"threshold {cfg.threshold:g}")
    ax.set_yscale("log")
    ax.set_xticks(idx, paths)
    ax.set_xlabel("parameter leaf ([0] is layer 1)")
    ax.set_ylabel("relative difference, manual vs numeric")
    ax.set_title("Gradient check of the course's 3-layer network, leaf by leaf")
    ax.legend()
    add_plot(result, fig, "per_leaf.png",
             "Gradient check, per leaf: the bug-free backward pass stays far below the "
             "threshold; the planted bugs stand out on [0]['b'] (db1) and [1]['W'] (dW2).")
    return finish(result)


if __name__ == "__main__":
    main()
