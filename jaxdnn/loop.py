"""The host loop's pieces: a progress bar, a finite check, checkpoints.

``fit`` runs the compiled training function chunk by chunk; between chunks, and only there, the
host looks at what came back. Each concern is one small piece here, and the loop in ``fit`` calls
them in turn:

- :class:`Progress`: a ``tqdm`` bar over iterations (epochs) with the cost and, given validation
  data, the validation cost and accuracy;
- :func:`raise_if_not_finite`: stops the run with :class:`NonFiniteCostError` at the first NaN or
  Inf cost (or gradient leaf, when the training function watches them);
- :class:`Checkpoints`: resumes from the newest checkpoint of a directory and saves one after each
  chunk, keeping the two newest.
"""

from __future__ import annotations

import hashlib
import pathlib

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxdnn import checkpoint


class Progress:
    """A ``tqdm`` bar over ``total`` iterations (or epochs), advanced after each chunk.

    Args:
      total: iterations (epochs) of the run.
      initial: those already done (a resumed run).
      unit: ``"iteration"`` or ``"epoch"``.
      enabled: True shows the bar; False hides it; None shows it when stderr is a terminal.
    """

    def __init__(self, total: int, initial: int, unit: str, enabled: bool | None):
        self.bar = tqdm(total=total, initial=initial, unit=unit, desc="fit",
                        disable=None if enabled is None else not enabled, leave=True,
                        dynamic_ncols=True, mininterval=0)  # it is updated per chunk only

    def update(self, n: int, cost: float, val_cost=None, val_accuracy=None):
        postfix = {"cost": f"{cost:.4g}"}
        if val_cost is not None:
            postfix["val_cost"] = f"{val_cost:.4g}"
        if val_accuracy is not None and np.isfinite(val_accuracy):
            postfix["val_acc"] = f"{val_accuracy:.4f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(n)

    def close(self):
        self.bar.close()


class NonFiniteCostError(FloatingPointError):
    """Training produced a NaN or Inf cost (or gradient, with ``check_finite=True``).

    Attributes:
      iteration: the first iteration (or epoch) whose cost was not finite.
      last_finite_cost: the cost of the iteration before it (None if there was none).
      leaf: with ``check_finite=True``, the first gradient leaf that became non-finite, e.g.
        ``"[1]['W']"`` (layer 2's weights); else None.
    """

    def __init__(self, message, iteration, last_finite_cost, leaf=None):
        super().__init__(message)
        self.iteration = iteration
        self.last_finite_cost = last_finite_cost
        self.leaf = leaf


def raise_if_not_finite(costs: np.ndarray, bad: int, lo: int, last_finite, leaf_paths,
                        unit: str) -> float:
    """Raise :class:`NonFiniteCostError` for a chunk that went non-finite; else its last cost.

    Args:
      costs: the chunk's costs, iterations ``lo, lo + 1, ...``.
      bad: -1, or the index of the first gradient leaf that became non-finite in the chunk.
      lo: the chunk's first iteration.
      last_finite: the last cost before the chunk (None at the start).
      leaf_paths: the params' leaf paths, ``"[0]['W']"``, ..., to name a bad leaf.
      unit: ``"iteration"`` or ``"epoch"``.
    """
    finite = np.isfinite(costs)
    leaf = leaf_paths[int(bad)] if int(bad) >= 0 else None
    if finite.all() and leaf is None:
        return float(costs[-1])
    where = f"{leaf} (layer {int(leaf[1:leaf.index(']')]) + 1})" if leaf else ""
    if finite.all():  # a gradient went non-finite while the costs stayed finite
        last = lo + len(costs) - 1
        raise NonFiniteCostError(f"a gradient became NaN or Inf during {unit}s {lo}..{last}: the "
                                 f"first non-finite leaf is {where}", last, float(costs[-1]), leaf)
    i = int(np.argmin(finite))
    if i > 0:
        last_finite = float(costs[i - 1])
    last = ("none (the initial cost)" if last_finite is None
            else f"{last_finite:.6g} at {unit} {lo + i - 1}")
    raise NonFiniteCostError(
        f"training diverged: the cost at {unit} {lo + i} is {costs[i]} (not finite); the last "
        f"finite cost was {last}"
        f"{'; the first non-finite gradient leaf was ' + where if leaf else ''}"
        ". Lower the learning rate or check the data.", lo + i, last_finite, leaf)


def digest(tree) -> str:
    """SHA-256 over a pytree's leaves (dtype, shape, bytes): identifies a run's starting point."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        a = np.asarray(leaf)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class Checkpoints:
    """Resume from, and save to, a directory of checkpoints of one run.

    Args:
      directory: the run's directory (created if missing).
      config: a JSON-able description of the run; a checkpoint with another config is refused.
      keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, directory, config: dict, keep: int = 2):
        if not isinstance(directory, (str, pathlib.PurePath)):
            raise TypeError(f"checkpoint_dir must be a str or path, got {type(directory).__name__}")
        self.directory = pathlib.Path(directory)
        self.config, self.keep = config, keep

    def restore(self, params, opt_state):
        """``(iteration, params, opt_state, costs, metrics)`` of the newest checkpoint, restored
        into the given templates; ``(0, params, opt_state, [], {})`` when there is none."""
        self.directory.mkdir(parents=True, exist_ok=True)
        latest = checkpoint.latest_checkpoint(self.directory)
        if latest is None:
            return 0, params, opt_state, np.zeros(0), {}
        ckpt = checkpoint.load(latest, like=(params, opt_state))
        if ckpt.config != self.config:
            diff = {k: (ckpt.config.get(k), v) for k, v in self.config.items()
                    if ckpt.config.get(k) != v}
            raise ValueError(f"{latest} belongs to a different run (saved vs now: {diff}); use "
                             "another checkpoint_dir or delete it")
        return ckpt.iteration, ckpt.params, ckpt.opt_state, ckpt.costs, ckpt.metrics

    def save(self, iteration: int, params, opt_state, costs, metrics=None):
        """Write the checkpoint of ``iteration`` and prune older ones."""
        path = checkpoint.checkpoint_path(self.directory, iteration)
        checkpoint.save(path, params, opt_state, self.config, costs, iteration, metrics=metrics)
        checkpoint.prune_checkpoints(self.directory, keep=self.keep)
