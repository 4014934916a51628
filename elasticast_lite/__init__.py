"""elasticast_lite: ElasticAST (Interspeech 2024) in a few small, readable modules.

audio -> features -> packing -> attention -> model: each module teaches one step of the
paper and says which section it implements.
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
from .features import RESOLUTIONS, compress, fbank
from .model import ElasticAST, ModelConfig, StandardAST, trim_or_pad
from .packing import STRATEGIES, PackedBatch, pack, patchify

__all__ = [
    "BACKENDS",
    "RESOLUTIONS",
    "STRATEGIES",
    "AudioError",
    "AudioFileError",
    "AudioTooLongError",
    "CheckpointError",
    "ElasticAST",
    "EmptyAudioError",
    "ModelConfig",
    "NonFiniteAudioError",
    "PackedBatch",
    "SampleRateError",
    "StandardAST",
    "compress",
    "fbank",
    "load_audio",
    "load_model",
    "pack",
    "patchify",
    "save_model",
    "trim_or_pad",
]
