"""The catalog's summary: one row per combination (status, time, fit, recommended size) as CSV and JSON,
plus a catalog contact sheet (one tile per task, failed ones marked)."""
from __future__ import annotations

import csv
import io
import json
import textwrap
import time
from pathlib import Path

import numpy as np

from ..cloth.fit import FIT_MAX_STRAIN, REGIONS
from ..garments.garment import SIZES
from . import store
from .catalog import Catalog, TaskSpec
from .tasks import THUMB_FILE

CSV_FILE, JSON_FILE, SHEET_FILE = "summary.csv", "summary.json", "catalog_sheet.jpg"
COLUMNS = ("id", "garment", "size", "body", "motion", "status", "seconds", "cpu_s", "peak_rss_mb", "worst_strain",
           *(f"strain_{r}" for r in REGIONS), "fits", "recommended_size", "error", "folder")
TILE_W, TILE_H, CAPTION_H = 176, 216, 34
FAILED_BGR, TILE_BGR, TEXT_BGR = (40, 40, 150), (44, 40, 40), (235, 235, 235)
ERROR_WRAP, ERROR_LINES = 22, 6
JPEG_QUALITY = 85


def recommend(worst_by_size: dict[str, float]) -> str:
    """The size to buy: the smallest whose worst region strain is at most FIT_MAX_STRAIN, else the least
    stretched one (the rule of cloth.fit.size_advice, over the sizes whose tasks succeeded)."""
    if not worst_by_size:
        return ""
    order = sorted(worst_by_size, key=lambda s: SIZES.index(s) if s in SIZES else len(SIZES))
    fitting = [s for s in order if worst_by_size[s] <= FIT_MAX_STRAIN]
    return fitting[0] if fitting else min(order, key=lambda s: worst_by_size[s])


def recommendations(records: list[dict]) -> dict[tuple[str, str], str]:
    """(garment, body) -> recommended size; the fit is draped at rest, so it does not depend on the motion."""
    worst: dict[tuple[str, str], dict[str, float]] = {}
    for r in records:
        if r["status"] == "ok" and r.get("fit"):
            worst.setdefault((r["garment"], r["body"]), {}).setdefault(r["size"], r["fit"]["worst"])
    return {key: recommend(sizes) for key, sizes in worst.items()}


def rows(out: Path, specs: list[TaskSpec], records: list[dict]) -> list[dict]:
    rec = recommendations(records)
    table = []
    for spec, r in zip(specs, records):
        fit = r.get("fit") or {}
        strain = fit.get("strain") or {}
        table.append({"id": spec.id, "garment": spec.garment, "size": spec.size, "body": spec.body,
                      "motion": spec.motion, "status": r["status"], "seconds": r.get("seconds"),
                      "cpu_s": r.get("cpu_s"), "peak_rss_mb": r.get("peak_rss_mb"), "worst_strain": fit.get("worst"),
                      **{f"strain_{k}": strain.get(k) for k in REGIONS},
                      "fits": fit.get("fits"), "recommended_size": rec.get((spec.garment, spec.body), ""),
                      "error": (r.get("error") or "").splitlines()[0] if r.get("error") else "",
                      "folder": str(store.task_dir(out, spec).relative_to(out))})
    return table


def write(out: Path, catalog: Catalog, specs: list[TaskSpec], records: list[dict]) -> dict:
    """summary.csv, summary.json and catalog_sheet.jpg in `out` (each written atomically)."""
    table = rows(out, specs, records)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    store.write_atomic(out / CSV_FILE, buf.getvalue().encode())
    rec = recommendations(records)
    doc = {"catalog": str(catalog.path), "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "fit_max_strain": FIT_MAX_STRAIN, "tasks": table,
           "ok": sum(r["status"] == "ok" for r in table), "failed": sum(r["status"] != "ok" for r in table),
           "recommended": [{"garment": g, "body": b, "size": s} for (g, b), s in rec.items()]}
    store.write_atomic(out / JSON_FILE, (json.dumps(doc, indent=1) + "\n").encode())
    store.write_atomic(out / SHEET_FILE, sheet_jpg(out, specs, table))
    return {"summary_csv": str(out / CSV_FILE), "summary_json": str(out / JSON_FILE), "sheet": str(out / SHEET_FILE)}


def sheet_jpg(out: Path, specs: list[TaskSpec], table: list[dict]) -> bytes:
    """One tile per task: rows are garment+size, columns body+motion; a failed task shows its error."""
    import cv2

    row_keys = list(dict.fromkeys((s.garment, s.size) for s in specs))
    col_keys = list(dict.fromkeys((s.body, s.motion) for s in specs))
    image = np.empty((len(row_keys) * TILE_H, len(col_keys) * TILE_W, 3), np.uint8)
    image[:] = TILE_BGR
    for spec, row in zip(specs, table):
        y, x = row_keys.index((spec.garment, spec.size)) * TILE_H, col_keys.index((spec.body, spec.motion)) * TILE_W
        tile = image[y:y + TILE_H, x:x + TILE_W]
        thumb = cv2.imread(str(store.task_dir(out, spec) / THUMB_FILE)) if row["status"] == "ok" else None
        if thumb is not None:
            tile[:TILE_H - CAPTION_H] = _cover(thumb, TILE_W, TILE_H - CAPTION_H)
        else:
            tile[:TILE_H - CAPTION_H] = FAILED_BGR
            lines = ["FAILED"] + textwrap.wrap(row["error"] or "no output", ERROR_WRAP)[:ERROR_LINES]
            for i, line in enumerate(lines):
                cv2.putText(tile, line, (6, 18 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.36, TEXT_BGR, 1, cv2.LINE_AA)
        caption = f"{spec.garment} {spec.size} / {spec.body}"
        fit = f"{spec.motion}  worst {row['worst_strain']:.3f}" if row["worst_strain"] else spec.motion
        if row["recommended_size"] == spec.size:
            fit += "  *"
        for i, line in enumerate((caption, fit)):
            cv2.putText(tile, line, (4, TILE_H - CAPTION_H + 13 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                        TEXT_BGR, 1, cv2.LINE_AA)
        cv2.rectangle(image, (x, y), (x + TILE_W - 1, y + TILE_H - 1), (20, 20, 20), 1)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes()


def _cover(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """Scale to fill w x h, cropping the sides (the body stands in the middle)."""
    import cv2

    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    resized = cv2.resize(image, (max(w, round(iw * scale)), max(h, round(ih * scale))), interpolation=cv2.INTER_AREA)
    y, x = (resized.shape[0] - h) // 2, (resized.shape[1] - w) // 2
    return resized[y:y + h, x:x + w]


def table(records: list[dict]) -> str:
    """The terminal table: one line per task."""
    rec = recommendations(records)
    head = f"{'task':<46}{'status':>8}{'s':>7}{'worst':>8}{'rec':>5}  error"
    lines = [head]
    for r in records:
        worst = (r.get("fit") or {}).get("worst")
        lines.append(f"{r['id'][:45]:<46}{r['status']:>8}{(r.get('seconds') or 0):>7.1f}"
                     f"{(format(worst, '.3f') if worst else '-'):>8}{rec.get((r['garment'], r['body']), ''):>5}  "
                     f"{(r.get('error') or '').splitlines()[0][:60] if r.get('error') else ''}")
    return "\n".join(lines)
