"""The equal-budget 2D-mixture benchmark (experiments/benchmarks/toy2d_equal.py) at tiny budgets: it scores exactly
the samples `lit-gans sample --ckpt last.ckpt --num 2500 --out s.pt` writes, and writes the rows its docs name."""

import json
import subprocess
import sys

import pytest
import torch

from test_benchmarks import BENCH, ROOT

sys.path.insert(0, str(BENCH))
import toy2d_equal  # noqa: E402
from toy_judge import judge_checkpoint, user_samples  # noqa: E402

from lit_gans.checkpoints import load_model  # noqa: E402
from lit_gans.data.toy import Toy2DDataModule  # noqa: E402
from lit_gans.metrics.modes import mode_statistics  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """Shipped gan/ring.yaml's model after 3 generator updates."""
    path = tmp_path_factory.mktemp("toy") / "last.ckpt"
    cpu = toy2d_equal.train(toy2d_equal.configs("ring")["ours"], "ring", 0, 3, path)
    assert cpu > 0 and int(load_model(path).g_steps) == 3
    return path


def test_judge_scores_what_the_sample_command_writes(ckpt, tmp_path):
    out = tmp_path / "s.pt"
    subprocess.run([sys.executable, "-m", "lit_gans.cli", "sample", "--ckpt", str(ckpt), "--num", "2500", "--out",
                    str(out)], check=True, cwd=ROOT, capture_output=True)
    from_cli = torch.load(out)
    assert torch.equal(user_samples(ckpt), from_cli)
    data = Toy2DDataModule("ring")
    assert judge_checkpoint(ckpt, "ring") == mode_statistics(from_cli, data.means, data.std)
    # the comparison can fail: another noise seed, or batch norm on batch statistics, draws other points
    assert not torch.equal(user_samples(ckpt, seed=1), from_cli)
    model = load_model(ckpt)
    with torch.no_grad():
        net = model.sampling_generator().train()
        batch_stats = model.generate(net, model.sample_latent(2500, generator=model.seeded_rng(0)))
    assert not torch.allclose(batch_stats, from_cli)


def test_equal_profile_writes_the_rows_the_issue_names(tmp_path):
    out = tmp_path / "equal.json"
    toy2d_equal.main(["--g-updates", "2", "3", "--seeds", "2", "--configs", "ours", "PacGAN4", "--datasets", "grid",
                      "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["complete"] and report["runs_done"] == report["runs_planned"] == 8
    measured = [r for r in report["rows"] if not r.get("reference")]
    assert {(r["config"], r["g_updates"]) for r in measured} == {(c, g) for c in ("ours", "PacGAN4") for g in (2, 3)}
    for row in measured:
        assert row["dataset"] == "grid" and row["seeds"] == 2 and row["cpu_s_per_run"] > 0
        runs = [r for r in report["runs"] if (r["config"], r["g_updates"]) == (row["config"], row["g_updates"])]
        assert row["hq"] == pytest.approx(sum(r["hq"] for r in runs) / 2)
        assert row["hq_se"] == pytest.approx(abs(runs[0]["hq"] - runs[1]["hq"]) / 2)
        for key in ("modes", "reverse_kl"):
            assert key in row and f"{key}_se" in row
    references = [r for r in report["rows"] if r.get("reference")]
    assert {r["g_updates"] for r in references} == {400_000} and all("published" in r["config"] for r in references)
    assert "PacGAN4 [PacGAN Table 1, published] | 400,000" in report["table"]


def test_pacgan_configs_keep_100_packed_examples_a_batch():
    configs = toy2d_equal.configs("ring")
    for name, pack in (("GAN (PacGAN settings)", 1), ("PacGAN2", 2), ("PacGAN4", 4)):
        _, args, batch = configs[name]
        assert args.get("pack", 1) == pack and batch == 100 * pack
        assert args["g_optimizer"]["init_args"]["betas"][0] == 0.8


def test_paper_discriminator_rows_take_the_shipped_pacgan_yaml_and_the_earlier_rows_keep_leaky_relu():
    for dataset in ("ring", "grid"):
        configs = toy2d_equal.configs(dataset)
        for name, pack in (("GAN (PacGAN, maxout D)", 1), ("PacGAN4 (maxout D)", 4)):
            _, args, batch = configs[name]
            got = (args["d_maxout_pieces"], args["init_std"], args.get("pack", 1), batch)
            assert got == (5, 0.02, pack, 100 * pack)
        for name in ("GAN (PacGAN settings)", "PacGAN2", "PacGAN4"):
            assert not set(toy2d_equal.PAPER_D) & set(configs[name][1]), name


@pytest.mark.parametrize("name", ["WGAN-GP", "PacGAN4 (maxout D)"])
def test_every_configuration_trains_to_its_budget(name, tmp_path):
    """WGAN-GP's first batches are critic steps only (n_critic 5): its generator logs nothing at step 1."""
    cpu = toy2d_equal.train(toy2d_equal.configs("grid")[name], "grid", 0, 2, tmp_path / "last.ckpt")
    assert cpu > 0 and int(load_model(tmp_path / "last.ckpt").g_steps) == 2


def test_bad_budget_is_one_line(capsys):
    with pytest.raises(SystemExit):
        toy2d_equal.main(["--g-updates", "0"])
    assert "--g-updates and --seeds must be >= 1" in capsys.readouterr().err


def test_repeated_runs_of_one_seed_at_one_thread_are_identical(tmp_path):
    import toy_repeat

    out = tmp_path / "repeat.json"
    toy_repeat.main(["--config", "PacGAN2", "--g-updates", "2", "--threads", "1", "1", "--out", str(out)])
    report = json.loads(out.read_text())
    assert [r["same_samples_as_run_0"] for r in report["runs"]] == [True, True]
    assert report["runs"][0]["hq"] == report["runs"][1]["hq"]
    others = report["first_checkpoint_other_judges"]
    assert set(others) == {"batch norm on batch statistics", "noise seed 1",
                           "reverse KL over all samples (no 3-std filter)"}


def _report(path, runs, complete=True):
    path.write_text(json.dumps({"command": "python toy2d_equal.py ...", "complete": complete, "runs_done": len(runs),
                                "runs_planned": len(runs), "workers": 2, "cpu_s": 1.0, "wall_s": 2.0, "runs": runs}))
    return path


def _run(config, g_updates, seed, hq):
    return {"config": config, "dataset": "ring", "g_updates": g_updates, "seed": seed, "modes": 8, "hq": hq,
            "reverse_kl": 0.1, "counts": [1] * 8, "cpu_s": 3.0}


def test_combine_makes_one_table_of_budgets_run_separately(tmp_path, capsys):
    a = _report(tmp_path / "a.json", [_run("PacGAN4", 20000, s, 10.0 * s) for s in range(2)])
    b = _report(tmp_path / "b.json", [_run("ours", 5000, s, 50.0 + s) for s in range(3)], complete=False)
    no_hq = _run("WGAN-GP", 1000, 0, 0.0) | {"reverse_kl": None}  # as toy2d._finite writes an infinite KL
    c = _report(tmp_path / "c.json", [no_hq, _run("WGAN-GP", 1000, 1, 1.0)])
    out = tmp_path / "all.json"
    toy2d_equal.main(["--combine", str(a), str(b), str(c), "--out", str(out)])
    report = json.loads(out.read_text())
    measured = [r for r in report["rows"] if not r.get("reference")]
    assert [(r["config"], r["g_updates"], r["seeds"]) for r in measured] == [
        ("WGAN-GP", 1000, 2), ("ours", 5000, 3), ("PacGAN4", 20000, 2)]
    assert measured[0]["reverse_kl"] is None and abs(measured[1]["reverse_kl"] - 0.1) < 1e-9
    assert abs(measured[1]["hq"] - 51.0) < 1e-9 and abs(measured[2]["hq"] - 5.0) < 1e-9
    assert report["runs_done"] == 7 and not report["complete"] and report["g_updates"] == [1000, 5000, 20000]
    assert [s["file"] for s in report["sources"]] == ["a.json", "b.json", "c.json"]
    assert "| ring | ours | 5,000 | 3 |" in capsys.readouterr().out


def test_combine_refuses_a_run_twice_and_a_file_that_is_no_report(tmp_path):
    a = _report(tmp_path / "a.json", [_run("ours", 5000, 0, 50.0)])
    with pytest.raises(SystemExit, match="appears twice"):
        toy2d_equal.main(["--combine", str(a), str(a), "--out", str(tmp_path / "all.json")])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SystemExit, match="not a toy2d_equal.py report"):
        toy2d_equal.main(["--combine", str(tmp_path / "x.json"), "--out", str(tmp_path / "all.json")])
    assert not (tmp_path / "all.json").exists()
