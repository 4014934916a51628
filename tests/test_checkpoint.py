"""Checkpoints round-trip exactly and refuse to load anything that does not fit."""

import json

import pytest
import torch

import elasticast_lite as el
from conftest import micro_config, random_specs


@pytest.mark.parametrize("kind", ["elastic", "ast"])
def test_round_trip_gives_identical_outputs(tmp_path, kind):
    torch.manual_seed(0)
    model = (el.ElasticAST(micro_config()) if kind == "elastic"
             else el.StandardAST(micro_config(), target_frames=48)).eval()
    el.save_model(model, tmp_path / "ckpt", class_names=list("abcde"))
    loaded = el.load_model(tmp_path / "ckpt")
    assert type(loaded) is type(model) and not loaded.training
    assert json.loads((tmp_path / "ckpt/config.json").read_text())["class_names"] == list("abcde")
    specs = random_specs([3, 1, 5])
    with torch.no_grad():
        assert torch.equal(loaded(specs), model(specs))


def saved(tmp_path):
    el.save_model(el.ElasticAST(micro_config()), tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(el.CheckpointError, match="no config.json"):
        el.load_model(tmp_path)


def test_corrupt_weights(tmp_path):
    path = saved(tmp_path)
    (path / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(el.CheckpointError, match="cannot read"):
        el.load_model(path)


def test_missing_config_key(tmp_path):
    path = saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    del config["model_config"]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(el.CheckpointError, match="lacks \\['model_config'\\]"):
        el.load_model(path)


def test_class_count_mismatch(tmp_path):
    path = saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["model_config"]["num_classes"] = 7
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(el.CheckpointError, match="do not fit its config"):
        el.load_model(path)


def test_broken_json(tmp_path):
    path = saved(tmp_path)
    (path / "config.json").write_text("{not json")
    with pytest.raises(el.CheckpointError, match="not valid JSON"):
        el.load_model(path)
