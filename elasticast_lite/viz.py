"""Figures: what packing, masks and the two models look like (plotly; the app and the
notebooks draw the same ones).

- ``packed_layout``: the rows of a ``PackedBatch``, one colour per sample, padding grey
  (paper, Sec. 3.2 and Fig. 2).
- ``attention_mask``: the block-diagonal mask of one row: who may attend to whom (Sec. 3.3).
- ``model_input``: a spectrogram exactly as one model saw it; for the AST the frames it cut
  and the padding it added are marked, for ElasticAST it is the whole clip (Sec. 1).
- ``confidence_curves``: each model's confidence as the clip gets shorter or coarser
  (the paper's Figs. 4 and 5 for a single clip).
- ``accuracy_curves``: accuracy against frame cap or resolution from an ``evaluate`` result.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .compare import Settings
from .packing import PackedBatch

COLORS = {"ElasticAST": "#1f77b4", "AST": "#d62728"}
LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 50, "b": 45}}


def packed_layout(batch: PackedBatch, title: str = "packed rows") -> go.Figure:
    """Rows x token positions, coloured by sample (in input order); padding is grey."""
    ids = batch.sample_ids.cpu().numpy()  # slot within the row, -1 on padding
    slot_to_input = np.zeros((ids.shape[0], max(1, ids.max() + 1)), dtype=int)
    slot_to_input[batch.rows.cpu().numpy(), batch.slots.cpu().numpy()] = batch.order.cpu().numpy()
    original = np.take_along_axis(slot_to_input, np.maximum(ids, 0), axis=1)
    z = np.where(ids >= 0, original, np.nan)
    text = np.where(ids >= 0, np.char.add("sample ", original.astype(str)), "padding")
    fig = go.Figure(go.Heatmap(z=z, text=text, hovertemplate="row %{y}, token %{x}: %{text}"
                               "<extra></extra>", colorscale="Turbo", showscale=False))
    fig.update_layout(title=title, xaxis_title="token position in the row",
                      yaxis_title="row", plot_bgcolor="#dddddd", **LAYOUT)
    fig.update_yaxes(autorange="reversed", dtick=1)
    return fig


def attention_mask(batch: PackedBatch, row: int = 0, title: str | None = None) -> go.Figure:
    """Row ``row``'s attention mask: query (y) may attend to key (x) where it is coloured."""
    mask = batch.attention_mask()[row].cpu().numpy().astype(float)
    fig = go.Figure(go.Heatmap(z=mask, colorscale=[[0, "white"], [1, "#1f77b4"]],
                               showscale=False, hovertemplate="query %{y}, key %{x}: %{z}"
                               "<extra></extra>"))
    fig.update_layout(title=title or f"attention mask of row {row} (blue: may attend)",
                      xaxis_title="key token", yaxis_title="query token", **LAYOUT)
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return fig


def model_input(view, title: str | None = None) -> go.Figure:
    """A ``compare.View``: the clip's spectrogram as that model read it, time in seconds.

    Frames the model never read (the AST under ``pad`` cuts a long clip) get a red veil,
    the zero frames it was padded with are grey, and ``windows`` are outlined in white.
    ElasticAST reads the whole clip.
    """
    spec = view.spec.float().cpu().numpy()
    shown = np.concatenate([spec, np.zeros((view.padded, spec.shape[1]))])
    step = view.frame_ms / 1000
    t = (np.arange(shown.shape[0]) + 0.5) * step
    fig = go.Figure(go.Heatmap(x=t, z=shown.T, colorscale="Viridis", showscale=False,
                               zmin=-1.2, zmax=0.8,
                               hovertemplate="%{x:.2f} s, mel bin %{y}<extra></extra>"))

    def band(a, b, color, label):
        fig.add_vrect(x0=a * step, x1=b * step, fillcolor=color, opacity=0.75, line_width=0,
                      annotation_text=label, annotation_position="top left",
                      annotation_font_color="white")

    if view.read < spec.shape[0]:
        band(view.read, spec.shape[0], "#d62728", "cut")
    if view.padded:
        band(spec.shape[0], shown.shape[0], "#9a9a9a", "padding")
    for a, b in view.windows:
        fig.add_vrect(x0=a * step, x1=b * step, line={"color": "white", "dash": "dash"},
                      fillcolor="rgba(0,0,0,0)")
    tok = view.tokens
    sub = (f"tokens: {tok['real']} real, {tok['padding']} padding, {tok['cut']} cut, "
           f"{tok['computed']} computed")
    fig.update_layout(title={"text": title or f"{view.kind}: {view.note}<br><sub>{sub}</sub>",
                             "font": {"size": 14}},
                      xaxis={"title": "seconds of audio", "range": [0, shown.shape[0] * step]},
                      yaxis_title="mel bin", height=270, **LAYOUT)
    return fig


def confidence_curves(curves: dict, kinds: dict, seconds: float | None = None,
                      resolution: float | None = None,
                      method: str = "frame shift") -> go.Figure:
    """``compare.sweep`` output: probability of each model's own whole-clip label against
    seconds heard (left) and against r (right); dotted lines mark the current sliders."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("as it hears less (r = 1)",
                                                         "as the resolution gets coarser"))
    for name, c in curves.items():
        color = COLORS.get(kinds.get(name), None)
        for col, key in ((1, "lengths"), (2, "resolutions")):
            xs, ps = zip(*c[key]) if c[key] else ((), ())
            fig.add_trace(go.Scatter(
                x=xs, y=[100 * p for p in ps], mode="lines+markers", line={"color": color},
                name=f"{kinds.get(name, name)}: {c['label']}", legendgroup=name,
                showlegend=col == 1,
                hovertemplate="%{x}: %{y:.0f} %<extra>" + name + "</extra>"), row=1, col=col)
    if seconds:
        fig.add_vline(x=seconds, line_dash="dot", row=1, col=1)
    if resolution:
        if method == "average pooling":
            resolution = Settings(None, resolution, method).pool_factor
        fig.add_vline(x=resolution, line_dash="dot", row=1, col=2)
    ticks = [0.5, 1, 2, 4, 8, 16, 30]
    fig.update_xaxes(title_text="seconds heard", type="log", tickvals=ticks, row=1, col=1)
    right = ("pooling factor k (frames of 10·k ms)" if method == "average pooling"
             else "r (frame shift 10·r ms)")
    fig.update_xaxes(title_text=right, row=1, col=2)
    fig.update_yaxes(title_text="confidence %", range=[0, 100], row=1, col=1)
    fig.update_yaxes(range=[0, 100], row=1, col=2)
    fig.update_layout(height=320, legend={"orientation": "h", "y": -0.3}, **LAYOUT)
    return fig


def accuracy_curves(result: dict, kind: str = "cap") -> go.Figure:
    """Accuracy of every run in an ``evaluate`` result against frame cap (``kind="cap"``,
    the paper's Fig. 4) or against resolution (``kind="r"``, Fig. 5)."""
    fig = go.Figure()
    models = list(dict.fromkeys(run.split("/")[0] for run in result["accuracy"]))
    palette = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
    dashes = {"native": "solid", "paper": "solid", "pad": "dash", "windows": "dot"}
    for run, acc in result["accuracy"].items():
        model, protocol = run.split("/")
        conds = [c for c in acc if c.startswith(kind + " ")]
        if kind == "r":
            conds = ["native"] + conds
        xs = [1.0 if c == "native" else float(c.split()[1]) for c in conds]
        fig.add_trace(go.Scatter(
            x=xs, y=[100 * acc[c] for c in conds], name=run, mode="lines+markers",
            line={"color": palette[models.index(model) % len(palette)],
                  "dash": dashes.get(protocol, "solid"),
                  "width": 4 if protocol == "native" else 2}))
    title = {"cap": "frame cap (length)", "r": "temporal resolution r"}[kind]
    fig.update_layout(xaxis_title=title, yaxis_title="accuracy %",
                      title=f"{result['data']} ({result['split']}, {result['clips']} clips)",
                      **LAYOUT)
    if kind == "cap":
        fig.update_xaxes(type="log")
    return fig


def write_png(fig: go.Figure, path, width: int = 900, height: int = 500) -> Path | None:
    """Save ``fig`` as a PNG with kaleido, which drives a Chromium (Debian's ``chromium`` is
    found by itself); returns None, after saying why, where no static export works here."""
    if "BROWSER_PATH" not in os.environ and shutil.which("chromium"):
        os.environ["BROWSER_PATH"] = shutil.which("chromium")
    try:
        fig.write_image(str(path), width=width, height=height)
    except Exception as e:  # kaleido missing, or no browser it can start
        print(f"no PNG for {path}: {type(e).__name__}: {str(e)[:200]}")
        return None
    return Path(path)
