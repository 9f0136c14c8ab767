"""Beyond the course's exercises: does batch normalisation make a deep network train faster and
tolerate larger learning rates?

Question: the course says batch norm (``Z_tilde = gamma (Z - mu) / sqrt(var + eps) + beta`` in
every hidden layer, with each minibatch's statistics) speeds up training and lets one use larger
learning rates. On scikit-learn's bundled 8x8 digits (pixels scaled by 1/16, a stratified 75/25
split), a deep relu network (six hidden layers of 32 units, softmax output, He weights) is trained
with minibatch gradient descent from several seeds at several learning rates, with and without
batch norm (the same ``W`` draws; ``b`` replaced by ``gamma = 1``, ``beta = 0``). Measured: the
training cost after each epoch, the epochs it takes to reach a cost of ``--target``, the runs that
diverge (a NaN or Inf cost), and the test accuracy (batch norm: with the running statistics,
momentum 0.9).

Mind the last minibatch: with batch norm each minibatch is normalised with its own statistics, so
a tiny remainder (``--batch-size 64`` leaves 1347 % 64 = 3 images) takes a large, noisy step once
an epoch; measured with 5 seeds at lr 0.03 it leaves batch norm at a training cost of 0.43 after
40 epochs against 0.06 without it. The default batch of 50 leaves a last minibatch of 47.

    python -m experiments.batchnorm                    # 5 seeds, 5 learning rates, 40 epochs
    python -m experiments.batchnorm --learning-rates 0.1,1,3 --seeds 0,1,2
    python -m experiments.batchnorm --quick            # a smoke test: 2 seeds, 2 epochs

Each (network, learning rate) trains every seed in one ``jax.vmap``-ed ``fit``; learning rates are
data to the compiled program, so the two networks compile once each.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxdnn
from experiments.cli import option
from experiments.evaluate import device_array
from experiments.plots import add_plot
from experiments.results import add_table, finish, start


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out/batchnorm", "output folder")
    hidden: tuple[int, ...] = option((32,) * 6, "hidden-layer sizes (relu)")
    learning_rates: tuple[float, ...] = option((0.03, 0.1, 0.3, 1.0, 3.0),
                                               "step sizes of gradient descent")
    seeds: tuple[int, ...] = option((0, 1, 2, 3, 4), "seeds: jax.random.key(s) draws W and "
                                                     "the shuffles")
    epochs: int = option(40, "epochs of minibatch gradient descent")
    batch_size: int = option(50, "minibatch size, reshuffled every epoch (50: 26 minibatches and "
                                 "a last one of 47 of the 1347 training images)")
    target: float = option(0.1, "the training cost whose first epoch below it is reported")
    dtype: str = option("float32", "dtype of the training", choices=("float32", "float64"))
    split_seed: int = option(0, "random_state of the train/test split")
    quick: bool = option(False, "a fast smoke test: 2 seeds, 2 learning rates, 2 epochs, "
                                "1 hidden layer")

    # 1347 training images = 3 x 449: one minibatch shape, so one update step to compile
    QUICK: ClassVar[dict] = {"out": "out/quick/batchnorm", "seeds": (0, 1), "epochs": 2,
                             "learning_rates": (0.1, 1.0), "hidden": (8,),
                             "batch_size": 449}


QUESTION = ("Does batch normalisation make a deep relu network on the digits train faster, and "
            "tolerate larger learning rates, than the same network without it?")
NUM_CLASSES = 10
NETS = {"plain": "without batch norm", "batchnorm": "with batch norm"}


def load_digits_split(cfg, dtype):
    """``(X, Y, X_test, Y_test)`` in the course's layout, one-hot labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(digits.data / 16.0, digits.target, test_size=0.25,
                                              stratify=digits.target, random_state=cfg.split_seed)
    return (device_array(X_tr.T, dtype), jaxdnn.one_hot(y_tr, NUM_CLASSES, dtype),
            device_array(X_te.T, dtype), jaxdnn.one_hot(y_te, NUM_CLASSES, dtype))


def train(cfg, net, data, dtype):
    """Every seed at every learning rate, one vmapped ``fit`` per network: ``(costs (lr, seed,
    epoch), test accuracy (lr, seed))``."""
    X, Y, X_t, Y_t = data
    dims = [X.shape[0], *cfg.hidden, NUM_CLASSES]
    acts = ("relu",) * len(cfg.hidden) + ("softmax",)
    bn = net == "batchnorm"

    def one(key, lr):
        k_init, k_shuffle = jax.random.split(key)
        params = jaxdnn.init_params(k_init, dims, "he", dtype, batchnorm=bn)
        out = jaxdnn.fit(params, X, Y, acts, learning_rate=lr, num_iterations=cfg.epochs,
                         batch_size=cfg.batch_size, key=k_shuffle, progress=False)
        stats = out[2] if bn else None
        return out[1], jaxdnn.accuracy(out[0], X_t, Y_t, acts, batch_stats=stats)

    keys = jnp.stack([jax.random.key(s) for s in cfg.seeds])
    lrs = device_array(cfg.learning_rates, dtype)
    per_seed = jax.vmap(one, in_axes=(0, None))
    costs, acc = jax.jit(jax.vmap(per_seed, in_axes=(None, 0)))(keys, lrs)
    return np.asarray(costs), np.asarray(acc)


def epochs_to(costs, target):
    """The first epoch (1-based) whose cost is below ``target``, per run; inf if none."""
    below = np.isfinite(costs) & (costs < target)
    return np.where(below.any(-1), below.argmax(-1) + 1.0, np.inf)


def main(argv=None) -> dict:
    cfg, result = start("batchnorm", Config, argv, __doc__, QUESTION, x64=False)
    dtype = jnp.dtype(cfg.dtype)
    data = load_digits_split(cfg, dtype)
    runs = {net: train(cfg, net, data, dtype) for net in NETS}

    rows = []
    for i, lr in enumerate(cfg.learning_rates):
        for net, title in NETS.items():
            costs, acc = runs[net][0][i], runs[net][1][i]  # (seeds, epochs), (seeds,)
            ok = np.isfinite(costs).all(-1)
            final = costs[ok, -1]
            reach = epochs_to(costs, cfg.target)
            hit = reach[np.isfinite(reach)]
            rows.append((
                f"{lr:g}", title, f"{(~ok).sum()} / {len(ok)}",
                f"{final.mean():.4f} ± {final.std():.4f}" if ok.any() else "—",
                f"{np.median(hit):.0f} ({len(hit)} / {len(ok)} runs)" if len(hit) else "never",
                f"{100 * acc[ok].mean():.2f} %" if ok.any() else "—"))
            result["data"][f"{net}_lr{lr:g}"] = {
                "mean_costs": np.nanmean(np.where(np.isfinite(costs), costs, np.nan), 0),
                "diverged": int((~ok).sum()), "final_costs": costs[:, -1],
                "epochs_to_target": reach, "test_accuracy": acc}
    add_table(
        result, f"Digits, relu network {[64, *cfg.hidden, 10]}: with and without batch norm",
        ("learning rate", "network", "diverged", f"training cost after {cfg.epochs} epochs "
         "(mean ± sd over finite runs)", f"epochs to cost < {cfg.target:g} (median)",
         "test accuracy (mean)"), rows,
        note=f"{len(cfg.seeds)} seeds per row; minibatch gradient descent, batch "
             f"{cfg.batch_size}, {cfg.dtype}. The training cost of an epoch is the mean of its "
             "minibatches' costs before each update (batch norm: with each minibatch's own "
             "statistics); test accuracy with batch norm uses the running statistics.")

    fig, axes = plt.subplots(1, len(cfg.learning_rates), figsize=(3.6 * len(cfg.learning_rates),
                                                                   3.4), squeeze=False,
                             sharey=True)
    epochs = np.arange(1, cfg.epochs + 1)
    for ax, (i, lr) in zip(axes[0], enumerate(cfg.learning_rates)):
        for net, color in zip(NETS, ("#c0392b", "#1f5fa8")):
            for costs in runs[net][0][i]:
                ax.plot(epochs, costs, color=color, alpha=0.25, lw=0.8)
            mean = result["data"][f"{net}_lr{lr:g}"]["mean_costs"]
            ax.plot(epochs, mean, color=color, lw=2, label=NETS[net])
        ax.set_yscale("log")
        ax.set_title(f"lr {lr:g}")
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("training cost (log scale)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Digits: cost per epoch, each seed (thin) and their mean (thick)", fontsize=11)
    add_plot(result, fig, "cost_curves.png",
             "Digits: training cost per epoch with and without batch norm at each learning rate "
             "(missing curves diverged).", tight_layout=True)
    return finish(result)


if __name__ == "__main__":
    main()
