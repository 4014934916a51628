"""The elasticast-lite demo: a standard AST and ElasticAST side by side, in the browser.

Pick an example clip (or upload or record one), drag the sliders for how much of the clip the
models hear and at which temporal resolution, and watch both predict. The AST has a fixed
input (trimmed, padded, stretched or windowed: the protocol); ElasticAST takes the clip as it
is. Everything the page shows comes from ``elasticast_lite.compare`` and ``viz``.

    python app.py [--host 127.0.0.1] [--port 7860]     (or: make app)

Binds 127.0.0.1 unless told otherwise (--host or ELASTICAST_HOST), never makes a share link,
sends no analytics, caps uploads at 25 MB and what the models hear at 30 s.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported

import argparse  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from elasticast_lite import viz  # noqa: E402
from elasticast_lite.audio import (  # noqa: E402
    AudioError,
    AudioFileError,
    AudioTooLongError,
    load_audio,
)
from elasticast_lite.compare import METHODS, SAMPLE_RATE, Settings, compare, sweep  # noqa: E402
from elasticast_lite.evaluate import PROTOCOLS  # noqa: E402
from elasticast_lite.predict import CHECKPOINTS, PAIRS, load_pair  # noqa: E402

ROOT = Path(__file__).resolve().parent
SAMPLES = ROOT / "data_samples"
MAX_SECONDS = 30.0  # what the models hear at most (the paper's 30 s cap)
MAX_UPLOAD = "25mb"  # a 10-minute 16 kHz 16-bit mono WAV is 19 MB
PROTOCOL_HELP = {
    "paper": "the AST reads the clip at its length, its position grid stretched to fit "
             "(what the paper did)",
    "pad": "the AST trims or pads the clip to its training length (what a fixed-input model "
           "does by default)",
    "windows": "the AST slides its training-length window over the clip and averages "
               "(what practitioners do)",
}
EXPLANATION = """
**What you are looking at.** Both models were trained from scratch on this repo's teaching
sets. The standard AST (left) has one fixed input length: under **pad** a long clip is *cut*
(red) and a short one *padded* (grey); under **paper** its position grid is stretched to the
clip; under **windows** it reads several windows and averages. ElasticAST (right) reads the
whole clip as it is: at any length and any resolution r the tokens are packed, and masked
attention keeps each clip to itself. Shorten the clip or raise r (frame shift 10·r ms: r = 4
gives a quarter of the frames) and compare how the two models' confidence moves in the plot
below. *Average pooling* compresses a 10 ms spectrogram by an integer factor instead.
"""


@functools.lru_cache(maxsize=2)
def models_of(pair: str) -> dict:
    return load_pair(pair, CHECKPOINTS)


@functools.lru_cache(maxsize=1)
def examples() -> dict[str, tuple[str, str, str]]:
    """Dropdown label -> (file, pair, true label) for every clip in data_samples/."""
    out = {}
    for pair in PAIRS:
        for entry in json.loads((SAMPLES / f"{pair}.json").read_text())["data"]:
            out[f"{pair}: {entry['labels']} ({entry['wav']})"] = (
                str(SAMPLES / entry["wav"]), pair, entry["labels"])
    for path in sorted(SAMPLES.glob("ood_*.flac")):
        out[f"out of domain: {path.stem[4:].replace('_', ' ')}"] = (str(path), "voices", "")
    return out


@functools.lru_cache(maxsize=1)
def _labels_by_content() -> dict[tuple[int, str], str]:
    """(size, sha256) of each labelled example file -> its label."""
    return {_fingerprint(file): label for file, _, label in examples().values() if label}


def _fingerprint(path) -> tuple[int, str]:
    return Path(path).stat().st_size, hashlib.sha256(Path(path).read_bytes()).hexdigest()


def true_label(path) -> str:
    """The label of an example clip, known by its bytes whatever the file is called (empty
    for anything else: uploads, recordings, out-of-domain clips)."""
    try:
        size = Path(str(path)).stat().st_size
        if not any(size == known for known, _ in _labels_by_content()):
            return ""  # no example has this size: skip hashing the file
        return _labels_by_content().get(_fingerprint(path), "")
    except OSError:
        return ""


def _conversions(path: str) -> str:
    """What the loader will do to the file to make it mono 16 kHz float, in words."""
    try:
        info = sf.info(path)
    except Exception:  # not a format soundfile reads: librosa decodes it (or refuses it)
        return ""
    done = []
    if info.channels > 1:
        done.append(f"{info.channels} channels mixed to mono")
    if info.samplerate != SAMPLE_RATE:
        done.append(f"{info.samplerate / 1000:g} kHz resampled to 16 kHz")
    if info.subtype in ("PCM_U8", "PCM_S8"):
        done.append("8-bit samples scaled to float")
    return f"The file was converted: {', '.join(done)}. " if done else ""


@functools.lru_cache(maxsize=8)
def _clip(key: tuple) -> tuple[torch.Tensor, str]:
    """The clip of ``_key(path)``: read once per file content, kept for the next slider move."""
    path = key[0]
    try:
        wav, _ = load_audio(path, SAMPLE_RATE)
    except AudioTooLongError:
        raise AudioTooLongError(f"{Path(path).name} is longer than ten minutes: the app "
                                "refuses it. Cut it to the part you want to hear.") from None
    note = _conversions(path)
    if wav.numel() > MAX_SECONDS * SAMPLE_RATE:
        note += (f"The clip is {wav.numel() / SAMPLE_RATE:.1f} s long: the models hear its "
                 f"first {MAX_SECONDS:.0f} s (the paper's cap).")
        wav = wav[: int(MAX_SECONDS * SAMPLE_RATE)]
    if float(wav.abs().max()) < 1e-4:
        raise AudioError("The clip is silent: there is nothing for the models to hear.")
    return wav, note


def _key(path) -> tuple:
    """What identifies a file's content for the caches: path, change time, size."""
    if not path:
        raise AudioError("Pick an example, upload a file or record from the microphone.")
    try:
        st = os.stat(path)
    except OSError as e:
        raise AudioFileError(f"cannot read {Path(str(path)).name}: {e.strerror}") from None
    return str(path), st.st_mtime_ns, st.st_size


def clip(path) -> tuple[torch.Tensor, str]:
    """The clip at ``path`` as mono 16 kHz (at most 30 s) and a note about what was done."""
    return _clip(_key(path))


@functools.lru_cache(maxsize=32)
def _curves(key: tuple, pair: str, method: str, protocol: str) -> tuple[dict, float]:
    wav, _ = _clip(key)
    start = time.perf_counter()
    curves = sweep(wav, models_of(pair), protocol, method)
    return curves, 1000 * (time.perf_counter() - start)


def predict(path, pair: str = "voices", seconds: float | None = None, resolution: float = 1.0,
            method: str = "frame shift", protocol: str = "paper") -> dict:
    """What the page shows, as data: each model's ``View`` and confidence curves, a message.
    Raises ``AudioError``/``ValueError`` with a message a user can act on."""
    key = _key(path)
    wav, note = _clip(key)
    clip_seconds = wav.numel() / SAMPLE_RATE
    seconds = min(seconds, clip_seconds) if seconds else clip_seconds
    settings = Settings(seconds, float(resolution), method, protocol)
    models = models_of(pair)
    start = time.perf_counter()
    views = compare(wav, models, settings)
    model_ms = 1000 * (time.perf_counter() - start)
    curves, curves_ms = _curves(key, pair, method, protocol)
    return {"views": views, "curves": curves, "note": note, "model_ms": model_ms,
            "curves_ms": curves_ms, "seconds": seconds, "clip_seconds": clip_seconds}


def _by_kind(views: dict) -> tuple:
    ast = next(v for v in views.values() if v.kind == "AST")
    elastic = next(v for v in views.values() if v.kind == "ElasticAST")
    return ast, elastic


def respond(path, pair, seconds, resolution, method, protocol):
    """The page's outputs: message, two label panels, two spectrograms, the curves."""
    try:
        out = predict(path, pair, seconds, resolution, method, protocol)
    except (AudioError, ValueError) as e:
        return f"⚠️ {e}", None, None, None, None, None
    except Exception as e:  # keep serving, and say what happened
        traceback.print_exc()
        return f"⚠️ Something went wrong: {type(e).__name__}: {e}", None, None, None, None, None
    ast, elastic = _by_kind(out["views"])
    kinds = {v.model: v.kind for v in out["views"].values()}
    heard = f"{out['seconds']:.1f} s"
    if out["seconds"] >= out["clip_seconds"]:
        heard += " (the whole clip)"
    pooled = (f", average pooling by {Settings(None, resolution, method).pool_factor}"
              if method == "average pooling" else "")
    truth = true_label(path)
    truth = f"True label: **{truth}**. " if truth else ""
    message = (f"{truth}Hearing {heard} at r = {resolution:g}{pooled}; AST protocol "
               f"**{protocol}**: {PROTOCOL_HELP[protocol]}. Model time {out['model_ms']:.0f} ms "
               f"(the curves: {out['curves_ms']:.0f} ms, once per clip and choice). {out['note']}")
    return (message,
            {label: p for label, p in ast.top},
            {label: p for label, p in elastic.top},
            viz.model_input(ast), viz.model_input(elastic),
            viz.confidence_curves(out["curves"], kinds, out["seconds"], resolution, method))


def new_clip(path):
    """A new clip: the length slider spans it (at most 30 s) and starts at the whole clip."""
    try:
        seconds = clip(path)[0].numel() / SAMPLE_RATE
    except (AudioError, ValueError, OSError):
        return gr.update()
    seconds = round(min(seconds, MAX_SECONDS), 1)
    return gr.update(maximum=max(seconds, 0.5), value=seconds)


def set_method(method, resolution):
    """Average pooling takes integer factors: the r slider steps by 1 while it is chosen."""
    if method == "average pooling":
        return gr.update(step=1, value=Settings(None, resolution, method).pool_factor)
    return gr.update(step=0.1)


def pick_example(name):
    if name not in examples():
        return gr.update(), gr.update()
    path, pair, _ = examples()[name]
    return path, pair


def build() -> gr.Blocks:
    for pair in PAIRS:  # load every model before the first request (and fail early)
        models_of(pair)
    choices = examples()
    with gr.Blocks(title="ElasticAST vs AST", analytics_enabled=False) as demo:
        gr.Markdown("# ElasticAST vs a standard AST\nOne model for any audio length and "
                    "temporal resolution, next to one with a fixed input.")
        with gr.Row():
            with gr.Column(scale=1):
                example = gr.Dropdown(list(choices), label="Example clip (data_samples/)",
                                      value=None, elem_id="example")
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                 label=f"Clip (upload up to {MAX_UPLOAD.upper()}, or record)",
                                 elem_id="audio")
                pair = gr.Radio(list(PAIRS), value="voices", label="Model pair",
                                elem_id="pair")
            with gr.Column(scale=1):
                seconds = gr.Slider(0.5, MAX_SECONDS, value=MAX_SECONDS, step=0.1,
                                    label="Audio length heard (s)", elem_id="seconds")
                resolution = gr.Slider(1.0, 4.0, value=1.0, step=0.1,
                                       label="Temporal resolution r (frame shift 10·r ms)",
                                       elem_id="resolution")
                method = gr.Radio(list(METHODS), value="frame shift",
                                  label="Compression method", elem_id="method")
                protocol = gr.Radio(list(PROTOCOLS), value="paper",
                                    label="How the AST meets other lengths", elem_id="protocol")
        message = gr.Markdown(elem_id="message")
        with gr.Row():
            with gr.Column():
                gr.Markdown("### Standard AST (fixed input)")
                ast_label = gr.Label(num_top_classes=5, label="AST top 5", elem_id="ast-label")
                ast_plot = gr.Plot(label="what the AST sees", elem_id="ast-plot")
            with gr.Column():
                gr.Markdown("### ElasticAST (any length, any resolution)")
                elastic_label = gr.Label(num_top_classes=5, label="ElasticAST top 5",
                                         elem_id="elastic-label")
                elastic_plot = gr.Plot(label="what ElasticAST sees", elem_id="elastic-plot")
        curves = gr.Plot(label="confidence in each model's whole-clip answer", elem_id="curves")
        gr.Markdown(EXPLANATION)

        inputs = [audio, pair, seconds, resolution, method, protocol]
        outputs = [message, ast_label, elastic_label, ast_plot, elastic_plot, curves]
        private = {"api_visibility": "private"}
        example.change(pick_example, example, [audio, pair], **private)
        audio.change(new_clip, audio, seconds, **private).then(respond, inputs, outputs,
                                                                **private)
        seconds.release(respond, inputs, outputs, api_name="predict")
        resolution.release(respond, inputs, outputs, **private)
        method.input(set_method, [method, resolution], resolution, **private).then(
            respond, inputs, outputs, **private)
        for choice in (pair, protocol):  # a user's choice; an example sets the pair itself
            choice.input(respond, inputs, outputs, **private)
    return demo


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.environ.get("ELASTICAST_HOST", "127.0.0.1"),
                    help="address to bind (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("ELASTICAST_PORT", 7860)))
    args = ap.parse_args(argv)
    launch(build(), args.host, args.port)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, **kw):
    """Serve ``demo`` with the app's limits: no share link, uploads capped, the examples
    readable from any working folder, two requests at a time."""
    demo.queue(default_concurrency_limit=2)
    return demo.launch(server_name=host, server_port=port, share=False,
                       max_file_size=MAX_UPLOAD, allowed_paths=[str(SAMPLES)], **kw)


if __name__ == "__main__":
    main()
