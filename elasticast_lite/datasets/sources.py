"""Where the teaching data comes from: Debian packages of real, redistributable audio.

The paper's data sets cannot be downloaded here, and nothing may download at run time. Debian
ships real studio speech (the Asterisk telephony prompts) and General MIDI soundfonts. This
module finds a package's files on the system (``/usr/share/...`` when the package is
installed) or in a cache folder, where ``apt-get download`` + ``dpkg-deb -x`` unpack it
without root (``make data-sources`` does that once). Nothing else is fetched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class SourceError(RuntimeError):
    """A source package or tool is missing; the message says what to install."""


def cache_dir() -> Path:
    """``$ELASTICAST_CACHE``, else ``~/.cache/elasticast-lite``."""
    default = Path.home() / ".cache" / "elasticast-lite"
    return Path(os.environ.get("ELASTICAST_CACHE", default))


def package_file(package: str, relpath: str, fetch: bool = True) -> Path:
    """The path of ``relpath`` (e.g. ``usr/share/sounds/sf2/TimGM6mb.sf2``) from ``package``.

    Looks in the installed system first, then in the cache; with ``fetch`` it unpacks the
    package into the cache when neither has it.
    """
    system = Path("/") / relpath
    if system.exists():
        return system
    root = cache_dir() / "debian" / package
    if not (root / ".complete").exists():
        if not fetch:
            raise SourceError(f"{package} is not unpacked in {root}")
        unpack(package, root)
    path = root / relpath
    if not path.exists():
        raise SourceError(f"{package} was unpacked in {root} but has no {relpath}")
    return path


def unpack(package: str, root: Path) -> None:
    """``apt-get download`` the package and ``dpkg-deb -x`` it into ``root``."""
    missing = [tool for tool in ("apt-get", "dpkg-deb") if shutil.which(tool) is None]
    if missing:
        raise SourceError(
            f"the teaching data needs the Debian package {package!r}, and this system has "
            f"no {' or '.join(missing)}. On Debian or Ubuntu run `make data-sources`; "
            f"elsewhere, unpack {package} (from packages.debian.org) into {root} and create "
            f"an empty file {root / '.complete'}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(["apt-get", "download", package], cwd=tmp,
                             capture_output=True, text=True)
        debs = list(Path(tmp).glob("*.deb"))
        if got.returncode or not debs:
            raise SourceError(
                f"`apt-get download {package}` failed ({got.stderr.strip()[-300:]}). "
                "Run `apt-get update` once (as root), then try again"
            )
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    (root / ".complete").touch()


def fluidsynth() -> str:
    """The fluidsynth command-line synthesizer, which renders MIDI with a soundfont."""
    path = shutil.which("fluidsynth")
    if path is None:
        raise SourceError(
            "the instruments set is rendered with the `fluidsynth` command: install it "
            "(Debian/Ubuntu: `apt-get install fluidsynth`, or `make system-deps`)"
        )
    return path


# Every Debian package the teaching data is built from.
PACKAGES = (
    "asterisk-core-sounds-en-wav", "asterisk-core-sounds-es-wav", "asterisk-core-sounds-fr-wav",
    "asterisk-core-sounds-it-wav", "asterisk-core-sounds-ru-wav",
    "asterisk-prompt-it-menardi-wav", "timgm6mb-soundfont", "fluid-soundfont-gm",
    "pocketsphinx-testdata", "sonic-pi-samples",
)


def fetch_all() -> None:
    """Unpack every source package into the cache (``make data-sources``)."""
    for package in PACKAGES:
        root = cache_dir() / "debian" / package
        if not (root / ".complete").exists():
            unpack(package, root)
            print(f"unpacked {package} into {root}")
