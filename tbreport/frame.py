"""API edge: a Logdir as a long-format pandas DataFrame (pandas is optional)."""

from __future__ import annotations

import numpy as np

from tbreport.errors import TbreportError
from tbreport.model import Logdir


def to_dataframe(logdir: Logdir):  # -> pandas.DataFrame
    """One row per scalar point: run, tag, step, value, wall_time (runs and tags sorted)."""
    try:
        import pandas as pd
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise TbreportError(
            "to_dataframe() needs pandas, which tbreport does not install. "
            "Run: pip install 'tbreport[pandas]'"
        ) from err
    runs, tags, steps, values, walls = [], [], [], [], []
    for run in logdir.runs:
        for tag, series in run.scalars.items():
            n = len(series)
            runs.append(np.full(n, run.name, dtype=object))
            tags.append(np.full(n, tag, dtype=object))
            steps.append(series.steps)
            values.append(series.values)
            walls.append(series.wall_times)

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return pd.DataFrame(
        {
            "run": pd.Categorical(cat(runs, object)),
            "tag": pd.Categorical(cat(tags, object)),
            "step": cat(steps, np.int64),
            "value": cat(values, np.float64),
            "wall_time": cat(walls, np.float64),
        }
    )
