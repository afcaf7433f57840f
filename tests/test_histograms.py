"""Histograms: decoded as TensorBoard's own loader and data_compat return them, compressed as
its distribution plugin's compressor does, and shown in every report format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_logdir
from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
from tensorboard.plugins.distribution import compressor
from tensorboard.util import tensor_util

from tbreport.read import read_logdir

HISTOGRAM_FIXTURES = (
    "torch_histograms",
    "tensorboardx_histograms",
    "tf2_histograms",
    "keras_histograms",
)


def tensorboard_histograms(run_dir: Path) -> dict[str, list[tuple[int, float, np.ndarray]]]:
    """What TensorBoard's plugin EventAccumulator (which migrates every event with
    data_compat) holds for the histograms plugin, every sample kept."""
    acc = plugin_event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        if acc.SummaryMetadata(tag).plugin_data.plugin_name != "histograms":
            continue
        out[tag] = [
            (e.step, e.wall_time, tensor_util.make_ndarray(e.tensor_proto))
            for e in acc.Tensors(tag)
        ]
    return out


@pytest.mark.parametrize("name", HISTOGRAM_FIXTURES)
@pytest.mark.parametrize("fast", [True, False])
def test_histograms_are_what_tensorboard_loads(name: str, fast: bool) -> None:
    logdir = read_logdir(fixture_logdir(name), fast=fast)
    checked = 0
    for run in logdir.runs:
        want = tensorboard_histograms(Path(run.path))
        assert sorted(run.histograms) == sorted(want), run.name
        for tag, samples in want.items():
            got = run.histograms[tag]
            assert got.steps.tolist() == [s for s, _, _ in samples], tag
            assert got.wall_times.tolist() == [w for _, w, _ in samples], tag
            for i, (_, _, buckets) in enumerate(samples):
                assert buckets.shape == got.at(i).shape, (tag, i)
                np.testing.assert_array_equal(got.at(i), buckets.astype(np.float64))
                checked += 1
    assert checked >= 20


def test_torch_bucket_counts_change_between_steps() -> None:
    # torch trims empty outer buckets: several layouts per tag, joined in step order
    (run,) = read_logdir(fixture_logdir("torch_histograms")).runs
    sizes = np.diff(run.histograms["layer/weights"].bounds)
    assert len(set(sizes.tolist())) > 1
    assert run.histograms["layer/weights"].steps.tolist() == list(range(15))


def test_histogram_tags_keep_their_record_offsets() -> None:
    from tbreport.read.events import load_values

    (run,) = read_logdir(fixture_logdir("tf2_histograms")).runs
    records = run.tensors["weights"]
    assert records.plugin == "histograms" and len(records) == 20
    values = load_values(run.files[0], records.offsets[:3], records.values[:3])
    assert [s for s, _, _ in values] == [0, 1, 2]
    assert all(v.tag == "weights" for _, _, v in values)
