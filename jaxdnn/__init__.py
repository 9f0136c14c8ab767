"""jaxdnn: the deep-learning fundamentals of the course, as pure JAX functions.

Conventions: X is ``(n_x, m)`` with one example per column; params is a list of
``{"W": (n_l, n_{l-1}), "b": (n_l, 1)}`` dicts; activations is a tuple of names, one per layer, the
last of which names the cost (sigmoid: binary cross-entropy, softmax: categorical cross-entropy,
linear: squared error), computed from the output logits. Two levels: the course's layer building
blocks (:mod:`jaxdnn.layers`) and whole networks built from them. Every function is pure and
un-jitted: ``jit`` (with ``activations`` static), ``vmap`` and ``grad`` it where you call it.
"""

from jaxdnn import data, schedules, sharding
from jaxdnn.activations import ACTIVATIONS, OUTPUTS
from jaxdnn.backward import (
    autodiff_value_and_grad,
    backward,
    backward_from,
    cost_with_manual_vjp,
    manual_value_and_grad,
)
from jaxdnn.batchnorm import (
    BatchNormCache,
    RunningStats,
    batchnorm_activation_backward,
    batchnorm_activation_forward,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_inference,
    init_batch_stats,
    init_running_stats,
    update_batch_stats,
    update_running_stats,
)
from jaxdnn.checkpoint import Checkpoint, CheckpointError, load, save
from jaxdnn.forward import forward
from jaxdnn.gradcheck import GradCheckReport, gradient_check
from jaxdnn.initializers import init_params
from jaxdnn.jvp import cost_with_manual_jvp, forward_jvp, linear_activation_jvp, linear_jvp
from jaxdnn.labels import one_hot
from jaxdnn.layers import (
    LayerCache,
    LinearCache,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
)
from jaxdnn.loss import bce_from_logits, cost, softmax_cross_entropy_from_logits, squared_error
from jaxdnn.optimizers import adam, gd_update, gradient_descent, momentum, rmsprop
from jaxdnn.predict import accuracy, predict
from jaxdnn.train import (
    Examples,
    NonFiniteCostError,
    Norms,
    TrainConfig,
    TrainState,
    Validation,
    examples_first,
    fit,
    train_steps,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "BatchNormCache",
    "Checkpoint",
    "CheckpointError",
    "Examples",
    "GradCheckReport",
    "LayerCache",
    "LinearCache",
    "NonFiniteCostError",
    "Norms",
    "OUTPUTS",
    "RunningStats",
    "TrainConfig",
    "TrainState",
    "Validation",
    "accuracy",
    "adam",
    "autodiff_value_and_grad",
    "backward",
    "backward_from",
    "batchnorm_activation_backward",
    "batchnorm_activation_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "batchnorm_inference",
    "bce_from_logits",
    "cost",
    "cost_with_manual_jvp",
    "cost_with_manual_vjp",
    "data",
    "examples_first",
    "fit",
    "forward",
    "forward_jvp",
    "gd_update",
    "gradient_check",
    "gradient_descent",
    "init_batch_stats",
    "init_params",
    "init_running_stats",
    "linear_activation_backward",
    "linear_activation_forward",
    "linear_activation_jvp",
    "linear_backward",
    "linear_forward",
    "linear_jvp",
    "load",
    "manual_value_and_grad",
    "momentum",
    "one_hot",
    "predict",
    "rmsprop",
    "save",
    "schedules",
    "sharding",
    "softmax_cross_entropy_from_logits",
    "squared_error",
    "train_steps",
    "update_batch_stats",
    "update_running_stats",
]
