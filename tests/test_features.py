"""fbank is torchaudio's Kaldi fbank with AST's settings; resolution and pooling shrink time."""

import pytest
import torch
import torchaudio.compliance.kaldi as kaldi

import elasticast_lite as el
from elasticast_lite.features import AUDIOSET_MEAN, AUDIOSET_STD


def wav(seconds, seed=0):
    return torch.randn(int(seconds * 16000), generator=torch.Generator().manual_seed(seed)) * 0.1


def test_fbank_matches_a_direct_torchaudio_call():
    x = wav(3.3) + 0.05  # a DC offset: the mean must be removed first
    ref = kaldi.fbank((x - x.mean())[None], htk_compat=True, sample_frequency=16000,
                      use_energy=False, window_type="hanning", num_mel_bins=128, dither=0.0,
                      frame_length=25.0, frame_shift=10.0)
    ref = (ref - AUDIOSET_MEAN) / (2 * AUDIOSET_STD)
    ref = ref[: ref.shape[0] // 16 * 16]
    assert torch.equal(el.fbank(x, sample_rate=16000), ref)


@pytest.mark.parametrize("r", [1.0, 1.2, 1.6, 2.0, 2.8, 3.0, 4.0])
def test_resolution_r_gives_about_one_rth_of_the_frames(r):
    frames = el.fbank(wav(10.0), resolution=r).shape[0]
    assert frames % 16 == 0
    expected = 1 + (160000 - 400) // int(16000 * 10 * r * 0.001)
    assert expected - 16 < frames <= expected
    assert abs(frames - 1000 / r) <= 16 + 1


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_compress_gives_one_factorth_and_averages(factor):
    spec = el.fbank(wav(10.0))
    out = el.compress(spec, factor)
    assert out.shape == ((spec.shape[0] // factor) // 16 * 16, 128)
    torch.testing.assert_close(out[0], spec[:factor].mean(0))
    assert el.compress(spec, factor, patch_size=None).shape[0] == spec.shape[0] // factor


@pytest.mark.parametrize("factor", [0, 5, 1.5, True])
def test_compress_refuses_bad_factors(factor):
    with pytest.raises(ValueError, match="integer from 1 to 4"):
        el.compress(torch.zeros(64, 128), factor)


@pytest.mark.parametrize("r", [1.0, 2.2, 4.0])
def test_shortest_audio_gives_exactly_one_patch_and_shorter_is_refused(r):
    shift = int(16000 * 10 * r * 0.001)
    need = 400 + 15 * shift
    assert el.fbank(wav(need / 16000), resolution=r).shape == (16, 128)
    with pytest.raises(ValueError, match="too short for one 16-frame patch"):
        el.fbank(wav((need - 1) / 16000), resolution=r)


def test_normalisation_uses_fixed_constants_not_clip_statistics():
    x = wav(6.0)
    whole = el.fbank(x)
    first_half = el.fbank(x[: 3 * 16000])
    torch.testing.assert_close(first_half, whole[: first_half.shape[0]], atol=1e-3, rtol=0)


def test_fbank_refuses_bad_shapes_and_resolutions():
    with pytest.raises(ValueError, match="mono waveform"):
        el.fbank(torch.zeros(2, 16000))
    with pytest.raises(ValueError, match="resolution must be positive"):
        el.fbank(wav(1.0), resolution=0)
