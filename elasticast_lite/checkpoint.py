"""Saving and loading models: safetensors weights plus a readable JSON config.

A checkpoint is a folder with ``model.safetensors`` (tensors only: loading it can never
run code, unlike a pickle) and ``config.json`` (which model, its ``ModelConfig``, and any
extra facts the caller adds: feature settings, class names, the training recipe).
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from .model import ElasticAST, ModelConfig, StandardAST

WEIGHTS, CONFIG = "model.safetensors", "config.json"


class CheckpointError(ValueError):
    """A checkpoint folder is missing, incomplete, corrupt or does not fit its config."""


def save_model(model, path, **extra) -> Path:
    """Write ``model`` to the folder ``path``; ``extra`` keys go into config.json."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {"model": type(model).__name__, "model_config": model.cfg.to_dict(), **extra}
    if isinstance(model, StandardAST):
        config["target_frames"] = model.target_frames
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS))
    (path / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return path


def read_config(path) -> dict:
    """The JSON config of a checkpoint folder."""
    file = Path(path) / CONFIG
    if not file.is_file():
        raise CheckpointError(f"no {CONFIG} in {path}: not a checkpoint folder")
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{file} is not valid JSON: {e}") from e


def load_model(path, device="cpu"):
    """Rebuild the ElasticAST or StandardAST saved in ``path``, in eval mode; its class
    names (if saved) are in ``model.classes``."""
    config = read_config(path)
    kinds = {"ElasticAST": ElasticAST, "StandardAST": StandardAST}
    missing = [k for k in ("model", "model_config") if k not in config]
    if missing:
        raise CheckpointError(f"{path}/{CONFIG} lacks {missing}")
    if config["model"] not in kinds:
        raise CheckpointError(f"unknown model {config['model']!r}; expected one of {list(kinds)}")
    try:
        cfg = ModelConfig(**config["model_config"])
    except TypeError as e:
        raise CheckpointError(f"{path}/{CONFIG}: bad model_config: {e}") from e
    args = (cfg, config["target_frames"]) if config["model"] == "StandardAST" else (cfg,)
    model = kinds[config["model"]](*args)
    try:
        state = load_file(str(Path(path) / WEIGHTS))
    except Exception as e:
        raise CheckpointError(f"cannot read {path}/{WEIGHTS}: {e}") from e
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"weights in {path} do not fit its config: {e}") from e
    model.classes = config.get("classes")  # class names, when the trainer saved them
    return model.to(device).eval()
