"""Each benchmark script without a test of its own, run end to end at a tiny budget: a script that no longer runs on
the current code (an API it calls was renamed, a key it writes went missing) fails here, not in a user's hands.

The numbers of such tiny runs mean nothing; the tests check that the script finishes, writes its JSON with the keys
the README and the docs read, and that the values are in their valid range.
"""

from __future__ import annotations

import json
import math

from test_benchmarks import _run


def test_vanishing_gradient_script_runs_and_reports_both_losses(tmp_path):
    out = tmp_path / "vanishing_gradient.json"
    _run("vanishing_gradient.py", "--d-steps", "20", "--every", "10", "--out", str(out), cwd=tmp_path, timeout=600)
    result = json.loads(out.read_text())
    assert result["d_steps"] == [0, 10]
    assert set(result["generator_grad_norm"]) == {"minimax (saturating)", "non-saturating"}
    for norms in result["generator_grad_norm"].values():
        assert len(norms) == 2 and all(math.isfinite(v) and v >= 0 for v in norms)
    assert all(0.0 < d < 1.0 for d in result["mean_D_of_fake"])
    assert out.with_suffix(".png").exists()


def test_seqgan_round_cost_script_runs_on_the_current_sampling_interface(tmp_path):
    # It called model.generate(net, n) after SeqGAN's sampling moved to generate_sequences: this is the test that
    # would have caught it.
    out = tmp_path / "seqgan_round_cost.json"
    _run("seqgan_round_cost.py", "--sizes", "64", "128", "--out", str(out), cwd=tmp_path, timeout=600)
    result = json.loads(out.read_text())
    assert result["g_step_cpu_s"] > 0 and result["generate_cpu_s_per_sequence"] > 0
    # The D cost is a slope between two runs: at these sizes its sign is noise, so only check it is a number.
    for key in ("d_epoch_cpu_s_per_sequence", "adversarial_round_cpu_s", "d_pretrain_cpu_h", "adversarial_stage_cpu_h"):
        assert math.isfinite(result[key]), key


def test_ddp_scaling_script_measures_one_and_two_processes(tmp_path):
    out = tmp_path / "ddp_scaling.json"
    _run("ddp_scaling.py", "--processes", "1", "2", "--steps", "2", "--warmup", "1", "--repeats", "1",
         "--channels", "4", "--image-size", "8", "--batch-size", "4", "--out", str(out), cwd=tmp_path, timeout=600)
    result = json.loads(out.read_text())
    assert result["throughput_1"] > 0 and result["throughput_2"] > 0
