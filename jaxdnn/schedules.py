"""Learning-rate decay, as the course teaches it, as schedules ``count -> learning rate``.

The course decays the learning rate once per epoch::

    lr = lr0 / (1 + decay_rate * epoch)                              # update_lr
    lr = lr0 / (1 + decay_rate * floor(epoch / time_interval))       # schedule_lr_decay
    lr = lr0 * decay_rate ** epoch                                    # exponential decay

An optimizer calls a schedule with ``count``, the number of updates taken so far (0 on the first),
so with minibatches the epoch is ``floor(count / steps_per_epoch)`` and ``steps_per_epoch`` is
the number of minibatches per epoch, ``ceil(m / batch_size)``.

The schedules are ``NamedTuple``\\s of numbers with a ``__call__``: they are pytrees, so jaxdnn's
update rules keep them in the optimizer state as data (a new decay rate reuses the compiled
program, ``jax.vmap`` over decay rates works, checkpoints hold them), and they are callables, so
optax's rules take them too: ``optax.adam(inverse_time_decay(0.1, 1.0))``. Conversely jaxdnn's
rules take optax's schedules (``jaxdnn.adam(optax.exponential_decay(...))``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxdnn.checks import check_scalar, is_traced


def _epoch(count, steps_per_epoch):
    return jnp.floor_divide(jnp.asarray(count), steps_per_epoch)  # epoch = floor(t / steps)


class InverseTimeDecay(NamedTuple):
    """``lr0 / (1 + decay_rate * floor(epoch / time_interval))``; see :func:`inverse_time_decay`."""

    learning_rate0: Any
    decay_rate: Any
    time_interval: Any
    steps_per_epoch: Any

    def __call__(self, count):
        epoch = _epoch(count, self.steps_per_epoch)
        # lr = lr0 / (1 + decay_rate * floor(epoch / time_interval))
        return self.learning_rate0 / (1 + self.decay_rate * jnp.floor(epoch / self.time_interval))


class ExponentialDecay(NamedTuple):
    """``lr0 * decay_rate ** epoch``; see :func:`exponential_decay`."""

    learning_rate0: Any
    decay_rate: Any
    steps_per_epoch: Any

    def __call__(self, count):
        return self.learning_rate0 * self.decay_rate ** _epoch(count, self.steps_per_epoch)


def inverse_time_decay(learning_rate0, decay_rate, *, time_interval=1,
                       steps_per_epoch=1) -> InverseTimeDecay:
    """The course's learning-rate decay, ``lr0 / (1 + decay_rate * epoch)``.

    With ``time_interval > 1`` this is the course's scheduled (step) decay,
    ``lr0 / (1 + decay_rate * floor(epoch / time_interval))``: the rate drops every
    ``time_interval`` epochs instead of every epoch.

    Args:
      learning_rate0: the initial learning rate ``lr0 > 0``.
      decay_rate: ``decay_rate >= 0``.
      time_interval: epochs between drops, ``>= 1``.
      steps_per_epoch: updates per epoch (``ceil(m / batch_size)`` with minibatches, 1 for full
        batches, where an epoch is one iteration).

    Returns:
      an :class:`InverseTimeDecay` schedule (float leaves in the default float dtype).

    Raises:
      ValueError, TypeError: a concrete argument out of range or not a number.
    """
    return InverseTimeDecay(_lr0(learning_rate0), _at_least("decay_rate", decay_rate, 0.0),
                            _at_least("time_interval", time_interval, 1.0),
                            _at_least("steps_per_epoch", steps_per_epoch, 1.0))


def exponential_decay(learning_rate0, decay_rate, *, steps_per_epoch=1) -> ExponentialDecay:
    """Exponential decay, ``lr0 * decay_rate ** epoch`` (e.g. ``decay_rate = 0.95``).

    Args:
      learning_rate0: the initial learning rate ``lr0 > 0``.
      decay_rate: the factor per epoch, in ``(0, 1]``.
      steps_per_epoch: updates per epoch (``ceil(m / batch_size)`` with minibatches).

    Returns:
      an :class:`ExponentialDecay` schedule.
    """
    decay_rate = _float(check_scalar("decay_rate", decay_rate, low=0.0, low_inclusive=False,
                                     high=1.0 + 1e-12))
    return ExponentialDecay(_lr0(learning_rate0), decay_rate,
                            _at_least("steps_per_epoch", steps_per_epoch, 1.0))


def _float(x):
    return jnp.asarray(x, jnp.result_type(float)) if not is_traced(x) else x


def _lr0(x):
    return _float(check_scalar("learning_rate0", x, low=0.0, low_inclusive=False))


def _at_least(name, x, low):
    return _float(check_scalar(name, x, low=low, low_inclusive=True))
