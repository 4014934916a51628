"""The voices set: who is speaking, from clips of 1 to 30 s (a VoxCeleb-like task).

Six studio voices from Debian's Asterisk prompt packages (8 kHz telephone prompts, 0.2 to
86 s each, about 25 minutes per voice). A clip joins random prompts of one voice with short
pauses and is cut to a long-tailed length (lognormal, median 4 s, 1 to 30 s: VoxCeleb's shape,
with the paper's 30 s cap). Most clips carry a quieter talker of another class underneath,
plus noise and a spectral tilt, so one frame rarely gives the answer away and longer clips
carry more evidence. The prompt files of each voice are split into train / validation / test
*before* any clip is composed: no recording is heard in two splits.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from .mixing import SPLITS, SR, degrade, long_tail_seconds, split_counts, write_manifests, write_wav
from .sources import package_file

SOUNDS = "usr/share/asterisk/sounds"
# class name: (Debian package, license, attribution)
VOICES = {
    "en_US_f_Allison": ("asterisk-core-sounds-en-wav", "CC-BY-SA-3.0",
                        "Allison Smith (theivrvoice.com); Digium, Inc."),
    "es_MX_f_Allison": ("asterisk-core-sounds-es-wav", "CC-BY-SA-3.0",
                        "Allison Smith (theivrvoice.com); Digium, Inc."),
    "fr_CA_f_June": ("asterisk-core-sounds-fr-wav", "CC-BY-SA-3.0",
                     "June Wallack (junewallack.com); Digium, Inc."),
    "it_IT_m_Carlo": ("asterisk-core-sounds-it-wav", "CC-BY-3.0",
                      "Asterisk core sounds (it, Carlo); Digium, Inc."),
    "ru_RU_f_IvrvoiceRU": ("asterisk-core-sounds-ru-wav", "CC-BY-3.0",
                           "Asterisk core sounds (ru, Maxim); Digium, Inc."),
    "it_IT_f_Menardi": ("asterisk-prompt-it-menardi-wav", "CC-BY-SA-3.0-IT",
                        "Marco Menardi and Paola Dal Zot, http://www.voip.ammdomus.it"),
}
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)  # of each voice's prompt files
# Fixed with the linear probe (probe.py), never by comparing models: see the README.
DIFFICULTY = {"other_db": (-6, -1), "snr_db": (-3, 12), "eq_db": 10.0}


def voice_folder(voice: str) -> Path:
    return package_file(VOICES[voice][0], f"{SOUNDS}/{voice}")


@functools.lru_cache(maxsize=len(VOICES))
def load_prompts(voice: str, min_seconds: float = 0.3) -> dict[str, np.ndarray]:
    """Every prompt of a voice (not the silence files), resampled to 16 kHz, by relative name.
    Kept in memory after the first call (read-only: callers never change the arrays)."""
    folder = voice_folder(voice)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny resamplings: threads only get in the way
    try:
        prompts = {}
        for path in sorted(folder.rglob("*.wav")):
            name = path.relative_to(folder).as_posix()
            x, sr = sf.read(str(path), dtype="float32")
            x = x.mean(1) if x.ndim > 1 else x
            if not name.startswith("silence/") and len(x) >= min_seconds * sr:
                prompts[name] = x if sr == SR else AF.resample(torch.from_numpy(x), sr, SR).numpy()
        return prompts
    finally:
        torch.set_num_threads(threads)


def split_prompts(names: list[str], seed: int) -> dict[str, list[str]]:
    """Train / validation / test prompt names of one voice, fixed before composing."""
    order = np.random.default_rng([seed, 7]).permutation(len(names))
    cut1 = round(len(names) * SPLIT_FRACTIONS[0])
    cut2 = cut1 + round(len(names) * SPLIT_FRACTIONS[1])
    chosen = [sorted(names[i] for i in part) for part in np.split(order, [cut1, cut2])]
    return dict(zip(SPLITS, chosen))


def compose(prompts: dict[str, np.ndarray], names: list[str], seconds: float, rng):
    """Random prompts of one voice with 0.15-0.6 s pauses, cut to ``seconds``."""
    n = int(seconds * SR)
    pieces, used, total = [], [], 0
    while total < n:
        name = names[rng.integers(len(names))]
        pause = np.zeros(int(rng.uniform(0.15, 0.6) * SR), np.float32)
        pieces += [prompts[name], pause]
        used.append(name)
        total += len(prompts[name]) + len(pause)
    return np.concatenate(pieces)[:n], used


def voice_clip(prompts: dict, splits: dict, voice: str, split: str, seconds: float, rng,
               background: float) -> tuple[np.ndarray, dict]:
    """One clip of ``voice`` from ``split``'s prompts, usually over a quieter other voice."""
    classes = sorted(VOICES)
    main, used = compose(prompts[voice], splits[voice][split], seconds, rng)
    entry = {"labels": voice, "seconds": round(len(main) / SR, 3),
             "prompts": [f"{voice}/{u}" for u in used]}
    other = None
    if rng.random() < background:
        second = classes[(classes.index(voice) + rng.integers(1, len(classes))) % len(classes)]
        other, used2 = compose(prompts[second], splits[second][split], seconds, rng)
        entry["background"] = second
        entry["prompts"] += [f"{second}/{u}" for u in used2]
    return degrade(main, rng, other, **DIFFICULTY), entry


def load_voices(seed: int) -> tuple[dict, dict]:
    """Every voice's prompts and their train / validation / test split."""
    prompts = {v: load_prompts(v) for v in sorted(VOICES)}
    return prompts, {v: split_prompts(sorted(prompts[v]), seed) for v in sorted(VOICES)}


def build_voices(out, clips: int = 3000, seed: int = 0, median_seconds: float = 4.0,
                 fixed_seconds: float | None = None, background: float = 0.8) -> dict:
    """Write the voices set to ``out``: 16 kHz WAVs, split manifests, class CSV.

    ``background``: share of clips with a second, quieter talker of another class.
    Returns the manifests' entries by split.
    """
    out = Path(out)
    classes = sorted(VOICES)
    prompts, splits = load_voices(seed)
    entries = {}
    for s, (split, count) in enumerate(split_counts(clips).items()):
        entries[split] = []
        for i in range(count):
            rng = np.random.default_rng([seed, s, i])
            voice = classes[(i + s) % len(classes)]  # balanced classes
            seconds = fixed_seconds or long_tail_seconds(rng, median=median_seconds)
            audio, entry = voice_clip(prompts, splits, voice, split, seconds, rng, background)
            entry["wav"] = f"{split}/{split}_{i:05d}.wav"
            write_wav(out / entry["wav"], audio)
            entries[split].append(entry)
    write_manifests(out, entries, classes)
    return entries
