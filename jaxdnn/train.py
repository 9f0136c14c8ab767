"""Training: the whole gradient-descent loop as one compiled XLA program.

``fit`` runs ``lax.scan`` over iterations (full batch) or epochs (minibatches). The scan is cut into
a few chunks; between chunks, and only there, the host looks at the costs: it prints progress,
stops on a non-finite cost and writes checkpoints. Each chunk is one call of a jitted function whose
parameters are donated, so the loop keeps no per-iteration copies and a second call with the same
shapes, dtypes and settings reuses the compiled program.

``fit`` is pure: when any of its array inputs is traced (under ``jax.vmap`` over initial params or
learning rates, or inside a user's ``jit``) it runs the whole scan in one piece, without the host
checks, so ``jax.vmap(fit)`` trains many models in one program.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import sys
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdnn.checks import check_problem, check_scalar, is_concrete
from jaxdnn.backward import autodiff_value_and_grad, manual_value_and_grad
from jaxdnn.optimizers import gradient_descent
from jaxdnn.regularization import check_regularization

GRADS = {"manual": manual_value_and_grad, "autodiff": autodiff_value_and_grad}
DEFAULT_LEARNING_RATE = 0.0075
DEFAULT_CHUNKS = 10


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


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Everything static about a run: it keys the compiled program."""

    activations: tuple[str, ...]
    grad: str
    optimizer: object  # an optax.GradientTransformation, or None for gradient descent
    batch_size: int | None
    l2: float
    keep_prob: float | None
    check_finite: bool


def fit(params, X, Y, activations, *, learning_rate=None, num_iterations: int = 2500,
        grad: str = "manual", optimizer=None, batch_size: int | None = None, key=None,
        l2: float = 0.0, keep_prob: float | None = None, progress: bool | None = None,
        chunk_size: int | None = None, check_finite: bool = False, checkpoint_dir=None,
        checkpoint_every: int | None = None, mesh=None):
    """Train a network by gradient descent (or an optax optimizer), in one compiled loop.

    Args:
      params: initial params, a list of L ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts. Not
        modified: ``fit`` works on its own copy.
      X: ``(n_x, m)`` inputs, of the params' dtype.
      Y: ``(n_L, m)`` labels in [0, 1].
      activations: L names, the last ``"sigmoid"``.
      learning_rate: step size of the course's gradient descent (default 0.0075). May be traced, so
        ``jax.vmap`` over learning rates works. Must be left unset when ``optimizer`` is given (the
        optimizer carries its own).
      num_iterations: number of updates with full batches; number of epochs with ``batch_size``.
      grad: ``"manual"`` (the hand-derived backward pass) or ``"autodiff"`` (``jax.grad``).
      optimizer: None for the course's gradient descent, or any ``optax.GradientTransformation``
        (optax's own, or :func:`jaxdnn.momentum` / :func:`jaxdnn.adam`).
      batch_size: None for full-batch training; else minibatches of this size, reshuffled each
        epoch by ``jax.random.permutation(jax.random.fold_in(key, epoch), m)``, so the order depends
        only on ``key`` and the epoch. The last minibatch of an epoch holds the ``m % batch_size``
        remaining examples, as in the course.
      key: PRNG key, needed for minibatches and for dropout.
      l2: L2 regularisation strength lambda.
      keep_prob: inverted-dropout keep probability for hidden layers.
      progress: print ``iteration, cost, iterations/s`` to stderr after each chunk. None (default)
        prints for runs of 1000 iterations or more; never when traced (vmapped or jitted).
      chunk_size: iterations (epochs) per compiled chunk; default ``ceil(num_iterations / 10)``, or
        ``checkpoint_every`` when checkpointing.
      check_finite: also watch every gradient leaf and name the first layer and leaf that became
        non-finite (costs a reduction per leaf per iteration).
      checkpoint_dir: if given, save a checkpoint (see :mod:`jaxdnn.checkpoint`) every
        ``checkpoint_every`` iterations and at the end, and resume from the latest one found there.
        Resumed runs end bitwise equal to uninterrupted ones.
      checkpoint_every: iterations (epochs) between checkpoints.
      mesh: a ``jax.sharding.Mesh`` with a ``"data"`` axis: X and Y are sharded along m (axis 1),
        params and optimizer state replicated, and the gradient's sums over examples become
        cross-device reductions inside the compiled program. m must be divisible by the size of the
        ``"data"`` axis (else ``ValueError``).

    Returns:
      ``(params, costs)``: the trained params and ``costs`` of shape ``(num_iterations,)`` where
      ``costs[i]`` is the cost before update ``i`` (``costs[0]`` is the cost of the initial params);
      with minibatches, one entry per epoch: the mean per-example cost over its minibatches, each
      computed before that minibatch's update.

    Raises:
      NonFiniteCostError: a cost became NaN or Inf; the message names the first such iteration and
        the last finite cost. Checked between chunks, not per iteration.
      ValueError, TypeError: bad input, before any work is done.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    settings, lr = _check_settings(params, X, acts, learning_rate, num_iterations, grad,
                                   optimizer, batch_size, key, l2, keep_prob, check_finite)
    if key is None:
        key = jax.random.key(0)  # unused: no minibatches, no dropout
    traced = not all(is_concrete(x) for x in (X, Y, lr, key, *jax.tree.leaves(params)))
    if mesh is not None:
        params, X, Y = _shard(mesh, params, X, Y)
    opt = settings.optimizer or gradient_descent(lr)
    opt_state = opt.init(params)

    if traced:  # under vmap / jit: one piece, no host in the loop
        if checkpoint_dir is not None:
            raise ValueError("checkpoint_dir cannot be used when fit is traced (vmapped or jitted)")
        params, _, costs, _ = _run_traced(settings, num_iterations, params, opt_state, X, Y, lr,
                                          key, jnp.asarray(0))
        return params, costs

    chunk = _chunk_size(num_iterations, chunk_size, checkpoint_every, checkpoint_dir)
    show = progress if progress is not None else num_iterations >= 1000
    start, done_costs = 0, []
    if checkpoint_dir is not None:
        config = _config(settings, num_iterations, lr, key)
        start, params, opt_state, done_costs = _resume(checkpoint_dir, config, params, opt_state,
                                                       mesh)
    params = jax.tree.map(jnp.copy, params)  # fit's own buffers: donated from here on
    opt_state = jax.tree.map(jnp.copy, opt_state)
    t0, last_finite = time.perf_counter(), (done_costs[-1][-1] if done_costs else None)
    for lo in range(start, num_iterations, chunk):
        n = min(chunk, num_iterations - lo)
        params, opt_state, costs, bad = _run(settings, n, params, opt_state, X, Y, lr, key,
                                             jnp.asarray(lo))
        costs_host = np.asarray(costs)  # the one host round-trip per chunk
        last_finite = _raise_if_not_finite(costs_host, bad, lo, last_finite, params, settings)
        done_costs.append(costs_host)
        if checkpoint_dir is not None:
            _save(checkpoint_dir, config, params, opt_state, done_costs, lo + n)
        if show:
            rate = (lo + n - start) / max(time.perf_counter() - t0, 1e-9)
            unit = "epoch" if settings.batch_size else "iteration"
            print(f"fit: {unit} {lo + n}/{num_iterations}  cost {costs_host[-1]:.6f}  "
                  f"{rate:,.0f} {unit}s/s", file=sys.stderr, flush=True)
    costs = jnp.asarray(np.concatenate(done_costs), dtype=X.dtype)
    return params, costs


# ----------------------------------------------------------------------------------------------
# the compiled loop


def _run_impl(settings: _Settings, length: int, params, opt_state, X, Y, lr, key, start):
    """``length`` iterations (epochs) from iteration ``start``: ``(params, opt_state, costs, bad)``.

    ``bad`` is -1, or (with ``check_finite``) the index of the first gradient leaf that became
    non-finite in this chunk.
    """
    opt = settings.optimizer or gradient_descent(lr)
    vg = GRADS[settings.grad]
    k_shuffle, k_drop = jax.random.split(key)
    m = X.shape[1]

    def update(carry, X_b, Y_b, k):
        params, opt_state, bad = carry
        J, g = vg(params, X_b, Y_b, settings.activations, l2=settings.l2,
                  keep_prob=settings.keep_prob, key=k)
        if settings.check_finite:
            finite = jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(g)])
            first = jnp.argmin(finite)  # index of the first non-finite leaf (0 if all finite)
            bad = jnp.where((bad < 0) & ~jnp.all(finite), first, bad)
        updates, opt_state = opt.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, bad), J

    def full_batch(carry, t):
        return update(carry, X, Y, jax.random.fold_in(k_drop, t))

    def epoch(carry, e):
        bs = settings.batch_size
        n_full, rest = divmod(m, bs)
        perm = jax.random.permutation(jax.random.fold_in(k_shuffle, e), m)
        Xp, Yp = X[:, perm], Y[:, perm]  # (n_x, m), (n_L, m) in this epoch's order
        k_epoch = jax.random.fold_in(k_drop, e)

        def minibatch(carry, b):
            X_b = jax.lax.dynamic_slice_in_dim(Xp, b * bs, bs, axis=1)  # (n_x, bs)
            Y_b = jax.lax.dynamic_slice_in_dim(Yp, b * bs, bs, axis=1)  # (n_L, bs)
            return update(carry, X_b, Y_b, jax.random.fold_in(k_epoch, b))

        carry, J_full = jax.lax.scan(minibatch, carry, jnp.arange(n_full))
        total = jnp.sum(J_full) * bs  # sum of per-example costs
        if rest:
            carry, J_rest = update(carry, Xp[:, n_full * bs:], Yp[:, n_full * bs:],
                                   jax.random.fold_in(k_epoch, n_full))
            total = total + J_rest * rest
        return carry, total / m  # mean per-example cost of the epoch

    body = epoch if settings.batch_size else full_batch
    (params, opt_state, bad), costs = jax.lax.scan(
        body, (params, opt_state, jnp.asarray(-1)), start + jnp.arange(length))
    return params, opt_state, costs, bad


# The host loop donates its own copies of params and optimizer state chunk after chunk; a traced
# call (under vmap or a user's jit) has no buffers to donate.
_run = jax.jit(_run_impl, static_argnums=(0, 1), donate_argnums=(2, 3))
_run_traced = jax.jit(_run_impl, static_argnums=(0, 1))


# ----------------------------------------------------------------------------------------------
# checks and helpers


def _check_settings(params, X, acts, learning_rate, num_iterations, grad, optimizer, batch_size,
                    key, l2, keep_prob, check_finite):
    if not isinstance(grad, str) or grad not in GRADS:
        raise ValueError(f"grad must be one of {sorted(GRADS)}, got {grad!r}")
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)):
        raise TypeError(f"num_iterations must be an int, got {num_iterations!r}")
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be >= 1, got {num_iterations}")
    if optimizer is not None:
        if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError("optimizer must be an optax.GradientTransformation (init, update) or "
                            f"None, got {type(optimizer).__name__}")
        if learning_rate is not None:
            raise ValueError("learning_rate is for the default gradient descent; an optimizer "
                             "carries its own learning rate, so leave learning_rate unset")
        lr = jnp.asarray(0.0, X.dtype)  # unused
    else:
        lr = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
        check_scalar("learning_rate", lr, low=0.0, low_inclusive=False)
        lr = jnp.asarray(lr, X.dtype)
    m = X.shape[1]
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int or None, got {batch_size!r}")
        if not 1 <= batch_size <= m:
            raise ValueError(f"batch_size must be between 1 and m = {m}, got {batch_size}")
        if key is None:
            raise ValueError("minibatch training reshuffles each epoch: pass key=jax.random.key(...)")
        batch_size = int(batch_size)
    check_regularization(l2, keep_prob, key, len(params))
    settings = _Settings(acts, grad, optimizer, batch_size, float(l2),
                         None if keep_prob is None else float(keep_prob), bool(check_finite))
    return settings, lr


def _chunk_size(num_iterations, chunk_size, checkpoint_every, checkpoint_dir):
    for name, value in (("chunk_size", chunk_size), ("checkpoint_every", checkpoint_every)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or value < 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if checkpoint_every is not None and checkpoint_dir is None:
        raise ValueError("checkpoint_every needs checkpoint_dir")
    if checkpoint_dir is not None:
        if chunk_size is not None and checkpoint_every is not None and chunk_size != checkpoint_every:
            raise ValueError("with checkpoints, chunks end at checkpoints: set chunk_size or "
                             "checkpoint_every, not two different values")
        return int(checkpoint_every or chunk_size or math.ceil(num_iterations / DEFAULT_CHUNKS))
    return int(chunk_size or math.ceil(num_iterations / DEFAULT_CHUNKS))


def _raise_if_not_finite(costs, bad, lo, last_finite, params, settings):
    """Raise NonFiniteCostError for the first non-finite cost in a chunk; return the last cost."""
    finite = np.isfinite(costs)
    leaf = None
    if settings.check_finite and int(bad) >= 0:
        paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)]
        leaf = paths[int(bad)]
    if finite.all() and leaf is None:
        return float(costs[-1])
    unit = "epoch" if settings.batch_size else "iteration"
    if finite.all():  # a gradient went non-finite while the costs stayed finite
        last = lo + len(costs) - 1
        layer = int(leaf[1:leaf.index("]")]) + 1  # "[1]['W']" is layer 2
        raise NonFiniteCostError(
            f"a gradient became NaN or Inf during {unit}s {lo}..{last}: the first non-finite leaf "
            f"is {leaf} (layer {layer})", last, float(costs[-1]), leaf)
    i = int(np.argmin(finite))
    if i > 0:
        last_finite = float(costs[i - 1])
    where = (f"; the first non-finite gradient leaf was {leaf} "
             f"(layer {int(leaf[1:leaf.index(']')]) + 1})" if leaf else "")
    last = "none (the initial cost)" if last_finite is None else f"{last_finite:.6g} at {unit} {lo + i - 1}"
    raise NonFiniteCostError(
        f"training diverged: the cost at {unit} {lo + i} is {costs[i]} (not finite); the last "
        f"finite cost was {last}{where}. Lower the learning rate or check the data.",
        lo + i, last_finite, leaf)


def _shard(mesh, params, X, Y):
    from jaxdnn.sharding import replicated, shard_data

    X, Y = shard_data(mesh, X, Y)
    return jax.device_put(params, replicated(mesh)), X, Y


def _config(settings, num_iterations, lr, key):
    return {
        "activations": list(settings.activations), "grad": settings.grad,
        # the optimizer's kind (its hyperparameters live in closures and are not recorded)
        "optimizer": None if settings.optimizer is None else settings.optimizer.init.__qualname__,
        "batch_size": settings.batch_size, "l2": settings.l2, "keep_prob": settings.keep_prob,
        "num_iterations": int(num_iterations), "learning_rate": float(lr),
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }


def _save(directory, config, params, opt_state, done_costs, iteration):
    from jaxdnn import checkpoint

    path = checkpoint.checkpoint_path(directory, iteration)
    checkpoint.save(path, params, opt_state, config, np.concatenate(done_costs), iteration)
    checkpoint.prune_checkpoints(directory, keep=2)


def _resume(directory, config, params, opt_state, mesh):
    """Start from the latest checkpoint in ``directory`` when it belongs to this run."""
    from jaxdnn import checkpoint

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    latest = checkpoint.latest_checkpoint(directory)
    if latest is None:
        return 0, params, opt_state, []
    ckpt = checkpoint.load(latest)
    if ckpt.config != config:
        diff = {k: (ckpt.config.get(k), v) for k, v in config.items() if ckpt.config.get(k) != v}
        raise ValueError(f"{latest} belongs to a different run (saved vs now: {diff}); use another "
                         "checkpoint_dir or delete it")
    checkpoint_like = jax.tree.structure(params), jax.tree.structure(opt_state)
    if (jax.tree.structure(ckpt.params), jax.tree.structure(ckpt.opt_state)) != checkpoint_like:
        raise ValueError(f"{latest} holds params or optimizer state of another structure")
    params, opt_state = ckpt.params, ckpt.opt_state
    if mesh is not None:
        from jaxdnn.sharding import replicated

        params, opt_state = jax.device_put((params, opt_state), replicated(mesh))
    return int(ckpt.iteration), params, opt_state, [np.asarray(ckpt.costs)]
