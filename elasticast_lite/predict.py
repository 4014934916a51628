"""``python -m elasticast_lite.predict FILE...``: what each model hears in a clip, top 5.

The same path the app takes (``compare.compare``): load the audio (any format, any rate, mono
16 kHz), crop it to a working length, compute the spectrogram at resolution r, and ask both
models of a pair, the standard AST under the chosen protocol and ElasticAST as it is.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .audio import load_audio
from .checkpoint import load_model
from .compare import METHODS, SAMPLE_RATE, Settings, compare

# the shipped checkpoints (ELASTICAST_CHECKPOINTS points elsewhere, e.g. a fresh `make
# checkpoints CKPT=...`)
CHECKPOINTS = Path(os.environ.get("ELASTICAST_CHECKPOINTS",
                                  Path(__file__).resolve().parents[1] / "checkpoints"))
PAIRS = {
    "voices": ("voices_ast400", "voices_elastic"),
    "instruments": ("instruments_ast992", "instruments_elastic_mixed"),
}


def load_pair(pair: str = "voices", folder: Path = CHECKPOINTS) -> dict:
    """The shipped standard AST and ElasticAST of ``pair``, in eval mode, by folder name."""
    return {name: load_model(folder / name) for name in PAIRS[pair]}


def predict_file(path, models: dict, seconds: float | None = 30.0, resolution: float = 1.0,
                 protocol: str = "paper", method: str = "frame shift", k: int = 5) -> dict:
    """Top-``k`` (label, probability) of each model for the first ``seconds`` of ``path``."""
    wav, _ = load_audio(path, SAMPLE_RATE)
    views = compare(wav, models, Settings(seconds, resolution, method, protocol), k)
    return {name: v.top for name, v in views.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m elasticast_lite.predict",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--pair", choices=sorted(PAIRS), default="voices")
    ap.add_argument("--model", nargs="*", help="checkpoint folders instead of a shipped pair")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--resolution", type=float, default=1.0)
    ap.add_argument("--protocol", choices=["paper", "pad", "windows"], default="paper")
    ap.add_argument("--method", choices=METHODS, default="frame shift")
    args = ap.parse_args(argv)
    if args.model:
        models = {Path(path).name: load_model(path) for path in args.model}
    else:
        models = load_pair(args.pair)
    for f in args.files:
        print(f)
        for name, top in predict_file(f, models, args.seconds, args.resolution,
                                      args.protocol, args.method).items():
            print(f"  {name:28s} " + ", ".join(f"{c} {100 * p:.0f}%" for c, p in top))


if __name__ == "__main__":
    main()
