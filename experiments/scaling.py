"""Data-parallel throughput: the wide network trained by ``fit(..., mesh=...)`` on 1, 2 and 4
devices.

Question: how does full-batch training of the wide configuration ([1024, 1024, 1024, 1], relu,
m = 4096, float32) scale when the examples are sharded over a mesh's "data" axis? On a CPU the
devices are forced with ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` and share the same
cores, so this measures the overhead of the sharded program (all-reduces included) more than a
speed-up; on a machine with several accelerators the same command measures real scaling. Each
device count runs in its own process, since the device count is fixed when JAX starts.

    python -m experiments.scaling
    python -m experiments.scaling --devices 1,2,4 --iterations 20 --repeats 5
    python -m experiments.scaling --quick
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import ClassVar

import numpy as np

from experiments.cli import option
from experiments.results import add_table, finish, start


@dataclasses.dataclass(frozen=True)
class Config:
    out: str = option("out/scaling", "output folder")
    devices: tuple[int, ...] = option((1, 2, 4), "device counts to measure")
    layer_dims: tuple[int, ...] = option((1024, 1024, 1024, 1), "network")
    m: int = option(4096, "examples (divisible by every device count)")
    iterations: int = option(10, "gradient-descent iterations per timed call")
    repeats: int = option(3, "timed calls after a warm-up; the median is reported")
    platform: str = option(
        "cpu", "JAX platform for the workers ('cpu', or 'gpu' to use real GPUs)")
    worker: int = option(0, "internal: run as the worker for this many devices")
    quick: bool = option(False, "a fast smoke test: a small network")

    QUICK: ClassVar[dict] = {"layer_dims": (64, 64, 1), "m": 512, "iterations": 5, "repeats": 2,
                             "out": "out/quick/scaling"}

    def __post_init__(self):
        bad = [n for n in self.devices if self.m % n]
        if bad:
            raise ValueError(f"--m {self.m} must be divisible by every device count, not by {bad}")


QUESTION = ("How fast does fit train the wide network when its examples are sharded over 1, 2 and "
            "4 devices, and what does the sharded program cost?")


def worker(cfg: Config) -> dict:
    """Runs inside a process started with the device count fixed; prints one JSON line."""
    import jax
    import jax.numpy as jnp

    import jaxdnn
    from jaxdnn.sharding import data_mesh, shard_data

    devices = jax.devices()[: cfg.worker]
    if len(devices) < cfg.worker:
        raise SystemExit(f"asked for {cfg.worker} devices, JAX sees {len(jax.devices())}")
    mesh = data_mesh(devices)
    k_x, k_p = jax.random.split(jax.random.key(0))
    X = jax.random.normal(k_x, (cfg.layer_dims[0], cfg.m), jnp.float32)
    Y = (X[:1] > 0).astype(jnp.float32)
    X, Y = shard_data(mesh, X, Y)
    params = jaxdnn.init_params(k_p, list(cfg.layer_dims), "he", jnp.float32)
    acts = ("relu",) * (len(cfg.layer_dims) - 2) + ("sigmoid",)
    run = lambda: jaxdnn.fit(params, X, Y, acts, learning_rate=0.01,
                             num_iterations=cfg.iterations, chunk_size=cfg.iterations,
                             progress=False, mesh=mesh)
    jax.block_until_ready(run())  # compile and warm up
    times = []
    for _ in range(cfg.repeats):
        t = time.perf_counter()
        p, costs = run()
        jax.block_until_ready((p, costs))
        times.append((time.perf_counter() - t) / cfg.iterations)
    return {"devices": len(devices), "device_kind": devices[0].device_kind,
            "platform": devices[0].platform, "seconds_per_iteration": float(np.median(times)),
            "all_times": times, "final_cost": float(costs[-1]),
            "x_sharding": str(X.sharding.spec), "w_sharding": str(p[0]["W"].sharding.spec)}


def measure(cfg: Config, n: int) -> dict:
    env = dict(os.environ, JAX_PLATFORMS=cfg.platform)
    if cfg.platform == "cpu":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                            f" --xla_force_host_platform_device_count={n}").strip()
    args = [sys.executable, "-m", "experiments.scaling", "--worker", str(n),
            "--layer-dims", ",".join(map(str, cfg.layer_dims)), "--m", str(cfg.m),
            "--iterations", str(cfg.iterations), "--repeats", str(cfg.repeats)]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        return {"devices": n,
                "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    cfg, result = start("scaling", Config, argv, __doc__, QUESTION, x64=False)
    if cfg.worker:
        print(json.dumps(worker(cfg)))
        return {}
    runs = [measure(cfg, n) for n in cfg.devices]
    base = next((r for r in runs if r.get("devices") == 1 and "error" not in r), None)
    flops = 6 * cfg.m * sum(a * b for a, b in zip(cfg.layer_dims[:-1], cfg.layer_dims[1:]))
    rows = []
    for r in runs:
        if "error" in r:
            rows.append([r["devices"], "failed", r["error"], "", "", ""])
            continue
        s = r["seconds_per_iteration"]
        rows.append([r["devices"], f"{r['platform']} ({r['device_kind']})", f"{s * 1e3:.2f} ms",
                     f"{cfg.m / s:,.0f}", f"{flops / s / 1e9:.1f}",
                     f"{base['seconds_per_iteration'] / s:.2f}x" if base else "n/a"])
    add_table(
        result, f"fit on {list(cfg.layer_dims)}, m = {cfg.m}, float32, full batch",
        ["devices", "device", "time / iteration", "examples / s", "GFLOP/s (6 m P)", "speed-up"],
        rows, note=(f"{os.cpu_count()} CPU cores on this machine; forced CPU devices share them, "
                    "so no speed-up is expected there: the figures show what sharding costs. "
                    "Each median over the timed calls after a warm-up."))
    result["data"]["runs"] = runs
    return finish(result)


if __name__ == "__main__":
    main()
