"""Teaching data built offline from Debian packages (the paper's data sets cannot be had here).

- ``voices``: six studio voices, clips of 1 to 30 s (VoxCeleb-like, Sec. 3.3);
- ``instruments``: ten General MIDI instruments, variable-length or fixed 10 s clips
  (AudioSet/VGGSound-like, Sec. 3.4);
- ``samples``: the demo clips of ``data_samples/``;
- ``probe``: the linear-probe difficulty check the sets were tuned with.

Command line: ``python -m elasticast_lite.datasets build voices|instruments|samples --out DIR``.
"""

from .instruments import INSTRUMENTS, SOUNDFONTS, build_instruments
from .probe import format_probe, probe
from .samples import build_samples
from .sources import SourceError
from .voices import VOICES, build_voices

__all__ = ["INSTRUMENTS", "SOUNDFONTS", "VOICES", "SourceError", "build_instruments",
           "build_samples", "build_voices", "format_probe", "probe"]
