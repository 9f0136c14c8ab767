"""How fast is fit's minibatch epoch, and how much memory does it take?

Question: on an MNIST-shaped problem ([784, 128, 64, 1], m = 60,000, float32, batch 256), is an
epoch of ``jaxdnn.fit`` at least as fast as PyTorch eager (``randperm`` indexing,
``torch.optim.SGD``), within 1.3x of a full-batch iteration over the same examples, and does
training grow the peak memory by at most one working copy of X? All three are measured in one run,
as ratios; the peak memory growth is measured in a fresh process per variant (the kernel's peak-RSS
counter is reset after the compile, then read after a second, timed fit).

    python -m experiments.bench.trainer                 # the full problem (about a minute)
    python -m experiments.bench.trainer --quick         # a small smoke run
    python -m experiments.bench.trainer --epochs 5 --repeats 5

Writes ``out/bench/trainer.json``. Synthetic data (uniform pixels, random labels): the speed of an
epoch does not depend on the values.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import subprocess
import sys
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class Config:
    m: int = 60_000
    layer_dims: tuple[int, ...] = (784, 128, 64, 1)
    batch_size: int = 256
    epochs: int = 3          # epochs (or full-batch iterations) per timed call
    repeats: int = 3         # timed calls; the fastest counts
    learning_rate: float = 0.01
    seed: int = 0
    out: str = "out/bench/trainer.json"

    @classmethod
    def from_args(cls, argv=None) -> tuple[Config, argparse.Namespace]:
        p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        p.add_argument("--quick", action="store_true", help="m = 4096: a smoke run")
        p.add_argument("--m", type=int, default=cls.m)
        p.add_argument("--batch-size", type=int, default=cls.batch_size)
        p.add_argument("--epochs", type=int, default=cls.epochs)
        p.add_argument("--repeats", type=int, default=cls.repeats)
        p.add_argument("--out", default=cls.out)
        p.add_argument("--memory-child", choices=["minibatch", "full-batch"],
                       help=argparse.SUPPRESS)  # internal: one memory measurement
        a = p.parse_args(argv)
        cfg = cls(m=4096 if a.quick else a.m, batch_size=a.batch_size, epochs=a.epochs,
                  repeats=1 if a.quick else a.repeats, out=a.out)
        return cfg, a


def data(cfg: Config):
    rng = np.random.default_rng(cfg.seed)
    X = rng.random((cfg.layer_dims[0], cfg.m), dtype=np.float32)  # (n_x, m), the course layout
    Y = (rng.random((1, cfg.m)) > 0.5).astype(np.float32)
    return X, Y


def fastest(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# ----------------------------------------------------------------------------------------------
# jaxdnn


def jaxdnn_runs(cfg: Config, X, Y):
    """``(run_minibatch, run_full_batch)``: each a call of fit, compiled on first use."""
    import jax
    import jax.numpy as jnp

    import jaxdnn

    acts = ("relu",) * (len(cfg.layer_dims) - 2) + ("sigmoid",)
    params = jaxdnn.init_params(jax.random.key(cfg.seed), list(cfg.layer_dims), "he", jnp.float32)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    common = dict(learning_rate=cfg.learning_rate, num_iterations=cfg.epochs,
                  chunk_size=cfg.epochs, progress=False)

    def minibatch():
        jax.block_until_ready(jaxdnn.fit(params, Xj, Yj, acts, batch_size=cfg.batch_size,
                                         key=jax.random.key(1), **common))

    def full_batch():
        jax.block_until_ready(jaxdnn.fit(params, Xj, Yj, acts, **common))

    return minibatch, full_batch


# ----------------------------------------------------------------------------------------------
# PyTorch eager


def torch_epoch(cfg: Config, X, Y):
    """A function running ``cfg.epochs`` PyTorch eager epochs: randperm, row indexing, SGD."""
    import torch

    torch.manual_seed(cfg.seed)
    dims = cfg.layer_dims
    layers = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    Xt = torch.from_numpy(np.ascontiguousarray(X.T))  # (m, n_x): PyTorch's examples-first layout
    Yt = torch.from_numpy(np.ascontiguousarray(Y.T))

    def run():
        for _ in range(cfg.epochs):
            perm = torch.randperm(cfg.m)
            for lo in range(0, cfg.m, cfg.batch_size):
                idx = perm[lo:lo + cfg.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(Xt[idx]), Yt[idx])
                loss.backward()
                opt.step()

    return run


# ----------------------------------------------------------------------------------------------
# peak memory


def _rss_kib(field: str) -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(cfg: Config, variant: str) -> dict:
    """In this fresh process: compile, reset the peak-RSS counter, fit again, read the peak."""
    X, Y = data(cfg)
    minibatch, full_batch = jaxdnn_runs(cfg, X, Y)
    run = minibatch if variant == "minibatch" else full_batch
    run()  # compiles; its buffers are freed again
    pathlib.Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    base = _rss_kib("VmRSS")
    run()
    peak = _rss_kib("VmHWM")
    return {"variant": variant, "base_mib": base / 1024, "peak_growth_mib": (peak - base) / 1024}


def measure_memory(cfg: Config, variant: str, argv) -> dict | None:
    if not pathlib.Path("/proc/self/clear_refs").exists():
        return None  # not Linux: no resettable peak-RSS counter
    cmd = [sys.executable, "-m", "experiments.bench.trainer", *argv, "--memory-child", variant]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         cwd=pathlib.Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cfg, args = Config.from_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(cfg, args.memory_child)))
        return None
    X, Y = data(cfg)
    x_mib = X.nbytes / 2**20
    minibatch, full_batch = jaxdnn_runs(cfg, X, Y)
    minibatch(), full_batch()  # compile both
    result = {"config": dataclasses.asdict(cfg), "x_mib": x_mib, "device": None}
    import jax

    result["device"] = str(jax.devices()[0].device_kind)
    peers = {"jaxdnn_epoch_s": minibatch, "full_batch_iteration_s": full_batch}
    try:
        import torch

        run = torch_epoch(cfg, X, Y)
        default_threads = torch.get_num_threads()

        def with_threads(n):  # PyTorch at its default thread count, and single-threaded
            def timed():
                torch.set_num_threads(n)
                try:
                    run()
                finally:
                    torch.set_num_threads(default_threads)
            return timed

        peers["torch_eager_epoch_s"] = with_threads(default_threads)
        if default_threads > 1:
            peers["torch_eager_1_thread_epoch_s"] = with_threads(1)
        run()  # warm-up
        result["torch_threads"] = default_threads
    except ImportError:
        result["torch_eager_epoch_s"] = None  # pip install 'jaxdnn[bench]'
    # round-robin: every peer sees the same background load; the fastest round counts
    times = {name: [] for name in peers}
    for _ in range(cfg.repeats):
        for name, fn in peers.items():
            times[name].append(fastest(fn, 1) / cfg.epochs)
    result.update({name: min(t) for name, t in times.items()})
    if "torch_eager_1_thread_epoch_s" in result:  # the peer at its best setting
        result["torch_eager_epoch_s"] = min(result["torch_eager_epoch_s"],
                                            result.pop("torch_eager_1_thread_epoch_s"))
    result["all_rounds_s"] = times
    memory_argv = [a for a in argv if a != "--memory-child"]
    for variant in ("minibatch", "full-batch"):
        mem = measure_memory(cfg, variant, memory_argv)
        result[f"{variant}_peak_growth_mib"] = None if mem is None else mem["peak_growth_mib"]

    ep, fb, tor = (result["jaxdnn_epoch_s"], result["full_batch_iteration_s"],
                   result["torch_eager_epoch_s"])
    mb_mem = result["minibatch_peak_growth_mib"]
    print(f"problem: {list(cfg.layer_dims)}, m = {cfg.m}, batch {cfg.batch_size}, float32, "
          f"X = {x_mib:.1f} MiB, {result['device']}")
    print(f"jaxdnn fit minibatch epoch   {ep:8.4f} s")
    print(f"jaxdnn full-batch iteration  {fb:8.4f} s   epoch / full batch = {ep / fb:.2f}x"
          "  (goal <= 1.3x)")
    if tor is not None:
        print(f"PyTorch eager epoch          {tor:8.4f} s   jaxdnn / PyTorch   = {ep / tor:.2f}x"
              f"  (goal <= 1x; the faster of {result['torch_threads']} threads and 1)")
    if mb_mem is not None:
        print(f"peak memory growth, minibatch fit   {mb_mem:7.1f} MiB = "
              f"{mb_mem / x_mib:.2f} x the size of X  (goal <= 1 working copy)")
        print(f"peak memory growth, full-batch fit  {result['full-batch_peak_growth_mib']:7.1f} "
              f"MiB = {result['full-batch_peak_growth_mib'] / x_mib:.2f} x the size of X")
    out = pathlib.Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
