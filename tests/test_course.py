"""The course's published cat runs, trained by fit: its printed costs and accuracies.

A file of their own so that pytest-xdist (``--dist loadfile``) runs these two long runs beside the
rest of the suite, not after test_train.py's other tests in the same worker.
"""

import json
import os
import subprocess
import sys

import pytest

from .conftest import DATA_DIR


def cat_data_dir():
    if not (DATA_DIR / "train_catvnoncat.h5").exists():
        msg = f"the course's cat data is not at {DATA_DIR} (set JAXDNN_DATA to its folder)"
        if os.environ.get("CI"):
            pytest.fail(msg)  # in CI the data must be found
        pytest.skip(msg)
    return DATA_DIR


# The course's cat runs are 2500 float64 iterations of GEMMs and elementwise passes over
# 12288 x 209: compute-bound, so they run in a fresh process at XLA's default optimisation level,
# as users run them (the rest of the suite compiles with cheaper settings: conftest.py); both runs
# in one process, which starts JAX and reads the data once.
COURSE_CAT_RUNS = """
import json, sys
import jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
import jaxdnn
from jaxdnn.course import course_params
d = jaxdnn.data.load_catvnoncat(sys.argv[1])
X, Y, Xt, Yt = (jnp.asarray(a, jnp.float64) for a in (d.train_x, d.train_y, d.test_x, d.test_y))
accuracy = jax.jit(jaxdnn.accuracy, static_argnames="activations")
runs = []
for dims, init, acts in json.loads(sys.argv[2]):
    acts = tuple(acts)
    params, costs = jaxdnn.fit(course_params(dims, 1, init), X, Y, acts, learning_rate=0.0075,
                               num_iterations=2500, progress=False)
    runs.append({"costs": [float(c) for c in costs],
                 "train_accuracy": float(accuracy(params, X, Y, activations=acts)),
                 "test_accuracy": float(accuracy(params, Xt, Yt, activations=acts))})
print(json.dumps(runs))
"""
RUNS = {"l_layer": ([12288, 20, 7, 5, 1], "xavier", ["relu", "relu", "relu", "sigmoid"]),
        "two_layer": ([12288, 7, 1], "small", ["relu", "sigmoid"])}


@pytest.fixture(scope="module")
def course_runs():
    """fit's 2500 iterations of each of the course's cat runs, from the course's params, in one
    subprocess: name -> ``{"costs", "train_accuracy", "test_accuracy"}``."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    out = subprocess.run([sys.executable, "-c", COURSE_CAT_RUNS, str(cat_data_dir()),
                          json.dumps(list(RUNS.values()))], capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(zip(RUNS, json.loads(out.stdout.strip().splitlines()[-1])))


@pytest.mark.slow
def test_course_l_layer_cat_run(course_runs):
    """The course: cost 0.771749 at iteration 0, 0.092878 at 2400; accuracy 0.9856 / 0.80."""
    run = course_runs["l_layer"]
    assert len(run["costs"]) == 2500
    assert round(run["costs"][0], 6) == 0.771749
    assert round(run["costs"][2400], 6) == 0.092878
    assert round(run["train_accuracy"], 4) == 0.9856
    assert run["test_accuracy"] == 0.80


@pytest.mark.slow
def test_course_two_layer_cat_run(course_runs):
    """The course: 0.6930497356599888 -> 0.04855478562877018 at 2400; accuracy 1.0 / 0.72."""
    run = course_runs["two_layer"]
    assert run["costs"][0] == pytest.approx(0.6930497356599888, abs=5e-6)
    assert run["costs"][2400] == pytest.approx(0.04855478562877018, abs=5e-6)
    assert run["train_accuracy"] == 1.0
    assert run["test_accuracy"] == 0.72
