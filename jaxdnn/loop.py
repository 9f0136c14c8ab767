"""The host loop's pieces: a progress bar, a finite check, checkpoints, and the run's history.

``fit`` runs the compiled training function chunk by chunk; between chunks, and only there, the
host looks at what came back (:class:`HostLoop`, skipped when the results are tracers). Each
concern is one small piece here:

- :class:`Progress`: a ``tqdm`` bar over iterations (epochs) with the cost and, given validation
  data, the validation cost and accuracy;
- :func:`raise_if_not_finite`: stops the run with :class:`NonFiniteCostError` at the first NaN or
  Inf cost (or gradient leaf, when the training function watches them);
- :class:`Checkpoints`: resumes from the newest checkpoint of a directory and saves one after each
  chunk, keeping the two newest (beside the params: the optimizer state, and where the run has
  them a batch-norm network's running statistics and early stopping's best check);
- :class:`History`: the costs, validation curves and norms, chunk by chunk (device arrays or
  tracers);
- :class:`EarlyStopping`: counts the validation checks without improvement.
"""

from __future__ import annotations

import hashlib
import pathlib

import jax
import jax.numpy as jnp
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
                        unit: str, dtype=None) -> float:
    """Raise :class:`NonFiniteCostError` for a chunk that went non-finite; else its last cost.

    Args:
      costs: the chunk's costs, iterations ``lo, lo + 1, ...``.
      bad: -1, or the index of the first gradient leaf that became non-finite in the chunk.
      lo: the chunk's first iteration.
      last_finite: the last cost before the chunk (None at the start).
      leaf_paths: the params' leaf paths, ``"[0]['W']"``, ..., to name a bad leaf.
      unit: ``"iteration"`` or ``"epoch"``.
      dtype: the params' dtype; for float16 and bfloat16 the advice names the dtype, whose range
        or resolution is the likelier cause, rather than the learning rate.
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
        f"{'; the first non-finite gradient leaf was ' + where if leaf else ''}. "
        + _advice(dtype), lo + i, last_finite, leaf)


def _advice(dtype) -> str:
    if dtype is None or jnp.finfo(dtype).bits >= 32:
        return "Lower the learning rate or check the data."
    info = jnp.finfo(dtype)
    return (f"The params are {info.dtype} (largest {float(info.max):g}, eps {float(info.eps):g}), "
            "whose range or resolution is the likely cause: train float32 params with "
            f"compute_dtype=jnp.{info.dtype} (mixed precision), or check the data.")


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
      directory: the run's directory (an existing, writable one).
      config: a JSON-able description of the run; a checkpoint with another config is refused.
      keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, directory, config: dict, keep: int = 2):
        self.directory = pathlib.Path(directory)
        self.config, self.keep = config, keep

    def restore(self, params, opt_state):
        """``(iteration, params, opt_state, costs, metrics)`` of the newest checkpoint, restored
        into the given templates; ``(0, params, opt_state, [], {})`` when there is none."""
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


def run_identity(options, state) -> dict:
    """What identifies a run in its checkpoints (a :class:`jaxdnn.options.FitOptions` and its
    initial state); the starting point by digest."""
    config, key = options.config, options.key
    if key is not None and key.dtype != np.uint32:
        key = jax.random.key_data(key)
    update = getattr(config.update, "func", config.update)  # a functools.partial's function
    return {
        "activations": list(config.activations), "grad": config.grad,
        "optimizer": f"{getattr(update, '__module__', '?')}."
                     f"{getattr(update, '__qualname__', type(update).__name__)}",
        "batch_size": config.batch_size, "keep_prob": config.keep_prob,
        "l2": 0.0 if options.l2 is None else float(options.l2),
        "num_iterations": options.num_iterations,
        "key": None if key is None else np.asarray(key).tolist(),
        "validation": options.validation is not None,
        # added only when used: checkpoints of runs without them stay valid
        **({"norms": True} if config.norms else {}),
        **({"patience": options.patience, "min_delta": options.min_delta}
           if options.patience is not None else {}),
        **({} if state.batch_stats is None else {"bn_momentum": config.bn_momentum}),
        "initial_params": digest(state.params), "initial_opt_state": digest(state.opt_state),
        **({"compute_dtype": config.compute_dtype} if config.compute_dtype else {}),
    }


class EarlyStopping:
    """Early stopping's count, one validation check at a time.

    A check improves when its validation cost is below the best so far by more than
    ``min_delta``; the run stops after ``patience`` checks in a row that do not.
    """

    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.best, self.wait = np.inf, 0

    def check(self, val_cost: float) -> bool:
        """Count one check; whether it improved."""
        improved = bool(val_cost < self.best - self.min_delta)  # False for NaN
        self.best, self.wait = (float(val_cost), 0) if improved else (self.best, self.wait + 1)
        return improved

    @property
    def stopped(self) -> bool:
        return self.wait >= self.patience


class History:
    """A run's costs, validation curves and norms, chunk by chunk: device arrays (or tracers),
    and the iteration counts on the host (they reach the device once, explicitly, at the end)."""

    def __init__(self, costs=(), ends=(), val_cost=(), val_accuracy=(), grad_norm=(),
                 weight_norm=()):
        put = lambda values: [jax.device_put(v) for v in values]  # explicit; no-op on devices
        self.parts = [put(costs), [np.atleast_1d(np.asarray(e, np.int32)) for e in ends],
                      put(val_cost), put(val_accuracy)]
        self.norm_parts = [put(grad_norm), put(weight_norm)]  # (iterations, L) pieces

    def append(self, end: int, metrics):
        for part, value in zip(self.parts, (metrics.costs, np.int32([end]), metrics.val_cost,
                                            metrics.val_accuracy)):
            part.append(value)
        for part, value in zip(self.norm_parts, metrics.norms or ()):
            part.append(value)

    def norms(self, dtype):
        """``(grad, weight)`` norms so far, ``(iterations, L)`` each."""
        return tuple(jnp.concatenate(part).astype(dtype) for part in self.norm_parts)

    def costs(self, dtype):
        """All costs so far, ``(iterations,)`` (one chunk's costs as they came: no copy)."""
        parts = self.parts[0]
        costs = parts[0] if len(parts) == 1 else jnp.concatenate(parts)
        return costs if costs.dtype == dtype else costs.astype(dtype)  # no dispatch when equal

    def validation(self, dtype):
        """``(iteration, cost, accuracy)``, one entry per chunk."""
        vc, va = ([jnp.atleast_1d(v) for v in part] for part in self.parts[2:])
        return (jax.device_put(np.concatenate(self.parts[1])), jnp.concatenate(vc).astype(dtype),
                jnp.concatenate(va).astype(dtype))

    def on_host(self, validation: bool) -> tuple[np.ndarray, dict]:
        """The costs (and with ``validation`` the curves, with norms the norms) as NumPy arrays,
        for a checkpoint."""
        costs, ends, vc, va = (np.concatenate([np.atleast_1d(v) for v in jax.device_get(part)])
                               if part else np.zeros(0) for part in self.parts)
        curves = {"val_iteration": ends, "val_cost": vc, "val_accuracy": va} if validation else {}
        if self.norm_parts[0]:
            curves["grad_norm"], curves["weight_norm"] = (
                np.concatenate(jax.device_get(part)) for part in self.norm_parts)
        return costs, curves


class HostLoop:
    """The host's part of ``fit``, between compiled chunks: progress, finite check, checkpoints,
    early stopping.

    With early stopping, ``best`` holds (a copy of) the params and batch-norm statistics of the
    best check so far. A checkpoint saves beside the params the optimizer state and, where the run
    has them, the running statistics and ``best``: its second tree is ``opt_state`` or
    ``(opt_state, [batch_stats,] [best])``.

    Args:
      options: the run's :class:`jaxdnn.options.FitOptions`.
      state: the initial :class:`jaxdnn.train.TrainState`.
    """

    def __init__(self, options, state):
        self.options = options
        self.unit = "epoch" if options.config.batch_size else "iteration"
        self.paths = [jax.tree_util.keystr(p)
                      for p, _ in jax.tree_util.tree_leaves_with_path(state.params)]
        self.dtype = jax.tree.leaves(state.params)[0].dtype
        self.checkpoints = None if options.checkpoint_dir is None else Checkpoints(
            options.checkpoint_dir, run_identity(options, state))
        self.bar, self.last = None, None
        self.stopper = None if options.patience is None else EarlyStopping(options.patience,
                                                                            options.min_delta)
        self.best = None  # (params, batch_stats) of the best check, with early stopping

    @property
    def best_params(self):
        return None if self.best is None else self.best[0]

    @property
    def best_stats(self):
        return None if self.best is None else self.best[1]

    def beside_params(self, state, best):
        """A checkpoint's second tree: the optimizer state, and what else the run carries."""
        extra = (() if state.batch_stats is None else (state.batch_stats,)) + (
            () if self.stopper is None else (best,))
        return (state.opt_state, *extra) if extra else state.opt_state

    @property
    def stopped(self) -> bool:
        """Whether early stopping has ended the run."""
        return self.stopper is not None and self.stopper.stopped

    def restore(self, state):
        """``(start, state, history)``: from the newest checkpoint, or the start of the run."""
        if self.checkpoints is None:
            return 0, state, History()
        start, params, beside, costs, curves = self.checkpoints.restore(
            state.params, self.beside_params(state, (state.params, state.batch_stats)))
        opt_state, *extra = beside if isinstance(beside, tuple) and (
            self.stopper is not None or state.batch_stats is not None) else (beside,)
        stats = extra.pop(0) if state.batch_stats is not None else None
        if self.stopper is not None:
            for val_cost in curves.get("val_cost", ()):  # the count, replayed from the curve
                self.stopper.check(val_cost)
            self.best = extra.pop(0) if start else None
        self.last = float(costs[-1]) if len(costs) else None
        history = History([costs], *([curves[k]] if k in curves else [] for k in (
            "val_iteration", "val_cost", "val_accuracy", "grad_norm", "weight_norm")))
        return start, state._replace(params=params, opt_state=opt_state, batch_stats=stats,
                                     step=jax.device_put(np.int32(start))), history

    def after_chunk(self, lo: int, length: int, state, metrics, history: History):
        """Check the chunk's costs, save a checkpoint, advance the progress bar."""
        validation = self.options.validation is not None
        # the one host round trip per chunk: what the host looks at, nothing more (the bad leaf
        # is -1 unless the compiled loop watches the gradients)
        wanted = ["costs"] + ["bad"] * self.options.config.check_finite + (
            ["val_cost", "val_accuracy"] if validation else [])
        metrics = metrics._replace(bad=-1)._replace(
            **jax.device_get({k: getattr(metrics, k) for k in wanted}))
        self.last = raise_if_not_finite(metrics.costs, metrics.bad, lo, self.last, self.paths,
                                        self.unit, self.dtype)
        # the best check's params (and statistics): arrays are immutable, no copy needed
        if self.stopper is not None and (self.stopper.check(metrics.val_cost)
                                         or self.best is None):
            self.best = (state.params, state.batch_stats)
        if self.checkpoints is not None:
            self.checkpoints.save(lo + length, state.params, self.beside_params(state, self.best),
                                  *history.on_host(validation))
        if self.bar is None and self.options.progress is not False:
            self.bar = Progress(self.options.num_iterations, lo, self.unit, self.options.progress)
        if self.bar is not None:
            self.bar.update(length, self.last, *((metrics.val_cost, metrics.val_accuracy)
                                                 if validation else ()))

    def close(self):
        if self.bar is not None:
            self.bar.close()
