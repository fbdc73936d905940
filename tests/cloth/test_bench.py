"""`avatar-wardrobe bench cloth` runs end to end on a short motion and prints a table plus one JSON line."""
from __future__ import annotations

import json

from avatar_wardrobe.cli import main


def test_bench_cloth_prints_table_and_json(capsys):
    code = main(["bench", "cloth", "--json", "--vertices", "300", "--seconds", "0.4", "--garments", "shirt",
                 "--baseline-frames", "2", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    data = json.loads(out[-1])
    assert "garment" in out[0] and data["benchmark"] == "cloth"
    (row,) = data["results"]
    assert row["garment"] == "shirt" and row["sim_vertices"] <= 300
    for key in ("ms_per_frame_median", "steps_per_second", "inside_share_max", "inside_depth_max_cm",
                "stretch_p99_max", "anchor_drift_max_cm", "resets"):
        assert row[key] is not None, key
    assert row["deformable"]["steps_per_second"] > 0 and row["speedup_steps_per_second"] > 1
    assert data["machine"]["cpus"] >= 1
    tube = data["reference_tube"]  # the machine's speed, measured in the same run
    assert tube["nodes"] == 1000 and tube["ms_per_frame_median"] > 0 and tube["design_md_ms"] == 3.6
    assert row["ms_per_frame_vs_reference_tube"] > 0 and "reference:" in "\n".join(out)


def test_bench_rejects_bad_vertex_lists(capsys):
    assert main(["bench", "cloth", "--vertices", "lots"]) == 2
    assert "--vertices" in capsys.readouterr().err


def test_bench_runs_a_shipped_garment_on_its_own_sim_mesh(capsys):
    code = main(["bench", "cloth", "--json", "--seconds", "0.3", "--garments", "tshirt_M", "--baseline-frames", "0",
                 "--quiet"])
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"]
    assert row["garment"] == "tshirt_M" and row["target_vertices"] is None
    assert 0 < row["bullet_nodes"] < row["sim_vertices"]     # the tight part is skinned, not simulated
    assert main(["bench", "cloth", "--garments", "no_such_garment"]) == 2
