"""gradient_check: passes on correct gradients, flags the course's planted bugs on the right leaves."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from jaxdnn.course import gradient_check_test_case
from jaxdnn.gradcheck import numeric_grad, relative_difference


def test_course_1d_check():
    """J(theta) = theta * x with x = 2, theta = 4: the course prints a difference of 2.919e-10."""
    with jax.enable_x64(True):
        theta = jnp.float64(4.0)
        approx = numeric_grad(lambda t: t * 2.0, theta)
    d = relative_difference(2.0, approx)
    assert d < 1e-7
    assert d == pytest.approx(2.919e-10, rel=0.01)


def test_passes_on_the_course_network():
    report = jaxdnn.gradient_check(*gradient_check_test_case())
    assert report.passed, str(report)
    assert report.manual_vs_numeric < 1e-7 and report.manual_vs_autodiff < 1e-14
    assert [l.path for l in report.leaves] == [f"[{l}]['{k}']" for l in range(3) for k in "Wb"]


def buggy_value_and_grad(params, X, Y, activations):
    """The course's planted bugs: dW2 doubled, db1 computed with 4/m instead of 1/m."""
    J, grads = jaxdnn.manual_value_and_grad(params, X, Y, activations)
    grads[1]["W"] = grads[1]["W"] * 2
    grads[0]["b"] = grads[0]["b"] * 4
    return J, grads


def test_flags_the_planted_bugs_on_the_right_leaves():
    report = jaxdnn.gradient_check(*gradient_check_test_case(), grad_fn=buggy_value_and_grad)
    assert not report.passed
    assert set(report.failed_leaves) == {"[1]['W']", "[0]['b']"}
    # the course prints "There is a mistake in the backward propagation! difference = 0.2850931567761623"
    assert report.manual_vs_numeric == pytest.approx(0.2850931567761623, abs=1e-6)
    assert 0.05 < report["[1]['W']"].manual_vs_numeric < 0.5
    assert 0.05 < report["[0]['b']"].manual_vs_numeric < 0.9
    w = report["[1]['W']"]
    assert w.worst_manual == pytest.approx(2 * w.worst_numeric, rel=1e-6)  # the doubled element
    text = str(report)
    assert "MISMATCH" in text and "FAILED on [0]['b'], [1]['W']" in text


def test_runs_on_float32_params_and_reports_in_float64():
    params, X, Y, acts = gradient_check_test_case(jnp.float32)
    report = jaxdnn.gradient_check(params, X, Y, acts)
    assert report.passed, str(report)


def test_command_line_prints_the_report():
    out = subprocess.run(
        [sys.executable, "-m", "jaxdnn.gradcheck", "--layers", "5,4,3,1",
         "--activations", "relu,tanh,sigmoid", "--m", "6"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "[2]['b']" in out.stdout and "PASSED" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "jaxdnn.gradcheck", "--layers", "5,4,1",
                          "--activations", "relu,swish"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "unknown activation 'swish'" in bad.stderr
