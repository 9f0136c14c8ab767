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

:func:`fit` is the convenient entry point: a short host loop over ``train_steps``, one compiled
call per chunk of iterations, with one code path. Its
arguments are checked once, into a :class:`jaxdnn.options.FitOptions`. Between chunks the host
pieces of :mod:`jaxdnn.loop` advance a progress bar, check that the costs are finite and write
checkpoints; under a transformation (``jax.vmap``, ``jax.jit``, or a traced value inside an
optimizer's closure) the chunks' results are tracers, and those pieces are simply skipped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdnn.backward import autodiff_value_and_grad, manual_value_and_grad
from jaxdnn.batchnorm import init_batch_stats, update_batch_stats
from jaxdnn.checks import check_problem, is_traced
from jaxdnn.forward import forward
from jaxdnn.loop import HostLoop, NonFiniteCostError
from jaxdnn.loss import cost
from jaxdnn.options import FitOptions, TrainConfig
from jaxdnn.predict import accuracy

__all__ = ["Examples", "Metrics", "NonFiniteCostError", "Norms", "TrainConfig", "TrainState",
           "Validation", "examples_first", "fit", "train_steps"]

GRADS = {"manual": manual_value_and_grad, "autodiff": autodiff_value_and_grad}
ACCURACY_OUTPUTS = ("sigmoid", "softmax")  # output activations whose predictions are classes


class TrainState(NamedTuple):
    """The training loop's carry.

    Attributes:
      params: the list of ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts.
      opt_state: the optimizer's state (its hyperparameters included, for jaxdnn's rules).
      step: iterations (epochs) done so far, an int32 scalar: it picks each epoch's shuffle and
        dropout keys, so a run continued from a saved state sees what an unbroken one sees.
      batch_stats: a batch-norm network's running statistics (see :mod:`jaxdnn.batchnorm`),
        updated after every (mini)batch; None for a network without batch norm.
    """

    params: Any
    opt_state: Any
    step: jax.Array
    batch_stats: Any = None


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
      norms: with ``config.norms``, a :class:`Norms` of ``(length, L)`` arrays; else None.
    """

    costs: jax.Array
    bad: jax.Array
    val_cost: jax.Array
    val_accuracy: jax.Array
    norms: Norms | None = None


class Norms(NamedTuple):
    """Each layer's gradient and weight norms per iteration (epoch): vanishing and exploding
    gradients made visible.

    Full batch, row ``i`` is measured at the params of ``costs[i]`` (before update ``i``): the
    Frobenius norms ``||dW_l||`` of the gradient that update uses (its L2 term and dropout
    included) and ``||W_l||``. With minibatches, row ``e`` is the mean over epoch ``e``'s
    minibatches (each counting once, the last, smaller one included) of those norms, each measured
    at the params that minibatch's gradient is taken at.

    Attributes:
      grad: ``(iterations, L)``, ``grad[i, l - 1] = ||dW_l||``.
      weight: ``(iterations, L)``, ``weight[i, l - 1] = ||W_l||``.
    """

    grad: jax.Array
    weight: jax.Array


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
      key: PRNG key, split into the shuffle key and the dropout key; None when nothing is random
        (full batch without dropout).
      l2: None (no L2 term), or the L2 strength lambda (a number or a traced scalar: data to the
        compiled program): adds ``lambda / (2 m) sum_l ||W_l||^2`` to each cost, its gradient to dW.
      validation: optional ``(X_val, Y_val)`` in the course layout, ``(n_x, m_val)`` and
        ``(n_L, m_val)``, evaluated once, after the last update.

    Returns:
      ``(state, metrics)``: the state after ``length`` more iterations (epochs) and a
      :class:`Metrics`.
    """
    acts, vg = config.activations, GRADS[config.grad]
    k_shuffle, k_drop = (None, None) if key is None else jax.random.split(key)
    fold_in = (lambda k, i: None) if key is None else jax.random.fold_in
    m = data.X.shape[0]
    # None leaves the L2 term out of the program; a number or traced strength is data to it
    l2 = 0.0 if l2 is None else jnp.asarray(l2, jax.tree.leaves(state.params)[0].dtype)
    stats = init_batch_stats(state.params) if state.batch_stats is None else state.batch_stats

    def update(carry, X_b, Y_b, k):  # X_b: (n_x, b), Y_b: (n_L, b)
        params, opt_state, bad, stats = carry
        # the L2 term's cost and its dW += lambda/m W come from the value-and-grad itself: by
        # hand in the manual pass, by jax.grad in the autodiff one
        J, g = vg(params, X_b, Y_b, acts, l2=l2, keep_prob=config.keep_prob, key=k,
                  compute_dtype=config.compute_dtype)
        # ||dW_l||_F and ||W_l||_F, (L,) each; None (nothing computed) unless asked for
        norms = Norms(*(jnp.stack([jnp.linalg.norm(layer["W"]) for layer in tree])
                        for tree in (g, params))) if config.norms else None
        if config.check_finite:
            finite = jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(g)])
            bad = jnp.where((bad < 0) & ~jnp.all(finite), jnp.argmin(finite).astype(jnp.int32), bad)
        if stats is not None:  # running averages of the batch's mu and var, from this forward
            # (under jit the same computation as the value-and-grad's forward: XLA shares it)
            _, caches = forward(params, X_b, acts, keep_prob=config.keep_prob, key=k)
            stats = update_batch_stats(stats, caches, config.bn_momentum)
        updates, opt_state = config.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, bad, stats), (J, norms)

    if not config.batch_size:  # the course layout once, outside the loop, not once per iteration
        X_full, Y_full = data.X.T, data.Y.T  # (n_x, m), (n_L, m)

    def full_batch(carry, t):
        return update(carry, X_full, Y_full, fold_in(k_drop, t))

    def epoch(carry, e):
        bs = config.batch_size
        n_full, rest = divmod(m, bs)
        perm = jax.random.permutation(jax.random.fold_in(k_shuffle, e), m)  # (m,)
        k_epoch = fold_in(k_drop, e)

        def rows(idx):  # the minibatch's rows, back in the course layout: (n_x, b), (n_L, b)
            return data.X[idx].T, data.Y[idx].T

        def minibatch(carry, b):
            idx = jax.lax.dynamic_slice_in_dim(perm, b * bs, bs)  # (bs,)
            return update(carry, *rows(idx), fold_in(k_epoch, b))

        carry, (J_full, N_full) = jax.lax.scan(minibatch, carry, jnp.arange(n_full))
        total = jnp.sum(J_full) * bs  # sum of per-example costs
        norms = jax.tree.map(lambda n: jnp.sum(n, axis=0), N_full)  # None stays None
        if rest:
            carry, (J_rest, N_rest) = update(carry, *rows(perm[n_full * bs:]),
                                             fold_in(k_epoch, n_full))
            total = total + J_rest * rest
            norms = jax.tree.map(jnp.add, norms, N_rest)
        # mean per-example cost of the epoch; mean norms over its minibatches
        return carry, (total / m, jax.tree.map(lambda n: n / (n_full + bool(rest)), norms))

    body = epoch if config.batch_size else full_batch
    (params, opt_state, bad, stats), (costs, norms) = jax.lax.scan(
        body, (state.params, state.opt_state, jnp.asarray(-1, jnp.int32), stats),
        state.step + jnp.arange(length, dtype=jnp.int32))
    nan = jnp.asarray(jnp.nan, costs.dtype)
    val_cost = val_accuracy = nan
    if validation is not None:
        X_val, Y_val = validation
        val_cost = cost(params, X_val, Y_val, acts, batch_stats=stats).astype(costs.dtype)
        if acts[-1] in ACCURACY_OUTPUTS:
            val_accuracy = accuracy(params, X_val, Y_val, acts,
                                    batch_stats=stats).astype(costs.dtype)
    return (TrainState(params, opt_state, state.step + length, stats),
            Metrics(costs, bad, val_cost, val_accuracy, norms))




# ----------------------------------------------------------------------------------------------
# fit


def fit(params, X, Y, activations, *, learning_rate=None, num_iterations: int = 2500,
        grad: str = "manual", optimizer=None, batch_size: int | None = None, key=None,
        l2=0.0, keep_prob: float | None = None, validation_data=None,
        progress: bool | None = None, chunk_size: int | None = None, check_finite: bool = False,
        checkpoint_dir=None, checkpoint_every: int | None = None, mesh=None,
        norms: bool = False, patience: int | None = None, min_delta: float | None = None,
        bn_momentum: float = 0.9, compute_dtype=None):
    """Train a network by gradient descent (or an optax optimizer), in one compiled loop.

    Args:
      params: initial params, a list of L ``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts, all
        finite. Not modified: ``fit`` works on its own copy.
      X: ``(n_x, m)`` inputs, of the params' dtype.
      Y: ``(n_L, m)`` labels (whatever the output activation's cost expects).
      activations: L names, one per layer; passed through to the cost and its gradient.
      learning_rate: step size of the course's gradient descent (default 0.0075): a number, a
        traced scalar (``jax.vmap`` over learning rates works) or a schedule
        (:mod:`jaxdnn.schedules`). Leave unset when ``optimizer`` is given (it carries its own).
        A number goes to the device once: later calls with the same number reuse it.
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
      chunk_size: iterations (epochs) per compiled chunk; default ``ceil(num_iterations / 10)``
        where the host looks at the results between chunks (a progress bar shown, validation
        data, checkpoints: ``checkpoint_every`` then), else the whole run as one chunk (one
        dispatch). Traced without validation data, the run is one chunk.
      check_finite: also watch every gradient leaf and name the first layer and leaf that became
        non-finite (costs a reduction per leaf per iteration).
      checkpoint_dir: if given, save a checkpoint (see :mod:`jaxdnn.checkpoint`) after every chunk
        and resume from the latest one found there. Resumed runs end bitwise equal to
        uninterrupted ones. Made if missing; it must be a writable directory.
      checkpoint_every: iterations (epochs) between checkpoints.
      mesh: a ``jax.sharding.Mesh`` with a ``"data"`` axis: X and Y are sharded along m, params
        and optimizer state replicated, and the gradient's sums over examples become cross-device
        reductions inside the compiled program. m must be divisible by the ``"data"`` axis size.
      norms: also return each layer's gradient and weight norms per iteration (epoch), a
        :class:`Norms` (what a row holds with minibatches: see there). Measured inside the
        compiled loop; without it nothing is computed.
      patience: early stopping (needs ``validation_data``; not when fit is traced): a check
        (one per chunk, so ``chunk_size`` sets how often) improves when its validation cost is
        below the best so far by more than ``min_delta``; the run stops after ``patience``
        checks in a row that do not, and returns the params of the best check (the last one
        that improved). None (default): no early stopping.
      min_delta: the improvement early stopping asks for, a number >= 0 (default 0: any
        decrease counts). Only with ``patience``.
      bn_momentum: for a batch-norm network (see :mod:`jaxdnn.batchnorm`), the decay of the
        running averages of each layer's batch mean and variance, updated after every
        (mini)batch: ``running = bn_momentum * running + (1 - bn_momentum) * batch``.
      compute_dtype: None, or mixed precision as accelerators train: e.g. ``jnp.bfloat16`` runs
        the forward and backward products and activations in bfloat16 while the params, the
        optimizer state and the gradients stay in the params' dtype (float32); see
        :func:`jaxdnn.manual_value_and_grad`.

    Returns:
      ``(params, costs)``: the trained params and ``costs`` of shape ``(num_iterations,)`` where
      ``costs[i]`` is the cost before update ``i`` (``costs[0]`` is the cost of the initial
      params); with minibatches, one entry per epoch: the mean per-example cost over its
      minibatches. With ``validation_data``, ``(params, costs, validation)``, ``validation`` a
      :class:`Validation` of the curves measured after each chunk. With ``norms=True``, a
      :class:`Norms` after those: ``(params, costs, norms)`` or ``(params, costs, validation,
      norms)``. A run stopped early returns the params measured at the best check, after
      ``validation.iteration[best]`` iterations (epochs), and costs, validation curves and norms
      up to the check where it stopped: ``costs`` has ``validation.iteration[-1]`` entries and
      ``validation`` ends with that check, ``best + patience`` (``best`` counts checks from 0).
      A batch-norm network's result ends with its running statistics, ``batch_stats`` (of the best
      check, when stopped early), for :func:`jaxdnn.predict`, :func:`jaxdnn.accuracy` and
      :func:`jaxdnn.cost`: ``(params, costs[, validation][, norms], batch_stats)``; validation
      inside the run uses them too.

    Raises:
      NonFiniteCostError: a cost became NaN or Inf; the message names the first such iteration and
        the last finite cost. Checked between chunks, not per iteration.
      ValueError, TypeError: bad input, before any work is done.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    run = FitOptions.check(
        params, X, acts, learning_rate=learning_rate, num_iterations=num_iterations, grad=grad,
        optimizer=optimizer, batch_size=batch_size, key=key, l2=l2, keep_prob=keep_prob,
        validation_data=validation_data, progress=progress, chunk_size=chunk_size,
        check_finite=check_finite, checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every, norms=norms, patience=patience, min_delta=min_delta,
        bn_momentum=bn_momentum, compute_dtype=compute_dtype)
    if mesh is not None:
        params, X, Y = _shard(mesh, params, X, Y)
    # the step counter: a run of one chunk starts it inside the compiled program (no transfer);
    # chunks that follow one another share one program, so they get it explicitly from here
    step = None if run.chunk >= run.num_iterations else jax.device_put(np.int32(0))
    state = TrainState(params, run.optimizer.init(params), step, init_batch_stats(params))
    traced = any(map(is_traced, jax.tree.leaves((state, X, Y, run.key, run.l2, run.validation))))
    if traced:  # no host decisions between chunks: one chunk without validation data
        run = run.traced()
    host = HostLoop(run, state)  # progress, finite check, checkpoints: concrete results only
    start, state, history = host.restore(state)
    # minibatches: one examples-first working copy of X for the whole run; full batch: none
    data = _examples_first(X, Y) if run.config.batch_size else (X, Y)
    for lo in range(start, run.num_iterations, run.chunk):
        if host.stopped:  # early stopping, also when the restored run had stopped
            break
        length = min(run.chunk, run.num_iterations - lo)
        state, metrics = _train_chunk(run.config, length, state, data, run.key, run.l2,
                                      run.validation)
        history.append(lo + length, metrics)
        if not is_traced(metrics.costs):
            host.after_chunk(lo, length, state, metrics, history)
    host.close()
    results = (host.best_params or state.params, history.costs(X.dtype))
    if run.validation is not None:
        results += (Validation(*history.validation(X.dtype)),)
    results += (Norms(*history.norms(X.dtype)),) if run.config.norms else ()
    return results + (() if state.batch_stats is None else (host.best_stats or state.batch_stats,))


def _chunk(config, length, state, data, key, l2, validation):
    """One compiled chunk. Full batch: ``data`` is ``(X, Y)`` in the course layout, and the
    transpose of :func:`examples_first` cancels against ``train_steps``' transpose back inside the
    program, so full-batch training makes no working copy of X. A ``state.step`` of None (a run of
    one chunk) is 0."""
    if not config.batch_size:
        data = examples_first(*data)
    if state.step is None:  # the first and only chunk of a run: it counts from 0
        state = state._replace(step=jnp.zeros((), jnp.int32))
    return train_steps(config, length, state, data, key, l2, validation)


_train_chunk = jax.jit(_chunk, static_argnums=(0, 1))  # traced: part of the caller's program
_examples_first = jax.jit(examples_first)


def _shard(mesh, params, X, Y):
    from jaxdnn.sharding import replicated, shard_data

    X, Y = shard_data(mesh, X, Y)
    return jax.device_put(params, replicated(mesh)), X, Y
