"""The demo clips in ``data_samples/``: one per class of each teaching set, a few long ones,
and a few out-of-domain sounds, with a table of where each came from.

The app and the notebooks use these; ``python -m elasticast_lite.datasets build samples``
makes them again, byte for byte, from the same Debian packages.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import load_audio
from .instruments import SOUNDFONTS, plan_clip, render_clips
from .sources import package_file
from .voices import VOICES, load_voices, voice_clip

VOICE_SECONDS = {"en_US_f_Allison": 26.0, "fr_CA_f_June": 21.0, "es_MX_f_Allison": 6.0,
                 "it_IT_m_Carlo": 5.0, "ru_RU_f_IvrvoiceRU": 7.0, "it_IT_f_Menardi": 4.5}
INSTRUMENT_SECONDS = {"piano": 24.0, "vibraphone": 5.0, "organ": 6.0, "nylon_guitar": 5.0,
                      "violin": 6.0, "cello": 5.0, "trumpet": 4.0, "alto_sax": 6.0,
                      "clarinet": 5.0, "flute": 10.0}
# file: (Debian package, path inside it, description, license, attribution)
OUT_OF_DOMAIN = {
    "ood_read_speech.flac": (
        "pocketsphinx-testdata",
        "usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "LibriVox read speech (Sense and Sensibility), a voice of neither set",
        "public domain (LibriVox); BSD-2 (CMU pocketsphinx test data)", "LibriVox; CMU"),
    "ood_haunted_hum.flac": (
        "sonic-pi-samples", "usr/share/sonic-pi/samples/ambi_haunted_hum.flac",
        "an ambient hum, no instrument of the set", "CC0", "kaligari (freesound.org 35392)"),
    "ood_drum_roll.flac": (
        "sonic-pi-samples", "usr/share/sonic-pi/samples/drum_roll.flac",
        "a snare drum roll, no instrument of the set", "CC0", "Heigh-hoo (freesound.org 19433)"),
}


def write_flac(path: Path, audio) -> float:
    sf.write(str(path), np.asarray(audio, dtype=np.float32), 16000, subtype="PCM_16",
             format="FLAC")
    return round(len(audio) / 16000, 2)


def build_samples(out, seed: int = 0) -> list[dict]:
    """Write the demo clips, ``voices.json``/``instruments.json`` manifests and README.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, manifests = [], {"voices": [], "instruments": []}
    prompts, splits = load_voices(seed)
    for k, (voice, seconds) in enumerate(VOICE_SECONDS.items()):
        rng = np.random.default_rng([seed, 99, k])
        audio, entry = voice_clip(prompts, splits, voice, "test", seconds, rng, background=1.0)
        name = f"voices_{voice}_{int(seconds)}s.flac"
        secs = write_flac(out / name, audio)
        voices = [voice] + ([entry["background"]] if "background" in entry else [])
        rows.append({"file": name, "set": "voices", "label": voice, "seconds": secs,
                     "sources": ", ".join(VOICES[v][0] for v in voices),
                     "license": " + ".join(VOICES[v][1] for v in voices),
                     "attribution": "; ".join(VOICES[v][2] for v in voices),
                     "note": f"test-split prompts of {voice}, a quieter {entry.get('background')}"})
        manifests["voices"].append({"wav": name, "labels": voice})
    plans = [plan_clip(np.random.default_rng([seed, 98, k]), inst, seconds, background=1.0)
             for k, (inst, seconds) in enumerate(INSTRUMENT_SECONDS.items())]
    for plan, audio in zip(plans, render_clips(plans)):
        name = f"instruments_{plan['labels']}_{int(plan['seconds'])}s.flac"
        secs = write_flac(out / name, audio)
        package, _, license_, credit = SOUNDFONTS[plan["soundfont"]]
        rows.append({"file": name, "set": "instruments", "label": plan["labels"],
                     "seconds": secs, "sources": package, "license": license_,
                     "attribution": credit,
                     "note": f"{plan['soundfont']}, a quieter {plan['background']}"})
        manifests["instruments"].append({"wav": name, "labels": plan["labels"]})
    for name, (package, rel, what, license_, credit) in OUT_OF_DOMAIN.items():
        wav, _ = load_audio(package_file(package, rel), target_sr=16000)
        secs = write_flac(out / name, wav.numpy())
        rows.append({"file": name, "set": "out of domain", "label": "-", "seconds": secs,
                     "sources": package, "license": license_, "attribution": credit,
                     "note": what})
    for set_name, items in manifests.items():
        (out / f"{set_name}.json").write_text(json.dumps({"data": items}, indent=1) + "\n")
    (out / "README.md").write_text(samples_readme(rows))
    return rows


def samples_readme(rows: list[dict]) -> str:
    lines = [
        "# data_samples",
        "",
        "Demo clips for the app and the notebooks, 16 kHz mono FLAC, made by",
        "`python -m elasticast_lite.datasets build samples --out data_samples` from Debian",
        "packages (see the top-level README). Voices and instruments clips are composed the way",
        "the teaching sets are (a quieter second source, noise, a random channel), from",
        "prompts of the voices' *test* split; `voices.json` and `instruments.json` are their",
        "AST-style manifests. Each clip carries the licenses of all its sources.",
        "",
        "| file | set | label | seconds | source package(s) | license | attribution | what |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['file']} | {r['set']} | {r['label']} | {r['seconds']} | "
                     f"{r['sources']} | {r['license']} | {r['attribution']} | {r['note']} |")
    return "\n".join(lines) + "\n"
