"""The figures show what the data says: every token in its sample's colour, the mask the
model uses, the cut and padded spans where the AST cut and padded."""

import numpy as np
import torch

import elasticast_lite as el
from conftest import random_specs
from elasticast_lite import viz
from elasticast_lite.compare import Settings, view


def test_packed_layout_colours_each_token_by_its_input_sample():
    specs = random_specs([3, 9, 1, 5], seed=0)
    batch = el.pack(specs, max_tokens=96, strategy="ffd")
    z = np.array(viz.packed_layout(batch).data[0].z, dtype=float)
    assert z.shape == tuple(batch.sample_ids.shape)
    assert np.isnan(z[batch.sample_ids.numpy() < 0]).all()
    for i, spec in enumerate(specs):  # input order, even though ffd reorders
        assert (z == i).sum() == spec.shape[0] // 16 * 8


def test_attention_mask_figure_is_the_models_mask():
    batch = el.pack(random_specs([4, 2, 6], seed=1), max_tokens=200)
    z = np.array(viz.attention_mask(batch, row=0).data[0].z)
    assert (z == batch.attention_mask()[0].numpy()).all()


def ast_view(frames, protocol, target=400):
    torch.manual_seed(0)
    model = el.StandardAST(el.ModelConfig.tiny(num_classes=3), target_frames=target)
    model.classes = ["a", "b", "c"]
    spec = torch.randn(frames, 128)
    return view("ast", model, spec, Settings(None, 2.0, "frame shift", protocol))


def shapes(fig):
    return [(s.x0, s.x1, s.fillcolor) for s in fig.layout.shapes]


def test_model_input_marks_cut_and_padding_in_seconds():
    long = viz.model_input(ast_view(640, "pad"))  # 640 frames of 20 ms, 400 read
    assert shapes(long) == [(400 * 0.02, 640 * 0.02, "#d62728")]
    assert "200 real, 0 padding, 120 cut" in long.layout.title.text
    short = viz.model_input(ast_view(160, "pad"))
    assert shapes(short) == [(160 * 0.02, 400 * 0.02, "#9a9a9a")]
    assert np.array(short.data[0].z).shape == (128, 400)
    assert shapes(viz.model_input(ast_view(640, "paper"))) == []
    windows = viz.model_input(ast_view(640, "windows"))
    assert [(a, b) for a, b, _ in shapes(windows)] == [(0, 8.0), (4.0, 12.0), (4.8, 12.8)]


def test_confidence_curves_plot_the_sweep():
    curves = {"e": {"label": "x", "lengths": [(1, 0.5), (2, 0.75)], "resolutions": [(1.0, 0.75)]},
              "a": {"label": "y", "lengths": [(1, 0.25)], "resolutions": []}}
    fig = viz.confidence_curves(curves, {"e": "ElasticAST", "a": "AST"}, 2.0, 1.0)
    ys = {t.name: list(t.y) for t in fig.data if t.showlegend}
    assert ys == {"ElasticAST: x": [50, 75], "AST: y": [25]}
    assert [s.x0 for s in fig.layout.shapes] == [2.0, 1.0]
