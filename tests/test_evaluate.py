"""Evaluation: the AST protocols do what they say, the paired bootstrap is honest, and the
whole sweep runs end to end on real clips; prediction gives each model's top 5."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import elasticast_lite as el
from conftest import micro_config, random_specs
from elasticast_lite.datasets import VOICES
from elasticast_lite.evaluate import ast_logits, evaluate, paired_bootstrap, report

ROOT = Path(__file__).resolve().parents[1]


def test_paired_bootstrap_is_exact_at_the_extremes_and_brackets_the_mean():
    a = np.array([1, 1, 0, 1, 0, 1, 1, 0] * 10, bool)
    assert paired_bootstrap(a, a) == (0.0, 0.0, 0.0)
    assert paired_bootstrap(np.ones(50, bool), np.zeros(50, bool)) == (1.0, 1.0, 1.0)
    b = np.roll(a, 1)
    mean, lo, hi = paired_bootstrap(a, b)
    assert lo < mean < hi and lo < 0 < hi


@pytest.fixture(scope="module")
def ast():
    torch.manual_seed(0)
    return el.StandardAST(micro_config(), target_frames=64).eval()


def test_protocols_on_clips_of_the_training_length_agree(ast):
    spec = random_specs([4], seed=1)[0][:64]
    pad = ast_logits(ast, spec, "pad")
    torch.testing.assert_close(ast_logits(ast, spec, "paper"), pad)
    torch.testing.assert_close(ast_logits(ast, spec, "windows"), pad)


def test_windows_average_the_windows_and_reach_the_end(ast):
    spec = random_specs([10], seed=2)[0][:150]  # windows start at 0, 32, 64 and 86 (the end)
    with torch.no_grad():
        parts = ast([spec[a: a + 64] for a in (0, 32, 64, 86)])
    torch.testing.assert_close(ast_logits(ast, spec, "windows"), parts.mean(0))


def test_paper_protocol_pads_to_the_evaluation_length(ast):
    spec = random_specs([2], seed=3)[0][:32]
    with torch.no_grad():
        padded = torch.cat([spec, torch.zeros(96, 128)])
        torch.testing.assert_close(ast_logits(ast, spec, "paper", length=128),
                                   ast([padded], frames=128)[0])


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    cfg = micro_config(num_classes=len(VOICES))
    el.save_model(el.ElasticAST(cfg), folder / "e", classes=sorted(VOICES))
    el.save_model(el.StandardAST(cfg, target_frames=128), folder / "a", classes=sorted(VOICES))
    return folder


def test_the_sweep_runs_on_the_demo_clips(pair):
    result = evaluate([str(pair / "e"), str(pair / "a")], str(ROOT / "data_samples/voices.json"),
                      caps=(100, 400), resolutions=(1.0, 2.0), factors=(1, 3))
    assert result["clips"] == 6
    assert set(result["accuracy"]) == {"e/native", "a/paper", "a/pad", "a/windows"}
    conditions = {"native", "cap 100", "cap 400", "r 2.0", "pool 3"}
    assert all(set(acc) == conditions for acc in result["accuracy"].values())
    d, lo, hi = result["differences"]["e/native - a/pad"]["cap 100"]
    assert lo <= d <= hi
    table = report(result).splitlines()  # the README's tables, from the same numbers
    row = next(line for line in table if line.startswith("| a/pad |"))
    assert row.split(" | ")[2] == f"{100 * result['accuracy']['a/pad']['cap 100']:.1f}"
    assert f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]" in "\n".join(table)


def test_predict_cli_prints_each_models_top_5(pair):
    clip = ROOT / "data_samples" / "voices_fr_CA_f_June_21s.flac"
    out = subprocess.run([sys.executable, "-m", "elasticast_lite.predict", str(clip), "--model",
                          str(pair / "e"), str(pair / "a"), "--seconds", "5"],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    lines = out.splitlines()
    assert lines[0].endswith(clip.name) and len(lines) == 3
    for line in lines[1:]:
        assert line.count("%") == 5 and any(v in line for v in VOICES)
    assert json.loads((pair / "e" / "config.json").read_text())["classes"] == sorted(VOICES)


@pytest.mark.parametrize("protocol, length", [("pad", None), ("paper", 96)])
def test_batched_predictions_equal_clip_by_clip(ast, protocol, length):
    from elasticast_lite.evaluate import predict

    specs = random_specs([1, 3, 6, 9, 2], seed=5)
    one_by_one = [int(ast_logits(ast, s, protocol, length).argmax()) for s in specs]
    assert predict(ast, specs, protocol, length).tolist() == one_by_one
