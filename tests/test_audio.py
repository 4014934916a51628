"""load_audio on real files written here: formats, channels, bit depths, rates, bad input."""

import math

import numpy as np
import pytest
import soundfile as sf
import torch

import elasticast_lite as el


def tone(freq, seconds, sr, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * math.pi * freq * t)).astype(np.float32)


def peak_hz(wav, sr):
    spectrum = np.abs(np.fft.rfft(wav.numpy()))
    return np.argmax(spectrum) * sr / len(wav)


def test_int16_wav_becomes_float_in_range(tmp_path):
    x = tone(440, 1.0, 16000)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="PCM_16")
    wav, sr = el.load_audio(tmp_path / "a.wav")
    assert sr == 16000 and wav.dtype == torch.float32
    np.testing.assert_allclose(wav.numpy(), x, atol=1 / 32768)


def test_stereo_flac_at_44k1_is_mixed_down_and_resampled(tmp_path):
    left, right = tone(440, 2.0, 44100, 0.4), tone(440, 2.0, 44100, 0.2)
    sf.write(tmp_path / "s.flac", np.stack([left, right], 1), 44100)
    wav, sr = el.load_audio(str(tmp_path / "s.flac"))
    assert sr == 16000
    assert abs(len(wav) - 32000) <= 1
    assert abs(peak_hz(wav, 16000) - 440) < 1.0  # a real resampler keeps the pitch
    mid = wav[8000:24000]
    assert abs(mid.abs().max().item() - 0.3) < 0.01  # the mean of the two channels


def test_8bit_unsigned_wav(tmp_path):
    x = tone(300, 0.5, 8000, 0.8)
    sf.write(tmp_path / "u8.wav", x, 8000, subtype="PCM_U8")
    wav, sr = el.load_audio(tmp_path / "u8.wav", target_sr=8000)
    np.testing.assert_allclose(wav.numpy(), x, atol=1 / 64)


def test_int_arrays_scale_by_their_type():
    x = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    wav, _ = el.load_audio(np.tile(x, 100), target_sr=16000, sample_rate=16000)
    np.testing.assert_allclose(wav[:4].numpy(), [0, 0.5, -1, 32767 / 32768])
    u8 = np.tile(np.array([128, 255, 0], dtype=np.uint8), 100)
    wav, _ = el.load_audio(u8, sample_rate=16000)
    np.testing.assert_allclose(wav[:3].numpy(), [0, 127 / 128, -1])


def test_channels_first_tensor_is_mixed_down():
    x = torch.stack([torch.ones(1000), -torch.ones(1000) * 0.5])  # [channels, samples]
    wav, _ = el.load_audio(x, sample_rate=16000)
    assert wav.shape == (1000,) and torch.allclose(wav, torch.full((1000,), 0.25))


def test_missing_file(tmp_path):
    with pytest.raises(el.AudioFileError, match="not found"):
        el.load_audio(tmp_path / "nope.wav")


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".m4a"])
def test_corrupt_file(tmp_path, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(el.AudioFileError, match="cannot decode bad"):
        el.load_audio(path)


def test_truncated_wav(tmp_path):
    sf.write(tmp_path / "full.wav", tone(440, 1.0, 16000), 16000)
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:30])  # cut inside the header
    with pytest.raises(el.AudioFileError, match="cannot decode cut.wav"):
        el.load_audio(tmp_path / "cut.wav")


def test_empty_file_and_array(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(el.EmptyAudioError, match="no audio samples"):
        el.load_audio(tmp_path / "empty.wav")
    sf.write(tmp_path / "empty_stereo.wav", np.zeros((0, 2), np.float32), 16000)
    with pytest.raises(el.EmptyAudioError, match="no audio samples"):
        el.load_audio(tmp_path / "empty_stereo.wav")
    with pytest.raises(el.EmptyAudioError):
        el.load_audio(np.zeros(0), sample_rate=16000)


def test_nan_and_inf(tmp_path):
    x = tone(440, 0.5, 16000)
    x[100], x[200] = np.nan, np.inf
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(el.NonFiniteAudioError, match="2 NaN or Inf"):
        el.load_audio(tmp_path / "nan.wav")
    with pytest.raises(el.NonFiniteAudioError):
        el.load_audio(x, sample_rate=16000)


def test_too_long_is_refused(tmp_path):
    sf.write(tmp_path / "long.wav", tone(440, 3.0, 8000), 8000)
    with pytest.raises(el.AudioTooLongError, match="3.0 s long; the limit is 2 s"):
        el.load_audio(tmp_path / "long.wav", max_seconds=2)
    ten_minutes_and_a_bit = np.zeros(601 * 1000, np.float32)
    with pytest.raises(el.AudioTooLongError, match="limit is 600 s"):
        el.load_audio(ten_minutes_and_a_bit, sample_rate=1000)


@pytest.mark.parametrize(
    "rate, message",
    [(None, "required"), (0, "outside"), (-16000, "outside"), (44100.5, "whole number"),
     (10**7, "outside"), ("16k", "must be a number"), (float("nan"), "whole number")],
)
def test_bad_sample_rates(rate, message):
    with pytest.raises(el.SampleRateError, match=message):
        el.load_audio(np.zeros(16000, np.float32), sample_rate=rate)


def test_a_file_with_an_unusable_rate(tmp_path):
    sf.write(tmp_path / "slow.wav", np.zeros(800, np.float32), 800)  # 800 Hz: below 1 kHz
    with pytest.raises(el.SampleRateError, match="sample rate of slow.wav 800 Hz is outside"):
        el.load_audio(tmp_path / "slow.wav")


def test_bad_target_rate():
    with pytest.raises(el.SampleRateError, match="target_sr"):
        el.load_audio(np.zeros(100), sample_rate=16000, target_sr=0)


def test_every_audio_error_is_a_value_error():
    for cls in (el.AudioFileError, el.EmptyAudioError, el.NonFiniteAudioError,
                el.AudioTooLongError, el.SampleRateError):
        assert issubclass(cls, el.AudioError) and issubclass(cls, ValueError)
