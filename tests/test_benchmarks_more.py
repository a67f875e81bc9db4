"""More benchmark scripts run end to end at a tiny budget (as tests/test_benchmarks_smoke.py does for others): the
README's quick-start measurement, the digits floor, SeqGAN's reward check, the shipped toy configs, the compression
table, the distillation ablation, the toy losses comparison, the loop overhead, the command start-up time and the
bad-input table.

Tiny runs' numbers mean nothing; each test checks that the script finishes, writes the keys the README and docs read,
that counts equal what was asked, and that values are finite and in their valid range.
"""

from __future__ import annotations

import json
import math
import sys
import warnings

import yaml
from metric_fixtures import digits_classifier_file
from test_benchmarks import BENCH, ROOT, _run

sys.path.insert(0, str(BENCH))


def _tiny_config(tmp_path, source: str, **trainer) -> str:
    """A shipped config without logger or sample grids, with the trainer settings given: a fit of seconds."""
    config = yaml.safe_load((ROOT / source).read_text())
    config["trainer"] |= {"logger": False, **trainer}
    config.pop("samples", None)
    path = tmp_path / f"tiny_{(ROOT / source).stem}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_quickstart_script_scores_samples_of_the_fitted_model(tmp_path):
    config = _tiny_config(tmp_path, "experiments/dcgan/digits.yaml", max_epochs=1, limit_train_batches=2)
    out = tmp_path / "quickstart.json"
    _run("quickstart.py", "--config", config, "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    assert result["command"] == f"python experiments/benchmarks/quickstart.py --config {config}"
    for key in ("class_histogram", "untrained_class_histogram"):
        assert len(result[key]) == 10 and sum(result[key]) == 1000, key  # 1,000 samples, each given one class
    assert result["classes_drawn"] == sum(h > 0 for h in result["class_histogram"])
    for key in ("mean_confidence", "untrained_mean_confidence"):
        assert 0.1 <= result[key] <= 1.0, key  # a top-class probability of 10 classes
    # the classifier recognises real held-out digits (README: about 0.9): it was fitted, not left at chance
    assert 0.7 < result["real_heldout_mean_confidence"] <= 1.0
    assert result["fit_seconds"] > 0


def test_digits_floor_script_puts_held_out_digits_far_below_noise(tmp_path):
    out = tmp_path / "digits_floor.json"
    _run("digits_floor.py", "--classifier", digits_classifier_file(), "--stacked", "2000", "--out", str(out),
         cwd=tmp_path)
    result = json.loads(out.read_text())
    assert 0.8 < result["classifier_accuracy"] <= 1.0
    assert result["num_val_real"] + result["num_train_real"] == 1797  # the bundled digits, split once
    real, noise = result["scores"]["held-out digits"], result["scores"]["uniform noise"]
    assert set(real) == set(noise) >= {"fid", "kid", "is", "precision", "recall"}
    assert all(math.isfinite(v) for v in [*real.values(), *noise.values()])
    assert 0 <= real["fid"] < noise["fid"] / 5 and noise["is"] < real["is"] <= 10
    assert 0 <= noise["precision"] < real["precision"] <= 1
    stacked = result["stacked_real"]
    assert stacked["samples"] == 2000 and 500 < stacked["modes"] <= 1000 and stacked["kl"] >= 0


def test_seqgan_reward_script_adds_its_row_and_keeps_other_settings(tmp_path):
    out = tmp_path / "seqgan_reward.json"
    _run("seqgan_reward.py", "--num-samples", "128", "--g-pretrain-epochs", "1", "--d-pretrain-steps", "1",
         "--num-eval", "60", "--seed", "3", "--out", str(out), cwd=tmp_path)
    first = json.loads(out.read_text())["rows"]
    assert len(first) == 1
    row = first[0]
    assert row["settings"] | {"config": None} == {"config": None, "num_samples": 128, "g_pretrain_epochs": 1,
                                                  "d_pretrain_steps": 1, "d_epochs": 1, "seed": 3}
    assert row["command"].endswith("--num-samples 128 --g-pretrain-epochs 1 --d-pretrain-steps 1")
    for key in ("p_real_train", "p_real_fresh", "p_real_generated"):
        assert 0.0 <= row[key] <= 1.0, key
    assert -1.0 <= row["corr_reward_oracle_loglik"] <= 1.0
    assert row["nll_oracle_generated"] > 0 and row["nll_oracle_top_third_by_d"] > 0

    # a row of other settings stays; the row of the same settings is replaced, not duplicated
    other = row | {"settings": row["settings"] | {"seed": 4}}
    out.write_text(json.dumps({"rows": [other, row | {"p_real_train": -1.0}]}))
    _run("seqgan_reward.py", "--num-samples", "128", "--g-pretrain-epochs", "1", "--d-pretrain-steps", "1",
         "--num-eval", "60", "--seed", "3", "--out", str(out), cwd=tmp_path)
    rows = json.loads(out.read_text())["rows"]
    assert [r["settings"]["seed"] for r in rows] == [4, 3] and rows[1]["p_real_train"] >= 0.0


def test_toy_configs_script_scores_the_fit_and_appends_seeds(tmp_path):
    config = _tiny_config(tmp_path, "experiments/gan/ring.yaml", max_steps=20)
    out = tmp_path / "toy.json"
    # an earlier seed that captured no mode: reverse KL inf (lit_gans.metrics.modes), which statistics.stdev rejects
    kept = {"seed": 1, "modes": 0, "hq": 0.0, "reverse_kl": math.inf, "fit_seconds": 1.0, "g_steps": 10,
            "command": "an earlier sitting"}
    out.write_text(json.dumps({"runs": [kept]}))
    _run("toy_configs.py", "--config", config, "--seeds", "0", "--append", "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    assert result["config"] == config and result["seeds"] == 2
    assert [r["seed"] for r in result["runs"]] == [0, 1] and result["runs"][1] == kept
    run = result["runs"][0]
    assert run["g_steps"] == 10  # 20 optimizer steps: 10 D + 10 G updates
    assert run["command"].endswith("--seeds 0 --append")
    assert 0 <= run["modes"] <= 8 and 0.0 <= run["hq"] <= 100.0 and run["reverse_kl"] >= 0
    assert result["modes"] == run["modes"] / 2 and math.isclose(result["hq"], run["hq"] / 2)
    assert math.isclose(result["modes_std"], run["modes"] / math.sqrt(2))  # sample std of two runs: modes and 0
    assert result["reverse_kl"] == math.inf and math.isnan(result["reverse_kl_std"])


def test_compression_script_measures_every_row_and_records_refusals(tmp_path):
    out = tmp_path / "compression.json"
    _run("compression.py", "--budget", "2", "--dcgan-steps", "2", "--stylegan2-steps", "2", "--widths", "0.5",
         "--feature-widths", "--amounts", "0.5", "--n-fake", "64", "--repeats", "1", "--workers", "1",
         "--onnx", "dcgan", "--out", str(out), cwd=tmp_path, timeout=600)
    result = json.loads(out.read_text())
    rows = {(r["model"], r["method"]): r for r in result["rows"]}
    assert set(rows) == {("dcgan", m) for m in ("teacher", "distill_w0.5", "prune_0.5", "int8")} | {
        ("stylegan2", "teacher"), ("stylegan2", "distill_w0.5")}
    # StyleGAN2 cannot be pruned or quantised: the one-line refusals are recorded, not hidden
    assert set(result["errors"]) == {"stylegan2 prune_0.5", "stylegan2 int8"}
    for (model, method), row in rows.items():
        assert math.isfinite(row["fid"]) and row["fid"] >= 0, (model, method)
        assert 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1
        assert row["mb"] > 0 and row["ms_batch1"] > 0 and row["ms_batch64"] > 0
        if method != "teacher":
            assert row["params"] <= rows[(model, "teacher")]["params"]
    assert rows[("dcgan", "distill_w0.5")]["params"] < rows[("dcgan", "teacher")]["params"] / 2
    assert rows[("dcgan", "teacher")]["onnx_max_abs"] < 1e-4  # ONNX computes what PyTorch computes
    assert rows[("dcgan", "teacher")]["fid_sample"] == rows[("dcgan", "teacher")]["fid"]  # the file samples as G does
    assert result["steps"] == {"dcgan": 2, "stylegan2": 2} and result["n_fake"] == 64
    assert {"dcgan_int8_fid_ratio", "dcgan_int8_met", "dcgan_student_met"} <= set(result["goals"])


def test_distill_ablation_script_scores_the_teacher_and_every_setting(tmp_path):
    out = tmp_path / "distill_ablation.json"
    _run("distill_ablation.py", "--budget", "2", "--steps", "3", "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert rows[0]["setting"] == "teacher" and len(rows) == 8  # the teacher and the 7 settings of the ablation
    assert result["steps"] == 3 and result["width"] == 0.2
    for row in rows:
        assert math.isfinite(row["fid"]) and row["fid"] >= 0 and 0 <= row["precision"] <= 1
    for row in rows[1:]:
        assert row["params"] < rows[0]["params"] / 5  # width 0.2
        assert 0 < row["pixel_error"] < 2  # L1 between images in [-1, 1]


def test_toy2d_script_runs_every_planned_run(tmp_path):
    # WGAN updates G every 5th batch: with logs only every 50 batches it crashed reading a gradient norm never logged
    out = tmp_path / "toy2d.json"
    _run("toy2d.py", "--quick", "--seeds", "2", "--g-steps", "5", "--configs", "GAN (minimax)", "WGAN",
         "--datasets", "ring", "--workers", "1", "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    assert result["runs_done"] == result["runs_planned"] == 4 and result["settings"]["g_steps"] == 5
    assert {(r["config"], r["seeds"]) for r in result["rows"]} == {("GAN (minimax)", 2), ("WGAN", 2)}
    for run in result["runs"]:
        assert run["g_steps"] == 5 and run["d_steps"] == (25 if run["config"] == "WGAN" else 5)
        assert 0 <= run["modes"] <= 8 and 0.0 <= run["hq"] <= 100.0
    assert out.with_name("toy2d_generator_gradients.png").exists()


def test_toy2d_records_the_gradient_norm_of_every_generator_update():
    import toy2d

    with warnings.catch_warnings():  # run_one silences warnings for its worker process: not for this one
        run = toy2d.run_one("GAN (minimax)", "ring", 0, toy2d.PROFILES["quick"] | {"g_steps": 6})
    norms = run["g_grad_norms"]
    assert len(norms) == 6 and all(math.isfinite(n) and n > 0 for n in norms)
    assert len(set(norms)) == 6  # one per update, not the last logged one read again


def test_toy_overhead_script_times_both_loops(tmp_path):
    out = tmp_path / "toy_overhead.json"
    _run("toy_overhead.py", "--steps", "20", "--repeats", "1", "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    assert result["steps"] == 20 and result["torch_threads"] == 1
    assert len(result["ratios"]) == len(result["cpu_ratios"]) == len(result["plain_seconds"]) == 1
    for key in ("plain_ms_per_step", "lit_gans_ms_per_step", "plain_cpu_ms_per_step", "lit_gans_cpu_ms_per_step"):
        assert 0 < result[key] < 10_000, key
    # the ratios are what their inputs say (at 20 steps their values are noise)
    assert math.isclose(result["ratio"], result["lit_gans_ms_per_step"] / result["plain_ms_per_step"], rel_tol=1e-6)
    assert math.isclose(result["cpu_ratio"], result["lit_gans_cpu_ms_per_step"] / result["plain_cpu_ms_per_step"],
                        rel_tol=1e-6)


def test_startup_script_times_each_command(tmp_path):
    out = tmp_path / "startup.json"
    _run("startup.py", "--repeats", "1", "--out", str(out), cwd=tmp_path)
    result = json.loads(out.read_text())
    names = {"lit-gans --help", "lit-gans sample --help", "lit-gans fit --help"}
    assert set(result["median_seconds"]) == set(result["seconds"]) == names and result["repeats"] == 1
    for name in names:
        assert len(result["seconds"][name]) == 1 and 0 < result["median_seconds"][name] < 300


def test_bad_input_cases_give_one_line_each_as_docs_bad_input_md_shows(tmp_path, monkeypatch):
    """What experiments/benchmarks/bad_input.py checks and writes into docs/bad_input.md, run in this process without
    writing: every case exits 2 with one ``lit-gans: error:`` line, and the page shows that line (no drift)."""
    import bad_input

    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)  # runs/ and W&B files of the cases land here
    page = (ROOT / "docs" / "bad_input.md").read_text()
    assert len(bad_input.CASES) >= 20
    for name, make in bad_input.CASES:
        code, message = bad_input.run_case(make(tmp_path))
        assert code == 2 and message.startswith("lit-gans: error:"), (name, code, message)
        row = f"| {name} | {code} | `{message.replace(str(tmp_path), 'TMP').replace('|', '/')}` |"
        assert row in page, f"docs/bad_input.md is out of date (python experiments/benchmarks/bad_input.py): {row}"
