"""Speed: jaxdnn's ``fit`` side by side with its peers, against the machine's floor, and as it
grows.

Question: for the same network, the same data and the same training (full-batch or minibatch
gradient descent, float32), how many seconds per iteration (epoch) does ``jaxdnn.fit`` take next to
the other ways of writing that loop, how far is the fastest from what the hardware allows, and how
do fit's time and memory grow with the number of examples and the width?

Problems (``--configs``):

| name | layers | hidden g, output | m | training |
| --- | --- | --- | --- | --- |
| planar | [2, 4, 1] | tanh, sigmoid | 400 | full batch (the course's flower) |
| cat | [12288, 20, 7, 5, 1] | relu, sigmoid | 209 | full batch (the course's cat set, or random data of its shape) |
| wide | [1024, 1024, 1024, 1] | relu, sigmoid | 4096 | full batch, random |
| mnist | [784, 128, 64, 1] | relu, sigmoid | 60,000 | one epoch of minibatches of 256, random data of MNIST's shape |
| softmax | [784, 128, 64, 10] | relu, softmax | 10,000 | full batch, one-hot Y (10, m) |
| softmax-mb | [784, 128, 64, 10] | relu, softmax | 60,000 | one epoch of minibatches of 256 |
| sweep | 1024 planar models, ``jax.jit(jax.vmap(fit))`` over init seeds | tanh, sigmoid | 400 | full batch |
| growth | [784, 128, 64, 1] for m = 10^3 ... 10^6, [784, w, w, 1] for w = 64 ... 2048 | relu, sigmoid | | full batch and minibatches: time and peak memory, plotted; a minibatch epoch against a full-batch iteration at each m |

Peers (``--peers``), each training from the same initial params, on minibatch problems in the same
example order (the one ``fit`` draws from its key): ``jaxdnn-manual`` and ``jaxdnn-autodiff``
(``fit(grad=...)``, one compiled chunk); ``jax-jit-loop`` (a jitted step of ``jax.value_and_grad``
of a plain ``jnp`` cost, from a Python loop); ``jax-scan-grad`` (the same inside ``lax.scan``,
minibatch columns gathered per batch); ``numpy`` (the course's hand-derived backprop);
``torch-eager``; ``torch-compile``; ``sklearn`` (``MLPClassifier``, sgd, same init). A peer whose
package (or jaxdnn feature, such as a softmax output) is missing is listed as skipped, with why.

Timing: every peer is warmed up (compiled), then the peers are timed round-robin, ``--repeats``
rounds in one process per problem; a row shows the median, its spread, the ratio to the fastest
peer and to two floors (:mod:`experiments.bench.floor`). The NumPy and PyTorch peers' final costs
must equal jaxdnn's to float32 round-off (``tests/test_bench.py`` checks it).

Writes ``OUT/NAME.json``, ``OUT/NAME.md`` and ``OUT/NAME-growth.png`` (``--out``, default
``out/bench``; NAME: ``--name``, default the JAX backend) and prints the Markdown.

Commands::

    python -m experiments.bench                    # everything: about 25 minutes on 2 cores
    python -m experiments.bench --quick            # a smoke run in seconds
    python -m experiments.bench --configs mnist,softmax-mb --repeats 3
    python -m experiments.bench --configs planar --peers jaxdnn-manual,jax-scan-grad,numpy
    JAX_PLATFORMS=cuda python -m experiments.bench --device cuda    # JAX and PyTorch on the GPU
"""  # noqa: E501 (the problems table's rows are Markdown and cannot wrap)

from experiments.bench.configs import PEERS, PROBLEMS, TIMED, Config, Problem, problem
from experiments.bench.peers import numpy_step, numpy_train
from experiments.bench.runner import main

__all__ = ["PEERS", "PROBLEMS", "TIMED", "Config", "Problem", "main", "numpy_step",
           "numpy_train", "problem"]
