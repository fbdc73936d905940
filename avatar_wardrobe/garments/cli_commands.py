"""`avatar-wardrobe garment ...` subcommands: check garment files, import MakeHuman garments."""
from __future__ import annotations

import json

EXIT_VALID, EXIT_INVALID = 0, 1


def register(subparsers, bench_subparsers) -> None:
    garment = subparsers.add_parser("garment", help="garment files: check them, import MakeHuman clothes")
    sub = garment.add_subparsers(dest="garment_command", required=True)

    c = sub.add_parser("check", help="report every problem of garment .glb/.gltf files (exit 1 if any is invalid)")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    c.add_argument("--avatar", default=None, help="reference avatar name or .glb (default: each garment's "
                                                  "aw_made_for.avatar, else the default avatar)")
    c.add_argument("--gltf-only", action="store_true",
                   help="judge only the glTF structure, as the Khronos glTF-Validator does (a file without a "
                        "garment in it can pass; the project's stricter findings become warnings)")
    c.set_defaults(handler=_check)

    m = sub.add_parser("import-mhclo", help="convert a MakeHuman garment (.obj + .mhclo) to a garment .glb")
    m.add_argument("obj", metavar="OBJ")
    m.add_argument("mhclo", metavar="MHCLO")
    m.add_argument("--out", required=True, help="garment .glb to write")
    m.add_argument("--slot", default=None, help="slot (default: guessed from the name or the shape)")
    m.add_argument("--fabric", default=None, help="fabric preset (default: guessed from the name, else cotton)")
    m.add_argument("--size", default="M", help="size label (default M)")
    m.add_argument("--avatar", default=None, help="avatar to fit it on (default: the default avatar)")
    m.set_defaults(handler=_import_mhclo)

    e = subparsers.add_parser("export-dressed", help="write the dressed avatar (.glb) for a look in Blender")
    e.add_argument("--out", required=True, help=".glb to write")
    e.add_argument("--avatar", default=None, help="avatar .glb or bundled name (default: the scene's)")
    e.add_argument("--garment", action="append", default=None,
                   help="garment file relative to models/ (repeatable; default: the scene's outfit)")
    e.add_argument("--scene", default=None)
    e.set_defaults(handler=_export_dressed)


def _export_dressed(args) -> dict:
    """The scene's (or the given) outfit fitted to the avatar, written as one .glb."""
    from ..avatar.model import load_avatar
    from ..settings import load_scene, model_path
    from .export import export_dressed
    from .fitting import fitted_for
    from .garment_io import load_garment
    from .wardrobe import Outfit

    scene = load_scene(args.scene)
    avatar_path = model_path(args.avatar or scene.avatar.path)
    if not avatar_path.suffix:
        avatar_path = model_path(f"avatar/{args.avatar}.glb")
    avatar = load_avatar(avatar_path)
    outfit = Outfit()
    for name in args.garment or scene.outfit:
        outfit.equip(fitted_for(load_garment(model_path(name)), avatar))
    worn = outfit.items()
    out = export_dressed(avatar.path, worn, args.out)
    names = ", ".join(g.name for g in worn)
    return {"out": str(out), "avatar": avatar.path.name, "garments": [g.name for g in worn],
            "table": f"wrote {out}: {avatar.path.name} wearing {names}"}


def _check(args) -> int:
    from .validate import check_files, report_json, report_text

    reports = check_files(args.files, args.avatar, args.gltf_only)
    print(json.dumps(report_json(reports), indent=1) if args.json else report_text(reports))
    return EXIT_VALID if all(r.valid for r in reports) else EXIT_INVALID


def _import_mhclo(args) -> dict:
    from .garment_io import DEFAULT_SOURCE_AVATAR
    from .mhclo import import_mhclo

    g = import_mhclo(args.obj, args.mhclo, args.out, slot=args.slot, avatar=args.avatar or DEFAULT_SOURCE_AVATAR,
                     fabric=args.fabric, size=args.size)
    result = {"out": str(args.out), "name": g.name, "slot": g.meta.slot, "fabric": g.meta.fabric,
              "avatar": g.meta.source_avatar, "vertices": g.vertex_count, "triangles": int(len(g.faces)),
              "pinned": int((g.pin > 0).sum()), "hides": list(g.meta.hides)}
    result["table"] = "\n".join(f"{k:<10}{v}" for k, v in result.items())
    return result
