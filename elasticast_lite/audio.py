"""Audio in: any file or array becomes a mono 16 kHz float32 waveform.

ElasticAST (paper, Sec. 3.2) works on 16 kHz audio turned into 128-bin log-mel
spectrograms. Everything upstream of the spectrogram lives here: reading the file,
mixing channels down to mono, turning integer PCM into floats in [-1, 1], and
resampling with a real band-limited resampler (torchaudio's windowed sinc), never by
dropping or repeating samples.

Bad input is refused early with an error that says what is wrong. Every error is an
``AudioError``, itself a ``ValueError``, so callers can catch one name:

- ``AudioFileError``: the file is missing or cannot be decoded;
- ``EmptyAudioError``: there are no samples;
- ``NonFiniteAudioError``: NaN or Inf samples;
- ``AudioTooLongError``: longer than ``max_seconds`` (an absurd-input guard, not a crop:
  data sets and the app crop to a working length of their own);
- ``SampleRateError``: a sample rate that is missing, not a positive whole number, or
  outside what real audio uses.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

TARGET_SR = 16_000
MAX_SECONDS = 600.0  # ten minutes: anything longer is refused, not processed
MIN_SR, MAX_SR = 1_000, 768_000


class AudioError(ValueError):
    """Base class of every audio input error."""


class AudioFileError(AudioError):
    """The file is missing or cannot be decoded."""


class EmptyAudioError(AudioError):
    """The audio holds no samples."""


class NonFiniteAudioError(AudioError):
    """The audio holds NaN or Inf samples."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured cap."""


class SampleRateError(AudioError):
    """The sample rate is missing or not a usable value."""


def check_sample_rate(sr, what: str = "sample rate") -> int:
    """Return ``sr`` as an int, or raise ``SampleRateError`` saying why it is unusable."""
    if sr is None:
        raise SampleRateError(f"{what} is required (got None)")
    if isinstance(sr, bool) or not isinstance(sr, (int, float, np.integer, np.floating)):
        raise SampleRateError(f"{what} must be a number, got {type(sr).__name__}")
    if not np.isfinite(sr) or sr != int(sr):
        raise SampleRateError(f"{what} must be a whole number of Hz, got {sr}")
    if not MIN_SR <= int(sr) <= MAX_SR:
        raise SampleRateError(f"{what} {int(sr)} Hz is outside {MIN_SR}..{MAX_SR} Hz")
    return int(sr)


def _int_pcm_to_float(x: np.ndarray) -> np.ndarray:
    """Map integer PCM to [-1, 1): signed types by their range, 8-bit unsigned around 128."""
    if x.dtype == np.uint8:
        return (x.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(x.dtype, np.signedinteger):
        return x.astype(np.float32) / float(-np.iinfo(x.dtype).min)
    if np.issubdtype(x.dtype, np.unsignedinteger):
        half = float(np.iinfo(x.dtype).max // 2 + 1)
        return (x.astype(np.float64) - half).astype(np.float32) / half
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
        raise AudioError(f"audio samples must be numbers, got dtype {x.dtype}")
    return x.astype(np.float32)


def _to_mono(x: np.ndarray) -> np.ndarray:
    """Mix down to one channel. 2-D input is (channels, samples) when it is wider than tall,
    else (samples, channels), so both the torch and the soundfile conventions work."""
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise AudioError(f"audio must be 1-D or 2-D (channels x samples), got shape {x.shape}")
    channel_axis = 0 if x.shape[0] < x.shape[1] else 1
    return x.mean(axis=channel_axis)


def _read_file(path: Path, max_seconds: float) -> tuple[np.ndarray, int]:
    if not path.exists():
        raise AudioFileError(f"audio file not found: {path}")
    if not path.is_file():
        raise AudioFileError(f"not a file: {path}")
    try:
        info = sf.info(str(path))
        if info.frames > max_seconds * info.samplerate:
            raise AudioTooLongError(
                f"{path.name} is {info.frames / info.samplerate:.1f} s long; "
                f"the limit is {max_seconds:.0f} s (max_seconds)"
            )
        data, sr = sf.read(str(path), dtype="float32", always_2d=False)
        return data, sr
    except AudioTooLongError:
        raise
    except Exception as sf_error:  # a format libsndfile lacks: try librosa's decoders
        try:
            import librosa

            with warnings.catch_warnings():  # its fallback chatter; failure is reported below
                warnings.simplefilter("ignore")
                data, sr = librosa.load(str(path), sr=None, mono=False, duration=max_seconds + 1)
            return np.asarray(data, dtype=np.float32), int(sr)
        except Exception as lr_error:
            raise AudioFileError(
                f"cannot decode {path.name}: {sf_error}; librosa: {type(lr_error).__name__}: "
                f"{lr_error or 'no decoder for this format'}"
            ) from lr_error


def load_audio(
    source,
    target_sr: int = TARGET_SR,
    sample_rate: int | None = None,
    max_seconds: float = MAX_SECONDS,
) -> tuple[torch.Tensor, int]:
    """Load a file path or an array as a mono float32 tensor at ``target_sr``.

    ``source`` is a path (str or Path), a numpy array or a torch tensor. Arrays carry no
    rate, so ``sample_rate`` is required with them. Returns ``(waveform [samples], target_sr)``.
    """
    target_sr = check_sample_rate(target_sr, "target_sr")
    if isinstance(source, (str, Path)):
        data, sr = _read_file(Path(source), max_seconds)
        name = Path(source).name
    else:
        if isinstance(source, torch.Tensor):
            source = source.detach().cpu().numpy()
        data = np.asarray(source)
        sr = check_sample_rate(sample_rate, "sample_rate (required with an array)")
        name = "array"
    sr = check_sample_rate(sr, f"sample rate of {name}")
    data = np.asarray(data)
    if data.size == 0:
        raise EmptyAudioError(f"{name} holds no audio samples")
    data = _to_mono(_int_pcm_to_float(data))
    if data.size > max_seconds * sr:
        raise AudioTooLongError(
            f"{name} is {data.size / sr:.1f} s long; the limit is {max_seconds:.0f} s (max_seconds)"
        )
    if not np.all(np.isfinite(data)):
        bad = int((~np.isfinite(data)).sum())
        raise NonFiniteAudioError(f"{name} holds {bad} NaN or Inf samples")
    wav = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    if sr != target_sr:
        wav = AF.resample(wav, orig_freq=sr, new_freq=target_sr)
    return wav, target_sr
