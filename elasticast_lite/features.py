"""Waveform to spectrogram, at any temporal resolution (paper, Sec. 3.2 and 3.4-3.5).

The paper's features are AST's: a Kaldi-compatible log-mel filterbank with 128 mel bins,
a 25 ms Hanning window and a 10 ms frame shift. ElasticAST changes the *temporal
resolution* r by stretching the frame shift to 10*r ms (Sec. 3.4): r = 2 gives half the
frames, so the same audio costs half the tokens. The ablation (Sec. 3.5) instead keeps
r = 1 and average-pools the spectrogram over time by an integer factor: ``compress``.

Normalisation uses fixed data-set constants, ``(x - mean) / (2 * std)`` as AST does (the
factor 2 is AST's, on purpose). Never per-clip statistics: those would change every time a
clip is cropped, so the same second of audio would look different at different lengths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi

NUM_MEL_BINS = 128
PATCH_SIZE = 16
WINDOW_MS = 25.0
FRAME_SHIFT_MS = 10.0
# AST's AudioSet statistics of the un-normalised log-mel filterbank.
AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974
# Resolutions the paper samples from during mixed-resolution training: 1.0, 1.2, ..., 4.0.
RESOLUTIONS = tuple(round(1.0 + 0.2 * i, 1) for i in range(16))


def crop_to_patches(spec: torch.Tensor, patch_size: int = PATCH_SIZE) -> torch.Tensor:
    """Drop the trailing frames that do not fill a whole patch."""
    return spec[: spec.shape[0] // patch_size * patch_size]


def num_frames(samples: int, sample_rate: int = 16_000, resolution: float = 1.0,
               patch_size: int = PATCH_SIZE) -> int:
    """Frames ``fbank`` gives for ``samples`` of audio (Kaldi's arithmetic, ``snip_edges``),
    cropped to whole patches; 0 when the audio is too short for one patch."""
    window = int(sample_rate * WINDOW_MS * 0.001)
    shift = int(sample_rate * FRAME_SHIFT_MS * resolution * 0.001)
    if samples < window + (patch_size - 1) * shift:
        return 0
    return (1 + (samples - window) // shift) // patch_size * patch_size


def fbank(
    wav: torch.Tensor,
    sample_rate: int = 16_000,
    resolution: float = 1.0,
    mean: float = AUDIOSET_MEAN,
    std: float = AUDIOSET_STD,
    patch_size: int = PATCH_SIZE,
) -> torch.Tensor:
    """Normalised log-mel spectrogram ``[frames, 128]`` with frame shift ``10 * resolution`` ms.

    Frames are cropped to a multiple of ``patch_size``. Audio too short to give one patch
    of frames is refused with a ``ValueError`` that says how much audio is needed.
    """
    if not resolution > 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    wav = torch.as_tensor(wav, dtype=torch.float32)
    if wav.ndim == 2 and wav.shape[0] == 1:
        wav = wav[0]
    if wav.ndim != 1:
        raise ValueError(f"fbank expects a mono waveform [samples], got shape {tuple(wav.shape)}")
    shift_ms = FRAME_SHIFT_MS * resolution
    if not num_frames(wav.numel(), sample_rate, resolution, patch_size):
        need = int(sample_rate * WINDOW_MS * 0.001)
        need += (patch_size - 1) * int(sample_rate * shift_ms * 0.001)
        raise ValueError(
            f"audio too short for one {patch_size}-frame patch at resolution {resolution}: "
            f"{wav.numel()} samples ({wav.numel() / sample_rate * 1000:.0f} ms), "
            f"need at least {need} ({need / sample_rate * 1000:.0f} ms)"
        )
    spec = kaldi.fbank(
        (wav - wav.mean()).unsqueeze(0),
        htk_compat=True,
        sample_frequency=sample_rate,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=NUM_MEL_BINS,
        dither=0.0,
        frame_length=WINDOW_MS,
        frame_shift=shift_ms,
    )
    return crop_to_patches((spec - mean) / (2 * std), patch_size)


def compress(spec: torch.Tensor, factor: int, patch_size: int | None = PATCH_SIZE) -> torch.Tensor:
    """Average-pool ``[frames, F]`` over time by an integer ``factor`` (1-4, paper Sec. 3.5).

    The result has ``frames // factor`` frames, cropped to a multiple of ``patch_size``
    (pass ``patch_size=None`` to keep them all).
    """
    if isinstance(factor, bool) or int(factor) != factor or not 1 <= factor <= 4:
        raise ValueError(f"compress factor must be an integer from 1 to 4, got {factor}")
    factor = int(factor)
    if spec.shape[0] < factor:
        raise ValueError(f"cannot pool {spec.shape[0]} frames by a factor of {factor}")
    pooled = F.avg_pool1d(spec.T.unsqueeze(0), kernel_size=factor, stride=factor)[0].T
    return pooled if patch_size is None else crop_to_patches(pooled, patch_size)
