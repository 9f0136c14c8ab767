"""Beyond the course's binary outputs: softmax networks on handwritten digits and a K-class spiral.

Question: on scikit-learn's bundled 8x8 digits (1797 images, 10 classes, pixels scaled by 1/16, a
stratified 75/25 train/test split with a fixed seed), does a jaxdnn softmax network come within
2 points of scikit-learn's ``MLPClassifier`` in mean test accuracy over several seeds, when both
train the same network the same way (hidden sizes, activation, Adam with the same lr, betas and
epsilon, minibatches reshuffled every epoch, the same number of epochs, the same L2 strength
``alpha`` = ``l2``: both add ``alpha / (2 m_batch) * sum ||W||^2`` to each minibatch's cost)?
Which digits does it confuse? And on the classic K-arm spiral (as in CS231n), what does a hidden
layer buy over a linear softmax classifier?

    python -m experiments.multiclass                       # 5 seeds each, 100 epochs
    python -m experiments.multiclass --seeds 0,1,2,3,4,5,6,7,8,9 --hidden 128
    python -m experiments.multiclass --spiral-classes 5 --spiral-noise 0.1
    python -m experiments.multiclass --quick                # a smoke test: 2 seeds, 3 epochs

What the two sides do not share: jaxdnn draws He weights (``N(0, 2 / n_{l-1})``, ``b = 0``) from a
``jax.random`` key, scikit-learn draws Glorot-uniform weights and biases from its
``random_state``; scikit-learn puts Adam's epsilon after folding the bias corrections into the step
size; jaxdnn computes in ``--dtype`` (float32 by default), scikit-learn in float64. The seed ``s``
means ``jax.random.key(s)`` for one and ``random_state=s`` for the other, so the two runs of a seed
are not paired in any finer sense.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.cli import option
from experiments.evaluate import accuracies, device_array, predictor
from experiments.markdown import pct
from experiments.plots import add_plot, decision_boundary
from experiments.results import add_table, finish, start


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out/multiclass", "output folder")
    hidden: tuple[int, ...] = option((64,), "hidden-layer sizes of the digits network")
    activation: str = option("relu", "hidden activation (scikit-learn's relu, tanh, logistic)",
                             choices=("relu", "tanh", "sigmoid"))
    learning_rate: float = option(1e-3, "Adam's step size (scikit-learn's "
                                        "learning_rate_init)")
    batch_size: int = option(64, "minibatch size, reshuffled every epoch")
    epochs: int = option(100, "epochs (scikit-learn's max_iter, its early stop disabled)")
    l2: float = option(1e-4, "L2 strength (scikit-learn's alpha; the same penalty)")
    test_size: float = option(0.25, "share of the digits held out for testing (stratified)")
    split_seed: int = option(0, "random_state of the train/test split")
    seeds: tuple[int, ...] = option((0, 1, 2, 3, 4), "seeds: jax.random.key(s) for jaxdnn, "
                                                     "random_state=s for scikit-learn")
    dtype: str = option("float32", "jaxdnn's dtype", choices=("float32", "float64"))
    goal_points: float = option(2.0, "the goal: jaxdnn's mean test accuracy within this "
                                     "many points of scikit-learn's")
    spiral_classes: int = option(3, "arms (classes) K of the spiral")
    spiral_points: int = option(100, "points per arm")
    spiral_noise: float = option(0.2, "standard deviation of the angle noise")
    spiral_seed: int = option(0, "np.random.RandomState of the training spiral; the test "
                                 "spiral draws with SEED + 1")
    spiral_hidden: int = option(100, "hidden relu units of the spiral network")
    spiral_learning_rate: float = option(1.0, "step size of full-batch gradient descent")
    spiral_iterations: int = option(10000, "iterations on the spiral")
    spiral_l2: float = option(0.3, "L2 strength on the spiral (0.3 = CS231n's reg 1e-3 "
                                   "at m = 300)")
    quick: bool = option(False, "a fast smoke test: 2 seeds, 3 epochs of 3 minibatches, "
                                "300 spiral iterations")

    # 1347 training images = 3 x 449: no remainder minibatch, so one update step to compile
    QUICK: ClassVar[dict] = {"out": "out/quick/multiclass",
                             "seeds": (0, 1), "epochs": 3, "batch_size": 449,
                             "spiral_iterations": 300}


QUESTION = ("Does a jaxdnn softmax network match scikit-learn's MLPClassifier on the 8x8 digits "
            "(mean test accuracy over seeds, same network and training), which digits does it "
            "confuse, and what does a hidden layer buy over a linear softmax on a K-arm spiral?")
SKLEARN_ACTIVATION = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}
NUM_CLASSES = 10


def load_digits_split(cfg):
    """``(X_train, X_test, y_train, y_test)``, as ``train_test_split`` returns them.

    Rows are images (scikit-learn's layout, `(m, 64)`), pixels scaled by 1/16 to [0, 1].
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data / 16.0  # (1797, 64) in [0, 1]
    return train_test_split(X, digits.target, test_size=cfg.test_size, stratify=digits.target,
                            random_state=cfg.split_seed)


def train_jaxdnn(cfg, X_train, y_train, X_test, y_test):
    """jaxdnn's softmax network, once per seed; per-seed arrays and the wall time of all seeds.

    One optimizer object serves every seed, so ``fit`` compiles its loop once (a loop over seeds
    costs half the compile time of ``jax.vmap`` over them here, and the runs are short); the
    initialisation and the evaluation are one compiled call each, shared by every seed.
    """
    dtype = jnp.dtype(cfg.dtype)
    dims = [X_train.shape[1], *cfg.hidden, NUM_CLASSES]
    acts = (cfg.activation,) * len(cfg.hidden) + ("softmax",)
    # the course's layout: one example per column, one-hot labels (10, m)
    X, Y = device_array(X_train.T, dtype), jaxdnn.one_hot(y_train, NUM_CLASSES, dtype)
    X_t, Y_t = device_array(X_test.T, dtype), jaxdnn.one_hot(y_test, NUM_CLASSES, dtype)
    optimizer = jaxdnn.adam(cfg.learning_rate)

    @jax.jit
    def init(key):
        k_init, k_shuffle = jax.random.split(key)
        return jaxdnn.init_params(k_init, dims, "he", dtype), k_shuffle

    @jax.jit
    def evaluate(params, X, Y, X_t, Y_t):  # train and test accuracy, test probabilities (10, m)
        return (jaxdnn.accuracy(params, X, Y, acts), jaxdnn.accuracy(params, X_t, Y_t, acts),
                jaxdnn.forward(params, X_t, acts)[0])

    train, test, probs, costs = [], [], [], []
    t0 = time.perf_counter()
    for seed in cfg.seeds:
        params, k_shuffle = init(jax.random.key(seed))
        params, c = jaxdnn.fit(params, X, Y, acts, optimizer=optimizer, num_iterations=cfg.epochs,
                               batch_size=cfg.batch_size, key=k_shuffle, l2=cfg.l2,
                               progress=False)
        tr, te, p = evaluate(params, X, Y, X_t, Y_t)
        train.append(float(tr))
        test.append(float(te))
        probs.append(np.asarray(p))  # (10, m_test)
        costs.append(np.asarray(c))
    return {"train_accuracy": np.asarray(train), "test_accuracy": np.asarray(test),
            "test_probs": np.asarray(probs), "costs": np.asarray(costs),
            "seconds": time.perf_counter() - t0}


def train_sklearn(cfg, X_train, y_train, X_test, y_test):
    """scikit-learn's MLPClassifier with the same network and training, once per seed."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    train, test, probs, costs = [], [], [], []
    t0 = time.perf_counter()
    for seed in cfg.seeds:
        clf = MLPClassifier(
            hidden_layer_sizes=cfg.hidden, activation=SKLEARN_ACTIVATION[cfg.activation],
            solver="adam", alpha=cfg.l2, batch_size=cfg.batch_size,
            learning_rate_init=cfg.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
            max_iter=cfg.epochs, shuffle=True, random_state=seed,
            n_iter_no_change=cfg.epochs + 1)  # never stop early: every run trains all epochs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": intended
            clf.fit(X_train, y_train)
        train.append(clf.score(X_train, y_train))
        test.append(clf.score(X_test, y_test))
        probs.append(clf.predict_proba(X_test).T)  # (10, m_test)
        costs.append(clf.loss_curve_)
    return {"train_accuracy": np.asarray(train), "test_accuracy": np.asarray(test),
            "test_probs": np.asarray(probs), "costs": np.asarray(costs),
            "seconds": time.perf_counter() - t0}


def mean_std(x) -> str:
    """``"97.91 +- 0.33 %"``: mean and sample standard deviation over seeds, in percent."""
    x = 100 * np.asarray(x, np.float64)
    std = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
    return f"{x.mean():.2f} +- {std:.2f} %"


def spiral(num_classes: int, points: int, noise: float, seed: int):
    """The classic K-arm spiral (CS231n): ``X`` `(2, K * points)`, integer labels `(K * points,)`.

    Arm k runs radius ``r`` from 0 to 1 at angle ``t = 4 k + 4 r`` plus ``N(0, noise^2)``.
    """
    rs = np.random.RandomState(seed)
    X = np.zeros((2, num_classes * points))
    y = np.repeat(np.arange(num_classes), points)
    for k in range(num_classes):
        r = np.linspace(0.0, 1.0, points)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), points) + rs.randn(points) * noise
        X[:, k * points:(k + 1) * points] = np.stack([r * np.sin(t), r * np.cos(t)])
    return X, y


def train_spiral(cfg, init, X, Y):
    """Full-batch gradient descent on the spiral from ``init``: ``(params, activations, costs)``."""
    acts = ("relu",) * (len(init) - 1) + ("softmax",)
    params, costs = jaxdnn.fit(init, X, Y, acts, learning_rate=cfg.spiral_learning_rate,
                               num_iterations=cfg.spiral_iterations, l2=cfg.spiral_l2,
                               progress=False)
    return params, acts, np.asarray(costs)


def digits_tables(result, cfg, jx, sk, m_train, m_test):
    gap = 100 * (jx["test_accuracy"].mean() - sk["test_accuracy"].mean())
    met = abs(gap) <= cfg.goal_points
    result["data"].update(test_accuracy_gap_points=gap, goal_met=met)
    net = "-".join(map(str, [64, *cfg.hidden, NUM_CLASSES]))
    rows = [
        (f"jaxdnn ({net}, {cfg.activation}, softmax; {cfg.dtype})", mean_std(jx["train_accuracy"]),
         mean_std(jx["test_accuracy"]),
         f"{jx['seconds']:.1f} (one fit after another, compile included)"),
        (f"scikit-learn MLPClassifier ({net}, {SKLEARN_ACTIVATION[cfg.activation]}; float64)",
         mean_std(sk["train_accuracy"]), mean_std(sk["test_accuracy"]),
         f"{sk['seconds']:.1f} (one fit after another)"),
        ("jaxdnn - scikit-learn (mean test accuracy)", "",
         f"{gap:+.2f} points: goal (within {cfg.goal_points:g} points) "
         + ("met" if met else "NOT met"), ""),
    ]
    add_table(
        result, f"Digits 8x8: test accuracy over {len(cfg.seeds)} seeds (mean +- std)",
        ("model", "train accuracy", "test accuracy", "wall time, all seeds (s)"), rows,
        note=f"{m_train} training and {m_test} test images (stratified split, random_state "
             f"{cfg.split_seed}); both sides: Adam (lr {cfg.learning_rate:g}, betas 0.9 / 0.999, "
             f"epsilon 1e-8), minibatches of {cfg.batch_size} reshuffled every epoch, "
             f"{cfg.epochs} epochs, L2 {cfg.l2:g} (scikit-learn's alpha), no early stopping. "
             "Standard deviations are over seeds (ddof 1). The initialisations differ (He normal "
             "vs Glorot uniform); see the script's docstring.")
    add_table(
        result, "Digits 8x8: test accuracy per seed",
        ("seed", "jaxdnn", "scikit-learn"),
        [(s, pct(a), pct(b))
         for s, a, b in zip(cfg.seeds, jx["test_accuracy"], sk["test_accuracy"])])


def confusion_plot(result, cfg, y_test, jx_pred, sk_pred):
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, (name, pred) in zip(axes, (("jaxdnn", jx_pred), ("scikit-learn", sk_pred))):
        cm = confusion_matrix(y_test, pred, labels=range(NUM_CLASSES))
        ConfusionMatrixDisplay(cm).plot(ax=ax, colorbar=False, cmap="Blues")
        ax.set_title(f"{name}, seed {cfg.seeds[0]}: {int(np.trace(cm))} / {cm.sum()} right",
                     fontsize=10)
        result["data"][f"confusion_matrix_{name}"] = cm
    add_plot(result, fig, "confusion_matrix.png",
             f"Digits 8x8: confusion matrices on the test set (rows: true digit, columns: "
             f"predicted), the first seed's networks ({cfg.seeds[0]}).", dpi=80, tight_layout=True)


def misclassified_plot(result, cfg, X_test, y_test, probs, max_shown=24):
    pred = probs.argmax(axis=0)
    wrong = np.flatnonzero(pred != y_test)
    shown = wrong[:max_shown]
    ncols = 8
    nrows = max(1, -(-len(shown) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.45 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{y_test[i]} -> {pred[i]} ({probs[pred[i], i]:.2f})", fontsize=8)
    fig.suptitle(f"jaxdnn, seed {cfg.seeds[0]}: {len(wrong)} of {len(y_test)} test digits "
                 f"misclassified" + (f" (first {len(shown)} shown)" if len(wrong) > len(shown)
                                     else ""), fontsize=9)
    add_plot(result, fig, "misclassified.png",
             "Digits 8x8: misclassified test digits, titled true -> predicted (the "
             "softmax probability of the prediction).", dpi=80, tight_layout=True)


def cost_plot(result, cfg, jx, sk):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    epochs = np.arange(1, cfg.epochs + 1)
    for name, r in (("jaxdnn", jx), ("scikit-learn", sk)):
        ax.plot(epochs, r["costs"].mean(axis=0), label=f"{name} (mean over {len(cfg.seeds)} seeds)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean minibatch cost (+ L2)")
    ax.set_title("Digits 8x8: training cost per epoch", fontsize=10)
    ax.legend()
    add_plot(result, fig, "cost_curves.png",
             "Digits 8x8: each epoch's mean minibatch cost (cross-entropy + L2 penalty, "
             "each minibatch's before its update), jaxdnn and scikit-learn.", dpi=80)


def spiral_part(result, cfg):
    dtype = jnp.dtype(cfg.dtype)
    K = cfg.spiral_classes
    X_np, y = spiral(K, cfg.spiral_points, cfg.spiral_noise, cfg.spiral_seed)
    X_test_np, y_test = spiral(K, cfg.spiral_points, cfg.spiral_noise, cfg.spiral_seed + 1)
    X, Y = device_array(X_np, dtype), jaxdnn.one_hot(y, K, dtype)
    X_test, Y_test = device_array(X_test_np, dtype), jaxdnn.one_hot(y_test, K, dtype)
    key = jax.random.key(cfg.spiral_seed)
    nets = {"linear softmax": [2, K],
            f"{cfg.spiral_hidden} hidden relu units": [2, cfg.spiral_hidden, K]}
    # every network's He weights in one compiled call (eagerly, each layer's draw compiles)
    inits = jax.jit(lambda k: [jaxdnn.init_params(k, dims, "he", dtype)
                               for dims in nets.values()])(key)
    rows, panels = [], []
    for (name, dims), init in zip(nets.items(), inits):
        params, acts, costs = train_spiral(cfg, init, X, Y)
        train, test = accuracies(params, acts, (X, Y), (X_test, Y_test))
        rows.append((f"{name} ({'-'.join(map(str, dims))})", f"{costs[-1]:.4f}",
                     pct(train), pct(test)))
        panels.append((name, params, acts, train, test))
        result["data"][f"spiral_{'linear' if len(dims) == 2 else 'hidden'}"] = {
            "dims": dims, "cost_last": costs[-1], "train_accuracy": train, "test_accuracy": test}
    add_table(
        result, f"{K}-arm spiral: linear softmax vs one hidden layer",
        ("network", "final cost", "train accuracy", "test accuracy"), rows,
        note=f"{cfg.spiral_points} points per arm, angle noise {cfg.spiral_noise:g}; the test "
             f"spiral is a fresh draw (seed {cfg.spiral_seed + 1}). Full-batch gradient descent, "
             f"lr {cfg.spiral_learning_rate:g}, {cfg.spiral_iterations} iterations, L2 "
             f"{cfg.spiral_l2:g}, He initialisation, {cfg.dtype}.")

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
    for ax, (name, params, acts, train, test) in zip(axes, panels):
        decision_boundary(ax, predictor(params, acts, dtype), X_np, y,
                          f"{name}: {100 * train:.1f} % train, {100 * test:.1f} % test",
                          coarse=cfg.quick, margin=0.2)
    add_plot(result, fig, "spiral_regions.png",
             f"{K}-arm spiral: decision regions of a linear softmax classifier and of one "
             "hidden relu layer (training points shown).", dpi=80, tight_layout=True)


def main(argv=None) -> dict:
    cfg, result = start("multiclass", Config, argv, __doc__, QUESTION)

    X_train, X_test, y_train, y_test = load_digits_split(cfg)
    jx = train_jaxdnn(cfg, X_train, y_train, X_test, y_test)
    sk = train_sklearn(cfg, X_train, y_train, X_test, y_test)
    result["data"].update(
        seeds=cfg.seeds, m_train=len(y_train), m_test=len(y_test),
        jaxdnn={k: v for k, v in jx.items() if k != "test_probs"},
        sklearn={k: v for k, v in sk.items() if k != "test_probs"})
    digits_tables(result, cfg, jx, sk, len(y_train), len(y_test))
    confusion_plot(result, cfg, y_test, jx["test_probs"][0].argmax(axis=0),
                   sk["test_probs"][0].argmax(axis=0))
    misclassified_plot(result, cfg, X_test, y_test, jx["test_probs"][0],
                       max_shown=8 if cfg.quick else 24)  # quick: one row of 8 axes, not 3
    cost_plot(result, cfg, jx, sk)

    spiral_part(result, cfg)
    return finish(result)


if __name__ == "__main__":
    main()
