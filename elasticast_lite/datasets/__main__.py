"""``python -m elasticast_lite.datasets``: build the teaching sets and check their difficulty.

    build voices      --out DIR [--clips 3000] [--seed 0]
    build instruments --out DIR [--clips 2000] [--seed 0] [--fixed-seconds 10]
    build samples     --out data_samples
    probe DIR         linear-probe accuracy by clip length and by crop
"""

from __future__ import annotations

import argparse
import sys
import time

from . import build_instruments, build_samples, build_voices, format_probe, probe
from .sources import SourceError


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m elasticast_lite.datasets",
                                 description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a teaching set")
    b.add_argument("set", choices=["voices", "instruments", "samples"])
    b.add_argument("--out", required=True)
    b.add_argument("--clips", type=int, help="default: voices 3000, instruments 2000")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--fixed-seconds", type=float, default=None,
                   help="every clip this long (the fixed 10 s instruments variant)")
    p = sub.add_parser("probe", help="linear-probe difficulty check of a built set")
    p.add_argument("folder")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        if args.command == "probe":
            print(format_probe(probe(args.folder)))
            return
        if args.set == "samples":
            rows = build_samples(args.out, seed=args.seed)
            print(f"{len(rows)} demo clips in {args.out}")
        else:
            build = build_voices if args.set == "voices" else build_instruments
            clips = args.clips or (3000 if args.set == "voices" else 2000)
            entries = build(args.out, clips=clips, seed=args.seed,
                            fixed_seconds=args.fixed_seconds)
            counts = ", ".join(f"{k} {len(v)}" for k, v in entries.items())
            print(f"{args.set}: {counts} clips in {args.out}")
    except SourceError as e:
        sys.exit(f"error: {e}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
