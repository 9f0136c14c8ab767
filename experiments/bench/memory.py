"""Peak memory: of this process (resident set, per segment) and of the JAX device, where it says."""

from __future__ import annotations

import os
import resource
import sys


def rss_now_mib() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRSS:
    """Peak resident set of this process, per segment and in total.

    On Linux, writing 5 to ``/proc/self/clear_refs`` resets the peak mark (``VmHWM``, which is also
    what ``ru_maxrss`` reports), so each segment's peak is measured on its own. Elsewhere every
    segment reports the process's ``ru_maxrss`` so far.
    """

    def __init__(self):
        self.total, self.at_start = 0.0, rss_now_mib()
        self.resettable = self._reset()
        self.method = ("VmHWM after /proc/self/clear_refs" if self.resettable
                       else "ru_maxrss (whole process)")

    @staticmethod
    def _reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    @staticmethod
    def _peak() -> float:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024  # bytes on macOS, else KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def start(self) -> None:
        """Begin a segment."""
        self.total = max(self.total, self._peak())
        if self.resettable:
            self._reset()
        self.at_start = rss_now_mib()

    def growth(self) -> float:
        """How far (MiB) the peak of this segment rose above the RSS at its start."""
        return max(0.0, self._peak() - self.at_start)

    def segment(self) -> float:
        """Peak RSS (MiB) since :meth:`start`."""
        peak = self._peak()
        self.total = max(self.total, peak)
        return peak


def device_memory_mib() -> dict | None:
    """``{"in_use", "peak"}`` MiB of JAX's first device, where its backend reports them (GPUs)."""
    import jax

    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 (a backend without statistics)
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return {"in_use": stats.get("bytes_in_use", 0) / 2**20,
            "peak": stats["peak_bytes_in_use"] / 2**20}
