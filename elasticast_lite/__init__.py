"""elasticast_lite: ElasticAST (Interspeech 2024) in a few small, readable modules.

audio -> features -> packing -> attention -> model: each module teaches one step of the
paper and says which section it implements; data and sampler feed training, datasets builds
the teaching sets, checkpoint saves and loads models.
"""

from .attention import BACKENDS
from .audio import (
    AudioError,
    AudioFileError,
    AudioTooLongError,
    EmptyAudioError,
    NonFiniteAudioError,
    SampleRateError,
    load_audio,
)
from .checkpoint import CheckpointError, load_model, save_model
from .data import AudioDataset, DataError, collate_fixed, collate_packed, read_entries
from .features import RESOLUTIONS, compress, fbank, num_frames
from .model import ElasticAST, ModelConfig, StandardAST, trim_or_pad
from .packing import STRATEGIES, PackedBatch, pack, patchify
from .sampler import TokenBudgetSampler

__all__ = [
    "BACKENDS",
    "RESOLUTIONS",
    "STRATEGIES",
    "AudioDataset",
    "AudioError",
    "AudioFileError",
    "AudioTooLongError",
    "CheckpointError",
    "DataError",
    "ElasticAST",
    "EmptyAudioError",
    "ModelConfig",
    "NonFiniteAudioError",
    "PackedBatch",
    "SampleRateError",
    "StandardAST",
    "TokenBudgetSampler",
    "collate_fixed",
    "collate_packed",
    "compress",
    "fbank",
    "load_audio",
    "load_model",
    "num_frames",
    "pack",
    "patchify",
    "read_entries",
    "save_model",
    "trim_or_pad",
]
