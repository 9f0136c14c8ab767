"""Training: one pure compiled training function, and a thin host loop around it.

:func:`train_steps` is the training loop itself: ``length`` iterations (full batch) or epochs
(minibatches) as one ``lax.scan``, a pure function of the state, the data, a key and the L2
strength. Users may call, ``jit`` and ``vmap`` it directly; everything it needs to know at compile
time is in a hashable :class:`TrainConfig`, everything else is data. The optimizer's
hyperparameters live in its state (see :mod:`jaxdnn.optimizers`), so a new learning rate, decay
rate or L2 strength reuses the compiled program, and ``jax.vmap`` over any of them trains many
models in one program.

Data layout. ``train_steps`` reads the training set examples first (:class:`Examples`: ``X`` is
``(m, n_x)``, one example per row), so a minibatch is a gather of ``batch_size`` contiguous rows,
made inside the scan from this one array: no per-epoch shuffled copy of X. Making the layout costs
one transpose of X per run (memory: one copy of X; time: about a fifth of a full-batch iteration),
and only data loaders and this function ever see it: each minibatch is turned back to the course's
``(n_x, batch_size)`` for the forward and backward pass. The shuffle order of epoch ``e`` is
``jax.random.permutation(fold_in(k_shuffle, e), m)``: a function of the key and the epoch only,
so chunked, resumed and uninterrupted runs see the same minibatches.

:func:`fit` is the convenient entry point. Called on concrete arrays, it makes the examples-first
copy once for minibatches (full batch needs none) and runs ``train_steps`` in a few chunks
(donating the state from chunk to chunk); between chunks the host loop's pieces in
:mod:`jaxdnn.loop` advance a progress bar, check that the costs are finite and write checkpoints.
Called under a transformation (``jax.vmap``, ``jax.jit``, also when the only traced value hides
inside an optimizer's closure), it sees that it is traced
and returns the pure scan's result, without the host pieces.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

try:
    from jax.extend.core import get_opaque_trace_state
except ImportError:  # jax < 0.9 has it in jax.core only
    from jax.core import get_opaque_trace_state

from jaxdnn.backward import autodiff_value_and_grad, manual_value_and_grad
from jaxdnn.checks import check_problem, check_scalar, is_concrete
from jaxdnn.loop import Checkpoints, NonFiniteCostError, Progress, digest, raise_if_not_finite
from jaxdnn.loss import cost
from jaxdnn.optimizers import gradient_descent
from jaxdnn.predict import accuracy
from jaxdnn.regularization import check_regularization

__all__ = ["Examples", "Metrics", "NonFiniteCostError", "TrainConfig", "TrainState",
           "Validation", "examples_first", "fit", "train_steps"]

GRADS = {"manual": manual_value_and_grad, "autodiff": autodiff_value_and_grad}
DEFAULT_LEARNING_RATE = 0.0075
DEFAULT_CHUNKS = 10
ACCURACY_OUTPUTS = ("sigmoid", "softmax")  # output activations whose predictions are classes


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What :func:`train_steps` needs at compile time (hashable: a static argument of ``jit``).

    Attributes:
      activations: one name per layer, e.g. ``("relu", "relu", "sigmoid")``.
      update: the optimizer's ``update(grads, state, params) -> (updates, state)``; jaxdnn's rules
        share one update function per rule, so configs for different learning rates are equal.
      grad: ``"manual"`` (the hand-derived backward pass) or ``"autodiff"`` (``jax.grad``).
      batch_size: None for full batches; else the minibatch size (the last minibatch of an epoch
        holds the ``m % batch_size`` remaining examples, as in the course).
      keep_prob: inverted-dropout keep probability of the hidden layers, or None.
      check_finite: watch every gradient leaf and report the first that became non-finite.
    """

    activations: tuple[str, ...]
    update: Callable
    grad: str = "manual"
    batch_size: int | None = None
    keep_prob: float | None = None
    check_finite: bool = False


class TrainState(NamedTuple):
    """The training loop's carry.

    Attributes:
      params: the list of ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts.
      opt_state: the optimizer's state (its hyperparameters included, for jaxdnn's rules).
      step: iterations (epochs) done so far, an int32 scalar: it picks each epoch's shuffle and
        dropout keys, so a run continued from a saved state sees what an unbroken one sees.
    """

    params: Any
    opt_state: Any
    step: jax.Array


class Examples(NamedTuple):
    """The training set examples first: the one working copy minibatches are gathered from.

    Attributes:
      X: ``(m, n_x)``, one example per row.
      Y: ``(m, n_L)``.
    """

    X: jax.Array
    Y: jax.Array


def examples_first(X, Y) -> Examples:
    """``Examples(X.T, Y.T)`` from the course layout ``X: (n_x, m)``, ``Y: (n_L, m)`` (a copy)."""
    return Examples(jnp.transpose(X), jnp.transpose(Y))


class Metrics(NamedTuple):
    """What :func:`train_steps` reports besides the new state.

    Attributes:
      costs: ``(length,)``: the cost before each update, or with minibatches each epoch's mean
        per-example cost over its minibatches (each computed before that minibatch's update).
      bad: -1, or (with ``check_finite``) the index of the first gradient leaf that became
        non-finite, in ``jax.tree.leaves(params)`` order.
      val_cost: the validation cost after the last update (NaN without validation data).
      val_accuracy: the validation accuracy (NaN without validation data or for outputs that
        are not classes, e.g. ``"linear"``).
    """

    costs: jax.Array
    bad: jax.Array
    val_cost: jax.Array
    val_accuracy: jax.Array


class Validation(NamedTuple):
    """The validation curves ``fit`` returns when given ``validation_data``, one entry per chunk.

    Attributes:
      iteration: ``(n_chunks,)`` iterations (epochs) done when each entry was measured.
      cost: ``(n_chunks,)`` validation cost (no L2 term, no dropout).
      accuracy: ``(n_chunks,)`` validation accuracy (NaN for outputs that are not classes).
    """

    iteration: jax.Array
    cost: jax.Array
    accuracy: jax.Array


# ----------------------------------------------------------------------------------------------
# the pure training function


def train_steps(config: TrainConfig, length: int, state: TrainState, data: Examples, key,
                l2=None, validation=None) -> tuple[TrainState, Metrics]:
    """``length`` iterations (epochs) of training from ``state``, as one ``lax.scan``.

    Pure and un-jitted: ``jax.jit(train_steps, static_argnums=(0, 1))`` compiles it once per
    config, length and shapes; ``jax.vmap`` over states, keys, L2 strengths or optimizer
    hyperparameters trains many models in one program.

    Args:
      config: the static settings, a :class:`TrainConfig`.
      length: iterations (epochs with minibatches) to run, a Python int.
      state: a :class:`TrainState`; ``state.step`` numbers the first iteration (epoch).
      data: the training set as :class:`Examples` (see :func:`examples_first`).
      key: PRNG key; split into the shuffle key and the dropout key.
      l2: None (no L2 term), or the L2 strength lambda (a number or a traced scalar: data to the
        compiled program): adds ``lambda / (2 m) sum_l ||W_l||^2`` to each cost, its gradient to dW.
      validation: optional ``(X_val, Y_val)`` in the course layout, ``(n_x, m_val)`` and
        ``(n_L, m_val)``, evaluated once, after the last update.

    Returns:
      ``(state, metrics)``: the state after ``length`` more iterations (epochs) and a
      :class:`Metrics`.
    """
    acts, vg = config.activations, GRADS[config.grad]
    k_shuffle, k_drop = jax.random.split(key)
    m = data.X.shape[0]
    # None leaves the L2 term out of the program; a number or traced strength is data to it
    l2 = 0.0 if l2 is None else jnp.asarray(l2, jax.tree.leaves(state.params)[0].dtype)

    def update(carry, X_b, Y_b, k):  # X_b: (n_x, b), Y_b: (n_L, b)
        params, opt_state, bad = carry
        # the L2 term's cost and its dW += lambda/m W come from the value-and-grad itself: by
        # hand in the manual pass, by jax.grad in the autodiff one
        J, g = vg(params, X_b, Y_b, acts, l2=l2, keep_prob=config.keep_prob, key=k)
        if config.check_finite:
            finite = jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(g)])
            bad = jnp.where((bad < 0) & ~jnp.all(finite), jnp.argmin(finite).astype(jnp.int32), bad)
        updates, opt_state = config.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, bad), J

    if not config.batch_size:  # the course layout once, outside the loop, not once per iteration
        X_full, Y_full = data.X.T, data.Y.T  # (n_x, m), (n_L, m)
        # except X where its products run faster on the examples-first copy: transposed inside
        # the loop, where XLA takes it as a transposed operand
        X_inside = _examples_first_products(state.params[0]["W"].shape, m)

    def full_batch(carry, t):
        return update(carry, data.X.T if X_inside else X_full, Y_full,
                      jax.random.fold_in(k_drop, t))

    def epoch(carry, e):
        bs = config.batch_size
        n_full, rest = divmod(m, bs)
        perm = jax.random.permutation(jax.random.fold_in(k_shuffle, e), m)  # (m,)
        k_epoch = jax.random.fold_in(k_drop, e)

        def rows(idx):  # the minibatch's rows, back in the course layout: (n_x, b), (n_L, b)
            return data.X[idx].T, data.Y[idx].T

        def minibatch(carry, b):
            idx = jax.lax.dynamic_slice_in_dim(perm, b * bs, bs)  # (bs,)
            return update(carry, *rows(idx), jax.random.fold_in(k_epoch, b))

        carry, J_full = jax.lax.scan(minibatch, carry, jnp.arange(n_full))
        total = jnp.sum(J_full) * bs  # sum of per-example costs
        if rest:
            carry, J_rest = update(carry, *rows(perm[n_full * bs:]),
                                   jax.random.fold_in(k_epoch, n_full))
            total = total + J_rest * rest
        return carry, total / m  # mean per-example cost of the epoch

    body = epoch if config.batch_size else full_batch
    (params, opt_state, bad), costs = jax.lax.scan(
        body, (state.params, state.opt_state, jnp.asarray(-1, jnp.int32)),
        state.step + jnp.arange(length, dtype=jnp.int32))
    nan = jnp.asarray(jnp.nan, costs.dtype)
    val_cost = val_accuracy = nan
    if validation is not None:
        X_val, Y_val = validation
        val_cost = cost(params, X_val, Y_val, acts).astype(costs.dtype)
        if acts[-1] in ACCURACY_OUTPUTS:
            val_accuracy = accuracy(params, X_val, Y_val, acts).astype(costs.dtype)
    return (TrainState(params, opt_state, state.step + length),
            Metrics(costs, bad, val_cost, val_accuracy))


def _examples_first_products(W1_shape, m) -> bool:
    """Whether full-batch training reads X from its examples-first copy inside the loop, so that
    ``W1 X`` and ``dZ1 X^T`` are products with the examples-first ``(m, n_x)`` array.

    Where the features far outnumber the examples (the course's cat images: n_x = 12288, m = 209),
    XLA's CPU products run faster on that copy: the course's 4-layer cat network trains at 5.3 to
    5.6 ms per iteration in float32 against 6.6 to 7.1 ms in the course layout on 2 cores
    (``python -m experiments.bench --configs cat``). Elsewhere the course layout is as fast or
    faster (784 x 10000: 5% slower from the copy), and with a one-unit first layer, where ``W1 X``
    is a matrix-vector product, the copy is 10x slower: XLA transposes it again on every
    iteration.
    """
    n_1, n_x = W1_shape[-2:]
    return n_x > m and n_1 > 1


def _host_chunk(config, length, state, data, key, l2, validation):
    """One chunk of the host loop. Full batch: ``data`` is ``(X, Y)`` in the course layout, and the
    transpose of :func:`examples_first` cancels against ``train_steps``' transpose back inside the
    one program, so full-batch training makes no working copy of X (except where
    :func:`_examples_first_products` asks for one, in the program's temporaries)."""
    if not config.batch_size:
        data = examples_first(*data)
    return train_steps(config, length, state, data, key, l2, validation)


# The host loop owns its state's buffers: donated from chunk to chunk, no per-chunk copies.
_train_donated = jax.jit(_host_chunk, static_argnums=(0, 1), donate_argnums=(2,))
_examples_first = jax.jit(examples_first)
_own_copy = jax.jit(lambda tree: jax.tree.map(jnp.copy, tree))  # one dispatch for every leaf
_TOP_LEVEL = get_opaque_trace_state()


def _unused_key():
    """The key fit passes on when none is needed: made once at top level (one dispatch less per
    call), made afresh under a trace (a key made there is a tracer and must not be kept)."""
    if get_opaque_trace_state() != _TOP_LEVEL:
        return jax.random.key(0)
    return _top_level_key()


@functools.cache
def _top_level_key():
    return jax.random.key(0)


def _traced(*trees) -> bool:
    """True under a transformation: jit/vmap/grad is tracing, or an argument is a tracer."""
    return (get_opaque_trace_state() != _TOP_LEVEL
            or any(not is_concrete(x) for x in jax.tree.leaves(trees)))


# ----------------------------------------------------------------------------------------------
# fit


def fit(params, X, Y, activations, *, learning_rate=None, num_iterations: int = 2500,
        grad: str = "manual", optimizer=None, batch_size: int | None = None, key=None,
        l2=0.0, keep_prob: float | None = None, validation_data=None,
        progress: bool | None = None, chunk_size: int | None = None, check_finite: bool = False,
        checkpoint_dir=None, checkpoint_every: int | None = None, mesh=None):
    """Train a network by gradient descent (or an optax optimizer), in one compiled loop.

    Args:
      params: initial params, a list of L ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts. Not
        modified: ``fit`` works on its own copy.
      X: ``(n_x, m)`` inputs, of the params' dtype.
      Y: ``(n_L, m)`` labels (whatever the output activation's cost expects).
      activations: L names, one per layer; passed through to the cost and its gradient.
      learning_rate: step size of the course's gradient descent (default 0.0075): a number, a
        traced scalar (``jax.vmap`` over learning rates works) or a schedule
        (:mod:`jaxdnn.schedules`). Leave unset when ``optimizer`` is given (it carries its own).
      num_iterations: number of updates with full batches; number of epochs with ``batch_size``.
      grad: ``"manual"`` (the hand-derived backward pass) or ``"autodiff"`` (``jax.grad``).
      optimizer: None for the course's gradient descent, or any ``optax.GradientTransformation``
        (optax's own, or :func:`jaxdnn.gradient_descent` / :func:`jaxdnn.momentum` /
        :func:`jaxdnn.adam`, whose hyperparameters are data: a new one does not recompile).
      batch_size: None for full-batch training; else minibatches of this size, reshuffled each
        epoch by ``jax.random.permutation(jax.random.fold_in(k_shuffle, epoch), m)`` with
        ``k_shuffle, k_dropout = jax.random.split(key)``: the order depends only on ``key`` and
        the epoch. The last minibatch of an epoch holds the ``m % batch_size`` remaining examples.
      key: PRNG key, needed for minibatches and for dropout.
      l2: L2 regularisation strength lambda (may be traced, so ``jax.vmap`` over it works).
      keep_prob: inverted-dropout keep probability for hidden layers.
      validation_data: optional ``(X_val, Y_val)``; its cost (and accuracy, for sigmoid and
        softmax outputs) is measured after each chunk, shown with the progress and returned.
      progress: show a ``tqdm`` progress bar, advanced after each chunk; None (default) shows it
        when stderr is a terminal. Never when traced.
      chunk_size: iterations (epochs) per compiled chunk; default ``ceil(num_iterations / 10)``, or
        ``checkpoint_every`` when checkpointing.
      check_finite: also watch every gradient leaf and name the first layer and leaf that became
        non-finite (costs a reduction per leaf per iteration).
      checkpoint_dir: if given, save a checkpoint (see :mod:`jaxdnn.checkpoint`) after every chunk
        and resume from the latest one found there. Resumed runs end bitwise equal to
        uninterrupted ones.
      checkpoint_every: iterations (epochs) between checkpoints.
      mesh: a ``jax.sharding.Mesh`` with a ``"data"`` axis: X and Y are sharded along m, params
        and optimizer state replicated, and the gradient's sums over examples become cross-device
        reductions inside the compiled program. m must be divisible by the ``"data"`` axis size.

    Returns:
      ``(params, costs)``: the trained params and ``costs`` of shape ``(num_iterations,)`` where
      ``costs[i]`` is the cost before update ``i`` (``costs[0]`` is the cost of the initial
      params); with minibatches, one entry per epoch: the mean per-example cost over its
      minibatches. With ``validation_data``, ``(params, costs, validation)``, ``validation`` a
      :class:`Validation` of the curves measured after each chunk.

    Raises:
      NonFiniteCostError: a cost became NaN or Inf; the message names the first such iteration and
        the last finite cost. Checked between chunks, not per iteration.
      ValueError, TypeError: bad input, before any work is done.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    optimizer = _check_optimizer(optimizer, learning_rate)
    config = _check_config(params, X, acts, num_iterations, grad, optimizer, batch_size, key, l2,
                           keep_prob, check_finite)
    validation = _check_validation(params, validation_data, acts)
    chunk = _chunk_size(num_iterations, chunk_size, checkpoint_every, checkpoint_dir)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    key = _unused_key() if key is None else key  # no minibatches, no dropout: never drawn from
    l2_term = None if isinstance(l2, (int, float)) and l2 == 0 else l2  # None: no L2 term
    if mesh is not None:
        params, X, Y = _shard(mesh, params, X, Y)
    state = TrainState(params, optimizer.init(params), np.zeros((), np.int32))
    if _traced(state, X, Y, key, l2, validation):
        if checkpoint_dir is not None:
            raise ValueError("checkpoint_dir cannot be used when fit is traced (vmapped or jitted)")
        return _fit_traced(config, num_iterations, chunk, state, X, Y, key, l2_term, validation)
    return _fit_host(config, num_iterations, chunk, state, X, Y, key, l2_term, validation,
                     progress, checkpoint_dir)


def _fit_traced(config, n, chunk, state, X, Y, key, l2, validation):
    """The whole run as one traced computation: one scan, or a scan over chunks to validate."""
    data = examples_first(X, Y)
    if validation is None:
        state, metrics = train_steps(config, n, state, data, key, l2)
        return state.params, metrics.costs
    n_chunks, rest = divmod(n, chunk)
    state, metrics = jax.lax.scan(
        lambda s, _: train_steps(config, chunk, s, data, key, l2, validation), state, None,
        length=n_chunks)
    parts = [metrics._replace(costs=metrics.costs.reshape(-1))] if n_chunks else []
    if rest:
        state, last = train_steps(config, rest, state, data, key, l2, validation)
        parts.append(jax.tree.map(lambda a: a[None] if a.ndim == 0 else a, last))
    ends = [chunk * (i + 1) for i in range(n_chunks)] + ([n] if rest else [])
    cat = lambda field: jnp.concatenate([getattr(p, field) for p in parts])
    return state.params, cat("costs"), Validation(jnp.asarray(ends, jnp.int32),
                                                  cat("val_cost"), cat("val_accuracy"))


def _fit_host(config, n, chunk, state, X, Y, key, l2, validation, progress, checkpoint_dir):
    """The host loop: the compiled chunks, and between them the pieces of :mod:`jaxdnn.loop`."""
    unit = "epoch" if config.batch_size else "iteration"
    # minibatches: the one working copy of X, examples first, for the whole run
    data = _examples_first(X, Y) if config.batch_size else (X, Y)
    start, costs, curves = 0, np.zeros(0), {}
    checkpoints = None
    if checkpoint_dir is not None:
        checkpoints = Checkpoints(checkpoint_dir, _run_config(config, n, state, key, l2,
                                                              validation))
        start, params, opt_state, costs, curves = checkpoints.restore(state.params,
                                                                      state.opt_state)
        state = TrainState(params, opt_state, jnp.asarray(start, jnp.int32))
    state = _own_copy(state)  # fit's own buffers: donated from here on
    costs, curves = [costs], {k: [v] for k, v in curves.items()}
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(state.params)]
    last = float(costs[0][-1]) if len(costs[0]) else None
    bar = Progress(n, start, unit, progress)
    try:
        for lo in range(start, n, chunk):
            length = min(chunk, n - lo)
            state, metrics = _train_donated(config, length, state, data, key, l2, validation)
            metrics = jax.device_get(metrics)  # the one host round trip per chunk
            last = raise_if_not_finite(metrics.costs, metrics.bad, lo, last, paths, unit)
            costs.append(metrics.costs)
            if validation is not None:
                for name, value in (("val_iteration", lo + length), ("val_cost", metrics.val_cost),
                                    ("val_accuracy", metrics.val_accuracy)):
                    curves.setdefault(name, []).append(np.asarray(value)[None])
            if checkpoints is not None:
                checkpoints.save(lo + length, state.params, state.opt_state,
                                 np.concatenate(costs),
                                 {k: np.concatenate(v) for k, v in curves.items()})
            bar.update(length, last, *((metrics.val_cost, metrics.val_accuracy)
                                       if validation is not None else ()))
    finally:
        bar.close()
    costs = jnp.asarray(np.concatenate(costs), dtype=X.dtype)
    if validation is None:
        return state.params, costs
    curves = {k: np.concatenate(v) for k, v in curves.items()}
    return state.params, costs, Validation(jnp.asarray(curves["val_iteration"], jnp.int32),
                                           jnp.asarray(curves["val_cost"], X.dtype),
                                           jnp.asarray(curves["val_accuracy"], X.dtype))


# ----------------------------------------------------------------------------------------------
# checks and helpers


def _check_optimizer(optimizer, learning_rate):
    if optimizer is None:
        lr = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
        return gradient_descent(lr)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError("optimizer must be an optax.GradientTransformation (init, update) or "
                        f"None, got {type(optimizer).__name__}")
    if learning_rate is not None:
        raise ValueError("learning_rate is for the default gradient descent; an optimizer "
                         "carries its own learning rate, so leave learning_rate unset")
    return optimizer


def _check_key(key):
    if key is None:
        return
    ok = isinstance(key, (jax.Array, jax.core.Tracer)) and (
        (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ())
        or (key.dtype == jnp.uint32 and key.shape == (2,)))  # a legacy jax.random.PRNGKey
    if not ok:
        what = (f"an array of dtype {key.dtype} and shape {key.shape}"
                if hasattr(key, "dtype") else type(key).__name__)
        is_key = hasattr(key, "dtype") and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        error = ValueError if is_key else TypeError  # keys of the wrong shape: a batch of keys
        raise error(f"key must be one PRNG key, jax.random.key(seed), got {what}")


def _check_config(params, X, acts, num_iterations, grad, optimizer, batch_size, key, l2,
                  keep_prob, check_finite) -> TrainConfig:
    if not isinstance(grad, str) or grad not in GRADS:
        raise ValueError(f"grad must be one of {sorted(GRADS)}, got {grad!r}")
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)):
        raise TypeError(f"num_iterations must be an int, got {num_iterations!r}")
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be >= 1, got {num_iterations}")
    _check_key(key)
    m = X.shape[1]
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int or None, got {batch_size!r}")
        if not 1 <= batch_size <= m:
            raise ValueError(f"batch_size must be between 1 and m = {m}, got {batch_size}")
        if key is None:
            raise ValueError("minibatch training reshuffles each epoch: "
                             "pass key=jax.random.key(...)")
        batch_size = int(batch_size)
    if isinstance(l2, (jax.Array, np.ndarray, jax.core.Tracer)):  # data: checked as a scalar
        check_scalar("l2", l2, low=0.0, low_inclusive=True)
        check_regularization(0.0, keep_prob, key, len(params))
    else:
        check_regularization(l2, keep_prob, key, len(params))
    return TrainConfig(acts, optimizer.update, grad, batch_size,
                       None if keep_prob is None else float(keep_prob), bool(check_finite))


def _check_validation(params, validation_data, acts):
    if validation_data is None:
        return None
    if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        raise TypeError("validation_data must be a pair (X_val, Y_val), got "
                        f"{type(validation_data).__name__}")
    try:
        X_val, Y_val, _ = check_problem(params, *validation_data, acts)
    except (ValueError, TypeError) as e:
        raise type(e)(f"validation_data: {e}") from None
    return X_val, Y_val


def _chunk_size(num_iterations, chunk_size, checkpoint_every, checkpoint_dir):
    for name, value in (("chunk_size", chunk_size), ("checkpoint_every", checkpoint_every)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if checkpoint_every is not None and checkpoint_dir is None:
        raise ValueError("checkpoint_every needs checkpoint_dir")
    if checkpoint_dir is not None:
        if (chunk_size is not None and checkpoint_every is not None
                and chunk_size != checkpoint_every):
            raise ValueError("with checkpoints, chunks end at checkpoints: set chunk_size or "
                             "checkpoint_every, not two different values")
        return int(checkpoint_every or chunk_size or math.ceil(num_iterations / DEFAULT_CHUNKS))
    return int(chunk_size or math.ceil(num_iterations / DEFAULT_CHUNKS))


def _shard(mesh, params, X, Y):
    from jaxdnn.sharding import replicated, shard_data

    X, Y = shard_data(mesh, X, Y)
    return jax.device_put(params, replicated(mesh)), X, Y


def _qualname(fn) -> str:
    fn = getattr(fn, "func", fn)  # a functools.partial's function
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def _run_config(config, num_iterations, state, key, l2, validation) -> dict:
    """What identifies a run in its checkpoints; the starting point by digest."""
    key_data = key if key.dtype == jnp.uint32 else jax.random.key_data(key)
    return {
        "activations": list(config.activations), "grad": config.grad,
        "optimizer": _qualname(config.update), "batch_size": config.batch_size,
        "l2": 0.0 if l2 is None else float(l2), "keep_prob": config.keep_prob,
        "num_iterations": int(num_iterations),
        "key": np.asarray(key_data).tolist(), "validation": validation is not None,
        "initial_params": digest(state.params), "initial_opt_state": digest(state.opt_state),
    }
