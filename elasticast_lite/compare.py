"""What each model hears: one clip, one setting, a standard AST and ElasticAST side by side.

This is the paper's argument (Sec. 1 and 4) made concrete for one clip. A standard AST has a
fixed input: every clip is trimmed or padded to its training length, or its position grid is
stretched, or it slides a window, depending on the *protocol* (``evaluate`` explains the
three). ElasticAST takes the clip as it is, at any length and any temporal resolution.
``compare`` returns, for each model, its top-5 labels, the spectrogram exactly as that model
sees it, and its token counts (real, padding, cut, computed); ``sweep`` returns each model's
confidence as the clip gets shorter or coarser. The app, ``predict`` and the notebooks all
call these two functions, so they show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .evaluate import PROTOCOLS, ast_logits, ast_windows
from .features import PATCH_SIZE, compress, fbank
from .model import ElasticAST

METHODS = ("frame shift", "average pooling")
RESOLUTIONS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)  # the confidence curve's r axis
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Settings:
    """How much of the clip the models hear and at which temporal resolution."""

    seconds: float | None = None  # None: the whole clip
    resolution: float = 1.0  # r: frame shift 10*r ms, or pooling by round(r)
    method: str = "frame shift"  # or "average pooling" (integer factors 1-4, paper Sec. 3.5)
    protocol: str = "paper"  # how the AST meets a length it was not trained for

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if not 1.0 <= self.resolution <= 4.0:
            raise ValueError(f"resolution must be from 1.0 to 4.0, got {self.resolution}")

    @property
    def pool_factor(self) -> int:
        """The integer factor nearest r (halves round up: r = 2.5 pools by 3)."""
        return max(1, min(4, int(self.resolution + 0.5)))

    @property
    def frame_ms(self) -> float:
        """Milliseconds of audio per spectrogram frame."""
        if self.method == "average pooling":
            return 10.0 * self.pool_factor
        return 10.0 * self.resolution


def spectrogram(wav: torch.Tensor, settings: Settings) -> torch.Tensor:
    """The clip cut to ``settings.seconds``, as a spectrogram at the chosen resolution."""
    if settings.seconds:
        wav = wav[: int(settings.seconds * SAMPLE_RATE)]
    if settings.method == "frame shift":
        return fbank(wav, SAMPLE_RATE, resolution=settings.resolution)
    spec = compress(fbank(wav, SAMPLE_RATE), settings.pool_factor)
    if spec.shape[0] < PATCH_SIZE:
        raise ValueError(
            f"audio too short for one {PATCH_SIZE}-frame patch after average pooling by "
            f"{settings.pool_factor}: {wav.numel() / SAMPLE_RATE * 1000:.0f} ms, need at least "
            f"{(PATCH_SIZE * settings.pool_factor * 10 + 15)} ms")
    return spec


@dataclass
class View:
    """One model's answer and what it saw of the clip."""

    model: str  # checkpoint name
    kind: str  # "ElasticAST" or "AST"
    top: list[tuple[str, float]]  # (label, probability), best first
    spec: torch.Tensor  # [frames, 128]: the clip's spectrogram at this setting
    frame_ms: float  # milliseconds of audio per frame
    read: int  # frames of ``spec`` the model read (the rest was cut)
    padded: int  # zero frames appended after them
    tokens: dict = field(default_factory=dict)  # real, padding, cut, computed
    windows: list[tuple[int, int]] = field(default_factory=list)  # AST `windows`: [start, end)
    note: str = ""


def tokens_of(frames: int, freq_patches: int = 8, patch: int = 16) -> int:
    return frames // patch * freq_patches


def top_k(logits: torch.Tensor, classes: list[str], k: int = 5) -> list[tuple[str, float]]:
    probs = logits.float().softmax(-1)
    best = probs.topk(min(k, len(classes)))
    return [(classes[int(i)], float(p)) for p, i in zip(best.values, best.indices)]


@torch.no_grad()
def view(name: str, model, spec: torch.Tensor, settings: Settings, k: int = 5) -> View:
    """``model``'s top-``k`` for ``spec`` and exactly what it read of it."""
    model.eval()
    n = spec.shape[0]
    windows = []
    if isinstance(model, ElasticAST):
        logits, kind, read, padded = model([spec])[0], "ElasticAST", n, 0
        note = "the whole clip, packed as it is"
    else:
        own, kind = model.target_frames // PATCH_SIZE * PATCH_SIZE, "AST"
        logits = ast_logits(model, spec, settings.protocol)
        if settings.protocol == "paper":
            read, padded = n, 0
            note = f"its position grid stretched from {own} to {n} frames"
        elif settings.protocol == "pad" or n <= own:
            read, padded = min(n, own), max(0, own - n)
            note = f"trimmed/padded to its {own} training frames"
        else:
            windows = ast_windows(n, own)
            read, padded = n, 0
            note = f"{len(windows)} windows of {own} frames, logits averaged"
    fp = model.cfg.freq_patches
    tokens = {"real": tokens_of(read, fp), "padding": tokens_of(padded, fp),
              "cut": tokens_of(n - read, fp),
              "computed": sum(tokens_of(b - a, fp) for a, b in windows)
              or tokens_of(read + padded, fp)}
    return View(name, kind, top_k(logits, model.classes, k), spec, settings.frame_ms, read,
                padded, tokens, windows, note)


def compare(wav: torch.Tensor, models: dict, settings: Settings, k: int = 5) -> dict[str, View]:
    """Every model's ``View`` of the mono 16 kHz clip ``wav`` under ``settings``."""
    spec = spectrogram(wav, settings)
    return {name: view(name, model, spec, settings, k) for name, model in models.items()}


def _specs(wav, settings: dict) -> tuple[list, list[torch.Tensor]]:
    """Spectrograms of ``{x: Settings}``, leaving out those too short for one patch."""
    xs, specs = [], []
    for x, s in settings.items():
        try:
            specs.append(spectrogram(wav, s))
        except ValueError:
            continue
        xs.append(x)
    return xs, specs


@torch.no_grad()
def _probs(model, specs: list[torch.Tensor], protocol: str) -> torch.Tensor:
    if isinstance(model, ElasticAST):  # every variant in one packed forward pass
        return model(specs).float().softmax(-1)
    return torch.stack([ast_logits(model, s, protocol) for s in specs]).float().softmax(-1)


def sweep(wav: torch.Tensor, models: dict, protocol: str = "paper", method: str = "frame shift",
          lengths=(0.5, 1, 2, 4, 8, 16)) -> dict:
    """Each model's probability for the label it gives the whole clip at r = 1, when it hears
    only the first ``lengths`` seconds (at r = 1), and when it hears the whole clip at each r
    (1.0 ... 4.0 by frame shift; factors 1-4 by average pooling).

    Returns ``{model: {"label": str, "lengths": [(s, p)], "resolutions": [(r, p)]}}``;
    lengths not shorter than the clip, and settings too short for one patch, are left out.
    """
    clip_s = round(wav.numel() / SAMPLE_RATE, 2)
    by_length = {s: Settings(s, 1.0, method, protocol) for s in lengths if s < clip_s}
    by_length[clip_s] = Settings(None, 1.0, method, protocol)
    rs = (1.0, 2.0, 3.0, 4.0) if method == "average pooling" else RESOLUTIONS
    xs_len, specs_len = _specs(wav, by_length)
    xs_r, specs_r = _specs(wav, {r: Settings(None, r, method, protocol) for r in rs})
    out = {}
    for name, model in models.items():
        model.eval()
        p_len = _probs(model, specs_len, protocol)
        label = int(p_len[-1].argmax())
        p_r = _probs(model, specs_r, protocol)[:, label].tolist() if specs_r else []
        out[name] = {"label": model.classes[label],
                     "lengths": list(zip(xs_len, p_len[:, label].tolist())),
                     "resolutions": list(zip(xs_r, p_r))}
    return out
