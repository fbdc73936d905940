"""Soak subcommand: `avatar-wardrobe soak --minutes N --json [--garments tshirt_M,skirt_M]`."""
from __future__ import annotations

import json


def _soak(args):
    from .soak import DEFAULT_GARMENTS, run

    garments = tuple(g.strip() for g in (args.garments or ",".join(DEFAULT_GARMENTS)).split(",") if g.strip())
    result = run(args.minutes, garments, avatar=args.avatar, seed=args.seed)
    table = result.pop("table")
    print(json.dumps(result) if args.json else f"{table}\n{json.dumps(result)}")
    return 0 if all(ok for _, ok in result["targets"].values()) else 1


def register(subparsers, bench_subparsers) -> None:
    s = subparsers.add_parser("soak", help="the full wardrobe with cloth under random motion for N minutes: "
                                           "resets, explosions, worst penetration, memory over time")
    s.add_argument("--minutes", type=float, default=10.0, help="wall-clock minutes to run (default 10)")
    s.add_argument("--garments", default=None, help="shipped garments worn together, comma-separated "
                                                    "(default tshirt_M,skirt_M)")
    s.add_argument("--avatar", default=None, help="avatar .glb (default: the scene's default avatar)")
    s.add_argument("--seed", type=int, default=7, help="random motion seed")
    s.add_argument("--json", action="store_true", help="print only the JSON line")
    s.set_defaults(handler=_soak)
