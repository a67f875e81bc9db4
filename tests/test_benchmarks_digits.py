"""Smoke runs of the ProGAN-vs-DCGAN and CycleGAN digits benchmarks at toy budgets: each must run end to end, score
what it says it scores and write the keys its docs name (their numbers come from the long runs in the docs)."""

import json

from test_benchmarks import _run


def test_progan_vs_dcgan_scores_what_lit_gans_sample_writes(tmp_path):
    out = tmp_path / "pg.json"
    _run("progan_vs_dcgan.py", "--budget", "2", "--phase-kimg", "0.02", "--seeds", "0", "1", "--samples", "64",
         "--keep", str(tmp_path / "runs"), "--out", str(out))
    report = json.loads(out.read_text())
    for name in ("progan", "dcgan"):
        runs = report["runs"][name]
        assert [r["seed"] for r in runs] == [0, 1]
        for r in runs:
            # the scored images are the command's: data size, data range (ProGAN's linear toRGB clipped)
            assert r["sample_shape"] == [64, 1, 16, 16]
            assert -1.0 <= r["sample_min"] <= r["sample_max"] <= 1.0
            assert r["fid"] > 0 and 2.0 <= r["train_cpu_s"] < 10.0
        fids = [r["fid"] for r in runs]
        assert abs(report[f"fid_{name}"] - sum(fids) / 2) < 1e-9 and report[f"fid_{name}_std"] > 0
    # 2 CPU seconds at 20 images per phase carry ProGAN past 4x4 (4x4 ends at 20 images)
    assert all(r["resolution"] >= 8 and r["kimg"] > 0.02 for r in report["runs"]["progan"])
    # DCGAN again, stopped at the images ProGAN saw (to the batch: 64 images)
    for pg, dc in zip(report["runs"]["progan"], report["runs"]["dcgan_equal_images"]):
        assert 0 <= dc["kimg"] - pg["kimg"] < 0.064
    assert 0 < report["fid_floor_real"] < min(report["fid_progan"], report["fid_dcgan"])
    assert (tmp_path / "runs" / "progan_seed1.samples.pt").is_file() and out.with_suffix(".png").is_file()


def test_cyclegan_digits_writes_means_stds_and_per_seed_runs(tmp_path):
    out = tmp_path / "cg.json"
    _run("cyclegan_digits.py", "--epochs", "1", "--epochs-decay", "0", "--g-channels", "4", "--d-channels", "4",
         "--n-residual-blocks", "1", "--judge-epochs", "10", "--floor-repeats", "5", "--seeds", "0", "1",
         "--out", str(out))
    report = json.loads(out.read_text())
    assert [r["seed"] for r in report["runs"]] == [0, 1]
    for key in ("label_preservation_ab", "label_preservation_ba", "label_preservation_ab_se", "fid_ab", "fid_ba",
                "fid_floor_equal_n_a", "fid_floor_equal_n_b", "fid_ratio_ab", "fid_real_train_vs_test_a",
                "fid_real_train_vs_test_b", "fid_ground_truth_ab", "classifier_accuracy_real_a", "cycle_error_a",
                "label_preservation_ab_plain_judge", "fid_floor_equal_n_b_plain_judge", "train_cpu_s"):
        values = [r[key] for r in report["runs"]]
        assert abs(report[key] - sum(values) / 2) < 1e-9 and f"{key}_std" in report
    # the judges see real images of their domain well; the references do not depend on the training seed, the
    # translations do
    for judge in ("", "_plain_judge"):
        assert report[f"classifier_accuracy_real_a{judge}"] > 0.9 and report[f"classifier_accuracy_real_b{judge}"] > 0.9
    assert report["fid_real_train_vs_test_b_std"] == 0.0 and report["fid_ground_truth_ba_std"] == 0.0
    assert report["fid_floor_equal_n_a_std"] == 0.0 and report["fid_floor_equal_n_b_subset_std"] > 0
    assert report["fid_ab_std"] > 0 and report["complete"] is True
    for r in report["runs"]:
        # 179 A and 180 B test digits: the standard errors are those of the translations' sample sizes, the ratio is
        # against the equal-size floor, which (fewer training images) lies above the floor from all 719 of them
        for tag, n in (("ab", 179), ("ba", 180)):
            p = r[f"label_preservation_{tag}"]
            assert abs(r[f"label_preservation_{tag}_se"] - (p * (1 - p) / n) ** 0.5) < 1e-12
            assert abs(r[f"fid_ratio_{tag}"] * r[f"fid_floor_equal_n_{tag[1]}"] - r[f"fid_{tag}"]) < 1e-6
        for d in "ab":
            assert r[f"fid_floor_equal_n_{d}"] > r[f"fid_real_train_vs_test_{d}"]
    met = report["goal_met"]
    assert met["label_preservation_at_least_0.95_ab"] == (report["label_preservation_ab"] >= 0.95)
    assert met["fid_within_1.5x_equal_n_floor_ba"] == (report["fid_ratio_ba"] <= 1.5)
    assert report["config"]["floor_repeats"] == 5 and report["config"]["judge_epochs"] == 10
    assert out.with_suffix(".png").is_file()
