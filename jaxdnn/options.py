"""What training is asked to do: :class:`TrainConfig` (compiled) and :class:`FitOptions` (fit's).

:func:`jaxdnn.train_steps` takes a hashable :class:`TrainConfig`, everything it needs to know at
compile time. :func:`jaxdnn.fit` takes many keyword arguments; :meth:`FitOptions.check` validates
them all, before any work, and turns them into what its loop needs: a ``TrainConfig`` for the
compiled program, and the run's data-dependent settings (iterations per chunk, the L2 strength,
the validation set, where checkpoints go). Every failure is a ``ValueError`` or ``TypeError`` that
names the argument, what was expected and what came.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import pathlib
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdnn.batchnorm import MOMENTUM, is_batchnorm
from jaxdnn.checks import (
    check_compute_dtype,
    check_problem,
    check_regularization,
    check_scalar,
    is_traced,
)
from jaxdnn.optimizers import gradient_descent
from jaxdnn.summary import count_nonfinite

DEFAULT_LEARNING_RATE = 0.0075
DEFAULT_CHUNKS = 10  # chunks per run, each one compiled call, when no chunk size is given
GRADS = ("manual", "autodiff")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What :func:`jaxdnn.train_steps` needs at compile time (hashable: static under ``jit``).

    Attributes:
      activations: one name per layer, e.g. ``("relu", "relu", "sigmoid")``.
      update: the optimizer's ``update(grads, state, params) -> (updates, state)``; jaxdnn's rules
        share one update function per rule, so configs for different learning rates are equal.
      grad: ``"manual"`` (the hand-derived backward pass) or ``"autodiff"`` (``jax.grad``).
      batch_size: None for full batches; else the minibatch size (the last minibatch of an epoch
        holds the ``m % batch_size`` remaining examples, as in the course).
      keep_prob: inverted-dropout keep probability of the hidden layers, or None.
      check_finite: watch every gradient leaf and report the first that became non-finite.
      norms: report each layer's ``||dW_l||`` and ``||W_l||`` per iteration (epoch) in
        ``Metrics.norms``; False leaves them out of the program.
      bn_momentum: the decay of a batch-norm network's running statistics (the course's 0.9).
      compute_dtype: None, or the dtype name (``"bfloat16"``, ``"float16"``) of mixed precision:
        products and activations in it, params, optimizer state and gradients in the params'
        dtype (see :func:`jaxdnn.manual_value_and_grad`).
    """

    activations: tuple[str, ...]
    update: Callable
    grad: str = "manual"
    batch_size: int | None = None
    keep_prob: float | None = None
    check_finite: bool = False
    norms: bool = False
    bn_momentum: float = MOMENTUM
    compute_dtype: str | None = None



@dataclasses.dataclass(frozen=True)
class FitOptions:
    """``fit``'s arguments, validated.

    Attributes:
      config: the compiled loop's static settings, a :class:`TrainConfig`.
      optimizer: the ``optax.GradientTransformation`` (the course's gradient descent by default).
      num_iterations: iterations (epochs with minibatches) of the run.
      chunk: iterations (epochs) per compiled call; the host looks at the results between calls.
      key: the PRNG key, or None when nothing random is drawn.
      l2: None (no L2 term) or the L2 strength, a number or a 0-d array (maybe traced).
      validation: None or ``(X_val, Y_val)``, checked like the training set.
      progress: show a progress bar (None: when stderr is a terminal).
      checkpoint_dir: None, or the directory of the run's checkpoints (exists and is writable).
      patience: None (no early stopping), or the validation checks without improvement after
        which the run stops.
      min_delta: the decrease of the validation cost that counts as an improvement (>= 0).
    """

    config: Any
    optimizer: Any
    num_iterations: int
    chunk: int
    key: Any
    l2: Any
    validation: Any
    progress: bool | None
    checkpoint_dir: pathlib.Path | None
    patience: int | None = None
    min_delta: float = 0.0

    @classmethod
    def check(cls, params, X, activations, *, learning_rate, num_iterations, grad, optimizer,
              batch_size, key, l2, keep_prob, validation_data, progress, chunk_size, check_finite,
              checkpoint_dir, checkpoint_every, norms=False, patience=None,
              min_delta=None, bn_momentum=MOMENTUM, compute_dtype=None) -> FitOptions:
        """Validate ``fit``'s arguments (``X`` and ``activations`` already checked with Y)."""
        if optimizer is None:
            lr = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
            optimizer = (_default_optimizer(lr, *_placement(float)) if type(lr) in (int, float)
                         else gradient_descent(lr))
        elif not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
            raise TypeError("optimizer must be an optax.GradientTransformation (init, update) or "
                            f"None, got {type(optimizer).__name__}")
        elif learning_rate is not None:
            raise ValueError("learning_rate is for the default gradient descent; an optimizer "
                             "carries its own learning rate, so leave learning_rate unset")
        if not isinstance(grad, str) or grad not in GRADS:
            raise ValueError(f"grad must be one of {sorted(GRADS)}, got {grad!r}")
        num_iterations = _count("num_iterations", num_iterations, low=1)
        m = X.shape[1]
        _check_key(key)
        if batch_size is not None:
            batch_size = _count("batch_size", batch_size, low=0, what="an int or None")
            if not 1 <= batch_size <= m:
                raise ValueError(f"batch_size must be between 1 and m = {m}, got {batch_size}")
            if key is None:
                raise ValueError("minibatch training reshuffles each epoch: "
                                 "pass key=jax.random.key(...)")
        check_scalar("bn_momentum", bn_momentum, low=0.0, low_inclusive=True, high=1.0)
        if any(map(is_batchnorm, params)):
            _check_batchnorm_batches(m, batch_size)
        if isinstance(l2, jax.Array | np.ndarray):  # data: a scalar, maybe traced
            check_scalar("l2", l2, low=0.0, low_inclusive=True)
            check_regularization(0.0, keep_prob, key, len(params))
        else:
            check_regularization(l2, keep_prob, key, len(params))
            dtype = jax.tree.leaves(params)[0].dtype
            # a number goes to the device explicitly, once per value; 0 leaves the term out
            l2 = None if l2 == 0 else _constant(l2, *_placement(dtype))
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        if not isinstance(norms, bool):
            raise TypeError(f"norms must be True or False, got {norms!r}")
        patience, min_delta = _early_stopping(patience, min_delta, validation_data)
        _check_finite_params(params)
        # one chunk unless the host looks between chunks: a progress bar shown (tqdm's rule for
        # None: stderr is a terminal), validation curves, checkpoints, early stopping
        looked_at = (progress if progress is not None else sys.stderr.isatty()) or (
            validation_data is not None or checkpoint_dir is not None)
        chunk = _chunk(num_iterations, chunk_size, checkpoint_every, checkpoint_dir, looked_at)
        dtype = jax.tree.leaves(params)[0].dtype
        compute = check_compute_dtype(compute_dtype, dtype)
        _check_narrow_optimizer(optimizer, params)
        config = TrainConfig(tuple(activations), optimizer.update, grad, batch_size,
                             None if keep_prob is None else float(keep_prob), bool(check_finite),
                             norms=norms, bn_momentum=float(bn_momentum),
                             compute_dtype=None if compute is None else compute.name)
        return cls(config, optimizer, num_iterations, chunk, key, l2,
                   _validation(params, validation_data, activations), progress,
                   _directory(checkpoint_dir), patience, min_delta)

    def traced(self) -> FitOptions:
        """These options for a traced ``fit`` (under ``jit`` or ``vmap``), where the host sees no
        values: nothing to checkpoint or stop on, and without validation data one chunk."""
        for name, value in (("checkpoint_dir", self.checkpoint_dir), ("patience", self.patience)):
            if value is not None:
                raise ValueError(f"{name} cannot be used when fit is traced (vmapped or jitted): "
                                 "it needs the values between chunks, which a trace does not have")
        if self.validation is None:  # nothing looks at the results between chunks
            return dataclasses.replace(self, chunk=self.num_iterations)
        return self


# fit's numbers on the device, made once. Arrays never change, and these never leave fit (it
# returns the params, never the optimizer state or the L2 strength; nothing donates them), so
# every run with the same number shares one: a repeated call makes no transfer and no dispatch
# before its chunk. Made concrete also while fit is traced.


def _placement(dtype):
    """The cache key's dtype and device: float's meaning follows jax_enable_x64, and arrays
    are made on the default device."""
    return jnp.dtype(jnp.result_type(dtype)), jax.config.jax_default_device


@functools.lru_cache(maxsize=64)
def _constant(value, dtype, device):
    """``value`` as a device scalar of ``dtype``."""
    del device  # a key only: jax.device_put places it on the default device
    with jax.ensure_compile_time_eval():
        return jax.device_put(np.asarray(value, dtype))


@functools.lru_cache(maxsize=64)
def _default_optimizer(learning_rate, dtype, device):
    """``gradient_descent(learning_rate)`` for a number, its ``init`` returning one state made
    here (the step count 0 and the learning rate on the device: gradient descent's state needs no
    params); its ``update`` is the rule's shared one, so the compiled program is too."""
    check_scalar("learning_rate", learning_rate, low=0.0, low_inclusive=False)
    optimizer = gradient_descent(_constant(learning_rate, dtype, device))
    with jax.ensure_compile_time_eval():
        state = optimizer.init(None)
    return optax.GradientTransformation(lambda params: state, optimizer.update)


def _check_batchnorm_batches(m, batch_size):
    """Every (mini)batch of a batch-norm network's training holds at least two examples."""
    last = m if batch_size is None else (m % batch_size or batch_size)
    if min(last, batch_size or m) < 2:
        where = (f"the training set has m = {m} example" if batch_size is None else
                 "batch_size=1 gives minibatches of one example" if batch_size == 1 else
                 f"the last minibatch of each epoch holds m % batch_size = {m} % {batch_size} = 1 "
                 "example")
        raise ValueError(
            f"{where}, but batch norm in training normalises with each minibatch's own mean and "
            "variance, and the variance of one example is 0 (Z_norm = 0 whatever Z is, and no "
            "gradient reaches W); choose a batch_size that leaves every minibatch at least two "
            "examples")


def _count(name, value, *, low, what="an int"):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def _early_stopping(patience, min_delta, validation_data) -> tuple[int | None, float]:
    """``(patience, min_delta)`` checked: ``(None, 0.0)`` without early stopping."""
    if patience is None:
        if min_delta is not None:
            raise ValueError("min_delta is early stopping's threshold: it needs patience")
        return None, 0.0
    patience = _count("patience", patience, low=1)
    if min_delta is None:
        min_delta = 0.0
    elif is_traced(min_delta):
        raise TypeError("min_delta must be a number, got a traced value")
    check_scalar("min_delta", min_delta, low=0.0, low_inclusive=True)
    if validation_data is None:
        raise ValueError(f"early stopping (patience={patience}) watches the validation cost: "
                         "pass validation_data=(X_val, Y_val)")
    return patience, float(min_delta)


def _check_key(key):
    if key is None:
        return
    is_key = hasattr(key, "dtype") and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    legacy = hasattr(key, "dtype") and key.dtype == jnp.uint32 and key.shape == (2,)
    if not (isinstance(key, jax.Array) and ((is_key and key.shape == ()) or legacy)):
        what = (f"an array of dtype {key.dtype} and shape {key.shape}"
                if hasattr(key, "dtype") else type(key).__name__)
        raise (ValueError if is_key else TypeError)(  # keys of the wrong shape: a batch of keys
            f"key must be one PRNG key, jax.random.key(seed), got {what}")


def _check_finite_params(params):
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not is_traced(leaf) and (n := count_nonfinite(leaf)):
            raise ValueError(f"the initial params{jax.tree_util.keystr(path)} hold {n} NaN or "
                             "Inf values; training needs finite initial params")


def _check_narrow_optimizer(optimizer, params):
    """With float16 or bfloat16 params, the optimizer's first update from zero gradients and from
    small ones (1e-3) must be finite: optax's Adam at its defaults divides 0 by 0 in float16 (its
    eps = 1e-8 rounds to 0 there, and (1 - b2) g^2 underflows)."""
    dtype = jax.tree.leaves(params)[0].dtype
    if jnp.finfo(dtype).bits >= 32 or any(map(is_traced, jax.tree.leaves(params))):
        return
    state = optimizer.init(params)
    for g in (0.0, 1e-3):
        grads = jax.tree.map(lambda p, g=g: jnp.full_like(p, g), params)
        updates = jax.tree.leaves(optimizer.update(grads, state, params)[0])
        if not any(map(is_traced, updates)) and sum(map(count_nonfinite, updates)):
            raise ValueError(
                f"the optimizer's first update is NaN or Inf for {dtype} params and gradients of "
                f"{g:g}: in {dtype} an eps of 1e-8 rounds to 0 and (1 - b2) g^2 underflows. Use "
                "jaxdnn.adam (its moments are float32), an eps of at least 1e-4 (optax.adam(lr, "
                f"eps=1e-4)), or float32 params with compute_dtype=jnp.{dtype}")


def _validation(params, validation_data, activations):
    if validation_data is None:
        return None
    if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        raise TypeError("validation_data must be a pair (X_val, Y_val), got "
                        f"{type(validation_data).__name__}")
    try:
        X_val, Y_val, _ = check_problem(params, *validation_data, activations)
    except (ValueError, TypeError) as e:
        raise type(e)(f"validation_data: {e}") from None
    return X_val, Y_val


def _chunk(num_iterations, chunk_size, checkpoint_every, checkpoint_dir, looked_at) -> int:
    for name, value in (("chunk_size", chunk_size), ("checkpoint_every", checkpoint_every)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if checkpoint_every is not None and checkpoint_dir is None:
        raise ValueError("checkpoint_every needs checkpoint_dir")
    if None not in (chunk_size, checkpoint_every) and chunk_size != checkpoint_every:
        raise ValueError("with checkpoints, chunks end at checkpoints: set chunk_size or "
                         "checkpoint_every, not two different values")
    return int(checkpoint_every or chunk_size or (
        math.ceil(num_iterations / DEFAULT_CHUNKS) if looked_at else num_iterations))


def _directory(path) -> pathlib.Path | None:
    """The checkpoint directory, made if missing, and writable: checked before any training."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir must be a str or path, got {type(path).__name__}")
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"checkpoint_dir {str(path)!r} is a file, expected a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"checkpoint_dir {str(path)!r} cannot be created: {e.strerror}") from None
    try:  # a file written and removed: what saving a checkpoint will need
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        raise ValueError(f"checkpoint_dir {str(path)!r} is not writable: {e.strerror}") from None
    return path
