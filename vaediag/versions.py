"""Library versions recorded next to every result, for reproducibility."""

from __future__ import annotations

import platform


def versions() -> dict:
    """vaediag, Python, torch, torchvision, numpy, pandas and platform versions."""
    import numpy as np
    import pandas as pd
    import torch
    import torchvision

    from . import __version__

    return {
        "vaediag": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
    }
