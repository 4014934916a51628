"""The instruments set: which General MIDI instrument plays, at any length or resolution.

Ten instruments, random melodies (random key, scale, tempo, register and rhythm) rendered
with two real soundfonts from Debian (TimGM6mb and FluidR3) by the ``fluidsynth`` command.
Most clips carry a quieter second instrument, noise and a spectral tilt. Two variants: clips
of variable length (long-tailed, 1 to 30 s) and fixed 10 s clips, the AudioSet/VGGSound-like
setting of the paper's resolution experiments (Sec. 3.4).

Rendering one process per clip would be slow, so every (soundfont, instrument) pair gets one
long MIDI file holding all of its parts back to back with silent gaps; fluidsynth renders it
once, hundreds of times faster than real time, and the parts are sliced out by their times.
"""

from __future__ import annotations

import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from .mixing import SPLITS, SR, degrade, long_tail_seconds, split_counts, write_manifests, write_wav
from .sources import fluidsynth, package_file

# name: (General MIDI program, lowest note, highest note)
INSTRUMENTS = {
    "piano": (0, 45, 84), "vibraphone": (11, 53, 89), "organ": (19, 36, 84),
    "nylon_guitar": (24, 40, 76), "violin": (40, 55, 91), "cello": (42, 36, 69),
    "trumpet": (56, 55, 82), "alto_sax": (65, 49, 80), "clarinet": (71, 50, 86),
    "flute": (73, 60, 96),
}
# name: (Debian package, file, license, attribution)
SOUNDFONTS = {
    "TimGM6mb": ("timgm6mb-soundfont", "usr/share/sounds/sf2/TimGM6mb.sf2", "GPL-2",
                 "Tim Brechbill (timbrechbill.com)"),
    "FluidR3_GM": ("fluid-soundfont-gm", "usr/share/sounds/sf2/FluidR3_GM.sf2", "MIT",
                   "Frank Wen, Toby Smithe"),
}
SCALES = {"major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10],
          "pentatonic": [0, 2, 4, 7, 9]}
GAP = 2.0  # seconds of silence between parts, for release tails
# Fixed with the linear probe (probe.py), never by comparing models: see the README.
DIFFICULTY = {"other_db": (-12, -4), "snr_db": (5, 25), "eq_db": 6.0}


def melody(seconds: float, low: int, high: int, rng) -> list[tuple[float, float, int, int]]:
    """Random notes (start s, duration s, pitch, velocity) filling ``seconds``."""
    scale = SCALES[list(SCALES)[rng.integers(len(SCALES))]]
    root = int(rng.integers(12))
    beat = 60.0 / rng.uniform(70, 160)
    centre = int(rng.integers(low + 6, high - 6))
    pitches = [p for p in range(low, high + 1) if (p - root) % 12 in scale]
    k = int(np.argmin([abs(p - centre) for p in pitches]))
    notes, t = [], 0.0
    while t < seconds:
        length = beat * float(rng.choice([0.5, 0.5, 1, 1, 1, 1.5, 2]))
        if not notes or rng.random() > 0.12:  # otherwise a rest (never at the start)
            k = int(np.clip(k + rng.choice([-3, -2, -1, -1, 1, 1, 2, 3, 0]), 0, len(pitches) - 1))
            velocity = int(rng.integers(60, 115))
            notes.append((t, min(length * 0.95, seconds - t), pitches[k], velocity))
        t += length
    return notes


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def midi_file(notes, program: int, ticks_per_second: int = 960) -> bytes:
    """A Standard MIDI File (format 0, 120 bpm, 480 ticks per beat) playing ``notes``."""
    events = []
    for start, dur, pitch, vel in notes:
        events.append((round(start * ticks_per_second), 1, bytes([0x90, pitch, vel])))
        events.append((round((start + dur) * ticks_per_second), 0, bytes([0x80, pitch, 0])))
    track, now = bytearray(), 0
    track += _vlq(0) + bytes([0xFF, 0x51, 3]) + (500_000).to_bytes(3, "big")  # tempo
    track += _vlq(0) + bytes([0xC0, program])
    for tick, _, msg in sorted(events):
        track += _vlq(tick - now) + msg
        now = tick
    track += _vlq(ticks_per_second) + bytes([0xFF, 0x2F, 0])
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += (ticks_per_second // 2).to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def render(parts: list[tuple[float, list]], program: int, soundfont: Path) -> list[np.ndarray]:
    """Render parts (seconds, notes) of one instrument in one fluidsynth run; slice them out."""
    starts, t, notes = [], 0.0, []
    for seconds, part in parts:
        starts.append(t)
        notes += [(t + a, d, p, v) for a, d, p, v in part]
        t += seconds + GAP
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "parts.mid", Path(tmp) / "parts.wav"
        mid.write_bytes(midi_file(notes, program))
        subprocess.run([fluidsynth(), "-ni", "-q", "-g", "0.5", "-r", str(SR), "-O", "s16",
                        "-T", "wav", "-F", str(wav), str(soundfont), str(mid)],
                       check=True, capture_output=True)
        audio, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    audio = audio.mean(1)
    audio = np.pad(audio, (0, max(0, int((t + 1) * SR) - len(audio))))
    return [audio[int(a * SR): int(a * SR) + int(s * SR)] for a, (s, _) in zip(starts, parts)]


def plan_clip(rng, inst: str, seconds: float, background: float) -> dict:
    """Choose the second instrument (or none) and the soundfont of one clip."""
    classes = list(INSTRUMENTS)
    second = None
    if rng.random() < background:
        second = classes[(classes.index(inst) + rng.integers(1, len(classes))) % len(classes)]
    font = sorted(SOUNDFONTS)[rng.integers(len(SOUNDFONTS))]
    return {"rng": rng, "labels": inst, "background": second, "soundfont": font,
            "seconds": round(seconds, 3)}


def render_clips(plans: list[dict]) -> list[np.ndarray]:
    """Melodies for every planned clip, rendered per (soundfont, instrument), then mixed."""
    groups: dict[tuple, list] = {}  # (font, instrument) -> [(plan index, role, notes)]
    for k, plan in enumerate(plans):
        for role in ("labels", "background"):
            if (name := plan[role]) is not None:
                lo, hi = INSTRUMENTS[name][1:]
                notes = melody(plan["seconds"], lo, hi, plan["rng"])
                groups.setdefault((plan["soundfont"], name), []).append((k, role, notes))

    def render_group(key):
        font, name = key
        sf2 = package_file(*SOUNDFONTS[font][:2])
        parts = [(plans[k]["seconds"], notes) for k, _, notes in groups[key]]
        return key, render(parts, INSTRUMENTS[name][0], sf2)

    audio: dict[tuple, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # fluidsynth runs as its own process
        for key, pieces in pool.map(render_group, sorted(groups)):
            for (k, role, _), piece in zip(groups[key], pieces):
                audio[k, role] = piece
    return [degrade(audio[k, "labels"], plan["rng"], audio.get((k, "background")), **DIFFICULTY)
            for k, plan in enumerate(plans)]


def build_instruments(out, clips: int = 2000, seed: int = 0, fixed_seconds: float | None = None,
                      median_seconds: float = 4.0, background: float = 0.7) -> dict:
    """Write the instruments set (variable length, or ``fixed_seconds`` long) to ``out``."""
    out = Path(out)
    classes = list(INSTRUMENTS)
    plans, where = [], []
    for s, (split, count) in enumerate(split_counts(clips).items()):
        for i in range(count):
            rng = np.random.default_rng([seed, s, i])
            seconds = fixed_seconds or long_tail_seconds(rng, median=median_seconds)
            plans.append(plan_clip(rng, classes[(i + s) % len(classes)], seconds, background))
            where.append((split, i))
    entries = {split: [] for split in SPLITS}
    for (split, i), plan, audio in zip(where, plans, render_clips(plans)):
        entry = {k: v for k, v in plan.items() if k != "rng" and v is not None}
        entry["wav"] = f"{split}/{split}_{i:05d}.wav"
        write_wav(out / entry["wav"], audio)
        entries[split].append(entry)
    write_manifests(out, entries, classes)
    return entries
