"""The speed benchmark (experiments/bench) runs end to end, and its peers do the same training.

One ``--quick`` run (in a subprocess, so this session's float64 and rank-promotion settings do not
leak into it) is shared by the tests below; it writes ``NAME.json`` and ``NAME.md`` into a
temporary folder. Timings are not asserted (they depend on the machine). What is asserted is that
the peers train the same network from the same params (on minibatch problems, on the same batches
in the same order), so their costs equal jaxdnn's to float32 round-off.
"""

import importlib.util
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdnn
from experiments import bench
from experiments.bench import peers, problems

RTOL_F32 = 1e-4  # float32 round-off after a few iterations (epochs), with headroom
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# one full-batch sigmoid problem of each layout (n_x < m, n_x > m) and the minibatch softmax one:
# the other problems run the same peers on other shapes (and cost the suite seconds each)
TIMED = ["planar", "cat", "softmax-mb"]
CONFIGS = [*TIMED, "sweep", "overhead", "resume", "mixed", "growth"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``--quick`` run for this file's tests (one xdist worker runs the whole file)."""
    out = tmp_path_factory.mktemp("bench-quick")
    proc = subprocess.run([sys.executable, "-m", "experiments.bench", "--quick", "--out",
                           str(out), "--name", "quick", "--configs", ",".join(CONFIGS)],
                          cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 0, f"experiments.bench --quick failed:\n{proc.stderr[-5000:]}"
    return out, json.loads((out / "quick.json").read_text())


@pytest.mark.slow
def test_writes_json_markdown_and_the_growth_plot(quick_run):
    out, data = quick_run
    md = (out / "quick.md").read_text()
    assert data["name"] == "quick" and data["config"]["quick"] is True
    assert list(data["problems"]) == [p for p in problems.PROBLEMS if p in CONFIGS]
    assert all(r["status"] == "ok" for r in data["problems"].values()), data["problems"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["versions"]["jax"]
    for heading in ("# jaxdnn speed benchmark: quick", "| jaxdnn-manual |", "own GEMM shapes",
                    "## sweep", "## overhead", "## resume", "## mixed", "## growth"):
        assert heading in md, f"{heading!r} missing from the Markdown"
    assert (out / "quick-growth.png").stat().st_size > 0


@pytest.mark.parametrize("name", TIMED)
def test_every_peer_is_timed_or_skipped_with_a_reason(quick_run, name):
    res = quick_run[1]["problems"][name]
    assert list(res["peers"]) == list(problems.PEERS)
    for peer, rec in res["peers"].items():
        if rec["status"] == "ok":
            assert len(rec["times"]) == 1 and rec["ratio_to_fastest"] >= 1.0, peer
        else:
            assert rec["status"] == "skipped" and rec["reason"], (peer, rec)
    for peer in ("jaxdnn-manual", "jaxdnn-autodiff", "jax-jit-loop", "jax-scan-grad", "numpy"):
        assert res["peers"][peer]["status"] == "ok", (peer, res["peers"][peer])
    assert res["peers"]["torch-compile"]["status"] == "skipped"  # --quick, or no PyTorch
    assert 0 < res["floor"]["seconds"] and 0 < res["floor"]["own_shapes_seconds"]


@pytest.mark.parametrize("name", TIMED)
def test_numpy_torch_and_sklearn_do_the_same_training_as_jaxdnn(quick_run, name):
    res = quick_run[1]["problems"][name]
    assert res["cost_reference"] == "jaxdnn-manual"
    want = res["peers"]["jaxdnn-manual"]["final_cost"]
    for peer, rec in res["peers"].items():
        if rec["status"] != "ok" or peer == "jaxdnn-manual":
            continue
        assert rec["final_cost"] == pytest.approx(want, rel=RTOL_F32), (
            f"{name}: {peer} final cost {rec['final_cost']} vs jaxdnn-manual {want} "
            f"(rtol={RTOL_F32})")
        assert res["cost_agreement"][peer] <= RTOL_F32, (name, peer, res["cost_agreement"])


@pytest.mark.parametrize("peer,package,name", [("torch-eager", "torch", "PyTorch"),
                                                ("sklearn", "sklearn", "scikit-learn")])
def test_the_optional_peers_ran_where_installed_and_say_so_where_not(quick_run, peer, package,
                                                                     name):
    installed = importlib.util.find_spec(package) is not None  # found, not imported: seconds
    for problem in TIMED:
        rec = quick_run[1]["problems"][problem]["peers"][peer]
        if installed:
            assert rec["status"] == "ok", (problem, peer, rec)
        else:
            assert rec["status"] == "skipped", (problem, peer, rec)
            assert f"{name} is not installed" in rec["reason"], (problem, peer, rec)


def test_sweep_overhead_resume_mixed_and_growth(quick_run):
    got = quick_run[1]["problems"]
    assert got["sweep"]["model0_matches_single_fit"] and got["sweep"]["models"] == 1024
    assert got["overhead"]["same_costs"]  # fit and a jitted train_steps: the same training
    assert got["resume"]["bitwise_equal"]
    assert got["resume"]["cut_after"] == got["resume"]["iterations"] // 2 >= 1
    mixed = got["mixed"]  # bfloat16 products train as float32 does, to bfloat16's round-off
    for k in ("manual bfloat16", "autodiff bfloat16"):
        assert mixed[f"seconds per iteration, {k}"] > 0
        assert mixed[f"final cost's relative difference from float32, {k}"] < 0.01, mixed
        assert mixed[f"final cost, {k}"] != mixed["final cost, manual float32"]  # it was bf16
    g = got["growth"]
    assert {p["mode"] for p in g["points"]} == {"full", "minibatch"}
    for p in g["points"]:
        assert p["status"] == "ok" and p["seconds"] > 0 and p["model_mib"]["total"] > 0, p
        # a run's later epochs are timed for minibatches only (full batch has no first-epoch copy)
        assert isinstance(p["later_epoch_seconds"], float) == (p["mode"] == "minibatch"), p


def test_command_line_profiles_and_errors():
    quick = bench.parse_args(["--quick", "--configs", "cat,planar", "--repeats", "4"])
    assert quick.configs == ("cat", "planar") and quick.repeats == 4
    assert "wide" not in bench.parse_args(["--quick"]).configs
    assert bench.parse_args([]).configs == problems.PROBLEMS
    cuda = bench.parse_args(["--device", "cuda"])
    assert "growth" not in cuda.configs and {"resume", "mixed", "sweep"} <= set(cuda.configs)
    assert cuda.repeats == 3 and cuda.isolate is False  # one process: CUDA started once
    assert bench.parse_args([]).isolate is True and quick.isolate is False
    assert bench.parse_args(["--device", "cuda", "--isolate"]).isolate is True
    assert set(cuda.peers) == {"jaxdnn-manual", "jaxdnn-autodiff", "jax-scan-grad",
                               "torch-eager", "torch-compile"}
    assert problems.problem("wide", quick).dims == (256, 256, 256, 1)
    assert problems.problem("wide", bench.parse_args([])).dims == (1024, 1024, 1024, 1)
    for bad in (["--configs", "nope"], ["--peers", "jax"], ["--repeats", "0"],
                ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)


def test_isolated_runs_in_a_fresh_process_with_the_given_environment():
    cfg = bench.parse_args([])  # not --quick: a process of its own
    assert bench.isolated(cfg, os.getenv, "BENCH_PROBE", env={"BENCH_PROBE": "on"}) == "on"
    assert os.getenv("BENCH_PROBE") is None  # not left in this process
    assert bench.isolated(cfg, os.getpid) != os.getpid()


def test_minibatch_slices_cover_every_example_once():
    assert problems.batch_slices(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert problems.batch_slices(10, None) == [(0, 10)]


def test_shuffle_orders_are_fits_minibatches():
    """One epoch of the course's NumPy updates on ``shuffle_orders``' batches equals ``fit``'s."""
    prob = problems.Problem("t", (5, 4, 1), "tanh", "sigmoid", 37, 0.5, "he", 1, batch_size=8)
    rs = np.random.RandomState(0)
    X = rs.standard_normal((5, 37)).astype(np.float32)
    Y = (rs.uniform(size=(1, 37)) < 0.5).astype(np.float32)
    key, params = jax.random.key(3), problems.init_params(1, prob)
    order = problems.shuffle_orders(key, 1, prob.m)[0]
    assert sorted(order.tolist()) == list(range(prob.m))
    p = [(q["W"].copy(), q["b"].copy()) for q in params]
    total = sum(peers.numpy_step(p, X[:, order[lo:hi]], Y[:, order[lo:hi]], prob.activations,
                                 np.float32(prob.learning_rate)) * (hi - lo)
                for lo, hi in problems.batch_slices(prob.m, prob.batch_size))
    fitted, costs = jaxdnn.fit(params, X, Y, prob.activations, learning_rate=prob.learning_rate,
                               num_iterations=1, batch_size=prob.batch_size, key=key,
                               progress=False)
    np.testing.assert_allclose(float(costs[0]), total / prob.m, rtol=1e-5, err_msg="rtol=1e-5")
    for l, (a, (W, _)) in enumerate(zip(fitted, p)):
        np.testing.assert_allclose(a["W"], W, rtol=1e-5, atol=1e-6,
                                   err_msg=f"layer {l + 1} W (rtol=1e-5, atol=1e-6)")


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_numpy_and_torch_steps_are_the_gradient_step_of_jax_grad(hidden, output):
    """One hand-derived NumPy update equals ``W - lr jax.grad(cost)`` (float32); so do PyTorch's
    eager step and the step it compiles (``torch.func``'s gradient), where PyTorch is installed."""
    rs = np.random.RandomState(0)
    n_L = 4 if output == "softmax" else 1
    X = rs.standard_normal((3, 16)).astype(np.float32)
    Y = (np.eye(4)[:, rs.randint(0, 4, 16)] if output == "softmax"
         else rs.uniform(size=(1, 16)) < 0.5).astype(np.float32)
    acts, dims = (hidden, hidden, output), (3, 5, 4, n_L)
    params = [{"W": rs.standard_normal((b, a)).astype(np.float32),
               "b": 0.1 * rs.standard_normal((b, 1)).astype(np.float32)}
              for a, b in zip(dims[:-1], dims[1:])]
    # jaxdnn's own cost, an independent reference for the plain-JAX and NumPy costs
    J_ref, grads = jax.jit(jax.value_and_grad(jaxdnn.cost), static_argnums=3)(
        jax.tree.map(jnp.asarray, params), jnp.asarray(X), jnp.asarray(Y), acts)
    J_plain = jax.jit(peers.jax_cost, static_argnums=3)(params, X, Y, acts)
    np.testing.assert_allclose(float(J_plain), float(J_ref), rtol=1e-6, err_msg="rtol=1e-6")
    mine = [(p["W"].copy(), p["b"].copy()) for p in params]
    steps = {"numpy": (peers.numpy_step(mine, X, Y, acts, 0.5), mine)}
    if importlib.util.find_spec("torch") is not None:  # PyTorch's two steps, as the peers use them
        import torch

        flat = [torch.from_numpy(p[k].copy()) for p in params for k in ("W", "b")]
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        eager = [t.clone().requires_grad_() for t in flat]
        J_eager = peers.torch_step(eager, Xt, Yt, 0.5, acts)
        new = [t.clone() for t in flat]
        J_func = peers.torch_compiled_step(new, Xt, Yt, 0.5, acts)
        pairs = lambda ts: [(ts[2 * l].detach().numpy(), ts[2 * l + 1].detach().numpy())
                            for l in range(len(ts) // 2)]
        steps.update({"torch eager": (float(J_eager), pairs(eager)),
                      "torch compiled": (float(J_func), pairs(new))})
    for name, (cost, updated) in steps.items():
        np.testing.assert_allclose(cost, float(J_ref), rtol=1e-6, err_msg=f"{name} cost")
        for l, ((W, b), p, g) in enumerate(zip(updated, params, grads)):
            for got, p0, d in ((W, p["W"], g["W"]), (b, p["b"], g["b"])):
                np.testing.assert_allclose(got, p0 - 0.5 * np.asarray(d), rtol=1e-5, atol=1e-6,
                                           err_msg=f"{name}, layer {l + 1} (rtol=1e-5, atol=1e-6)")
