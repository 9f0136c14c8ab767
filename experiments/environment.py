"""What a run ran on: library versions, device, date."""

from __future__ import annotations

import datetime
import os
import platform
import sys


def environment() -> dict:
    """The date, Python, platform, jax / jaxlib / numpy / optax / matplotlib versions, JAX's
    devices and backend, the CPU count and whether float64 is on."""
    import jax
    import jaxlib
    import matplotlib
    import numpy as np
    import optax

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "optax": optax.__version__,
        "matplotlib": matplotlib.__version__,
        "devices": [str(d) for d in jax.devices()],
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "x64": bool(jax.config.jax_enable_x64),
    }
