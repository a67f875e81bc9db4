"""StyleGAN2 against the official NVlabs stylegan2-ada-pytorch code: golden outputs, and ``import-weights``.

The golden file (``tests/golden/stylegan2_ada_pytorch.pt``, see the README beside it) holds the official networks'
state dicts of a small configuration and what the official code computes from them. Each test loads those state dicts
(the lit_gans networks use the official names, so the name mapping is the identity) and compares one output, with a
tolerance of 1e-4 relative to the output's largest magnitude.

How these tests fail on the layers lit_gans had before (measured by loading the same golden weights into them through
a name mapping): the old discriminator, which blurred and subsampled *before* a 3x3 conv at half resolution, gave
logits off by 0.44 of their scale (max |diff| 0.106, max |logit| 0.243) and R1 penalties off by 0.42; the old
generator (zero insertion + FIR + 3x3 conv instead of the transposed conv + FIR) gave noise-free images off by 0.67
of their scale. The old style mixing also moved w_avg with the second latent (the official loss passes
``skip_w_avg_update``): ``test_official_mixing_latent_leaves_w_avg`` checks that.
"""

from pathlib import Path

import pytest
import torch

import lit_gans
from lit_gans.cli import main
from lit_gans.losses import path_lengths
from lit_gans.models.stylegan2 import StyleGAN2
from lit_gans.nets.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, channel_table

GOLDEN = Path(__file__).resolve().parent / "golden" / "stylegan2_ada_pytorch.pt"
TOL = 1e-4


@pytest.fixture(scope="module")
def golden():
    return torch.load(GOLDEN, weights_only=True)


@pytest.fixture(scope="module")
def nets(golden):
    cfg = golden["config"]
    shape = (cfg["img_channels"], cfg["img_resolution"], cfg["img_resolution"])
    g = StyleGAN2Generator(cfg["z_dim"], cfg["w_dim"], shape, cfg["mapping_layers"], cfg["lr_multiplier"],
                           cfg["channel_base"], cfg["channel_max"], cfg["architecture_g"])
    d = StyleGAN2Discriminator(shape, cfg["channel_base"], cfg["channel_max"], cfg["mbstd_group_size"],
                               cfg["architecture_d"], cfg["mbstd_num_channels"])
    g.load_state_dict(golden["G_state_dict"])
    d.load_state_dict(golden["D_state_dict"])
    return g.eval(), d.eval()


def rel_err(got: torch.Tensor, expected: torch.Tensor, golden: str = "") -> float:
    """max |got - expected| / max |expected|; printed for a ``golden`` output (``pytest -k official -s`` lists them)."""
    assert got.shape == expected.shape
    err = ((got - expected).abs().max() / expected.abs().max()).item()
    if golden:
        print(f"\n{golden}: max relative error {err:.1e}", end=" ")
    return err


# --- golden outputs -------------------------------------------------------------------------------------------------
def test_official_mapping_ws_and_truncation(golden, nets):
    g, _ = nets
    with torch.no_grad():
        assert rel_err(g.mapping(golden["z"], None, truncation_psi=1), golden["ws"], "ws") < TOL
        truncated = g.mapping(golden["z"], None, truncation_psi=0.5)
    assert rel_err(truncated, golden["ws_truncated_0.5"], "ws_truncated_0.5") < TOL
    assert rel_err(truncated, golden["ws"]) > 0.1  # truncation did something


def test_official_w_avg_after_one_update(golden, nets):
    g, _ = nets
    mapping = StyleGAN2Generator(16, 16, (3, 16, 16), 2, channel_base=256, channel_max=16).mapping
    mapping.load_state_dict(g.mapping.state_dict())
    with torch.no_grad():
        mapping.train()(golden["z"])
    assert rel_err(mapping.w_avg, golden["w_avg_after_one_update"], "w_avg_after_one_update") < TOL
    assert rel_err(g.mapping.w_avg, golden["w_avg_after_one_update"]) > 1e-3  # it moved


@pytest.mark.parametrize("mode", ["none", "const"])
def test_official_images(golden, nets, mode):
    g, _ = nets
    with torch.no_grad():
        img = g.synthesis(golden["ws"], noise_mode=mode)
    assert rel_err(img, golden[f"img_noise_{mode}"], f"img_noise_{mode}") < TOL


def test_official_noise_modes_differ(golden, nets):
    g, _ = nets
    with torch.no_grad():
        none, const = g.synthesis(golden["ws"], noise_mode="none"), g.synthesis(golden["ws"], noise_mode="const")
        rand = g.synthesis(golden["ws"], noise_mode="random", rng=torch.Generator().manual_seed(0))
    assert rel_err(const, none) > 1e-3 and rel_err(rand, const) > 1e-3


def test_official_discriminator_logits_and_r1(golden, nets):
    _, d = nets
    x = golden["x"].clone().requires_grad_(True)
    logits = d(x).flatten()
    assert rel_err(logits.detach(), golden["d_logits"], "d_logits") < TOL
    (grad,) = torch.autograd.grad(logits.sum(), x)
    assert rel_err(grad.square().flatten(1).sum(1), golden["r1_penalty"], "r1_penalty") < TOL


def test_official_path_lengths(golden, nets):
    g, _ = nets
    ws = golden["ws"].clone().requires_grad_(True)
    lengths = path_lengths(g.synthesis(ws, noise_mode="const"), ws, y=golden["pl_noise"])
    assert rel_err(lengths.detach(), golden["pl_lengths"], "pl_lengths") < TOL


def test_official_mixing_latent_leaves_w_avg():
    torch.manual_seed(0)
    model = StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8,
                      style_mixing_prob=1.0)
    mapping = model.generator.mapping.train()
    torch.manual_seed(1)
    with torch.no_grad():
        model.generate_ws(model.generator, 16)
    mixed = mapping.w_avg.clone()
    mapping.w_avg.zero_()
    torch.manual_seed(1)  # generate_ws draws the first latent before the mixing decision: the same z again
    with torch.no_grad():
        mapping(model.sample_latent(16))
    assert (mixed - mapping.w_avg).abs().max() < 1e-7  # only the first latent moved w_avg (skip_w_avg_update)
    assert mixed.abs().max() > 1e-6


# --- import-weights on official-layout state dicts of other configurations -----------------------------------------
def official_state_dicts(res: int, img: int, channel_base: int, channel_max: int, z_dim: int, w_dim: int,
                         mapping_layers: int, g_arch: str, d_arch: str, mbstd_num_channels: int = 1):
    """Random (G, D) state dicts with the names and shapes that the official ``training/networks.py`` classes give,
    ``resample_filter`` buffers included (as ``torch.save(net.state_dict())`` writes them)."""
    ch = channel_table(res, channel_base, channel_max)
    filt = torch.ones(4, 4) / 16  # its value is fixed by the code; the importer drops it
    g = {f"mapping.fc{i}.{p}": t for i in range(mapping_layers)
         for p, t in (("weight", torch.randn(w_dim, z_dim if i == 0 else w_dim)), ("bias", torch.randn(w_dim)))}
    g["mapping.w_avg"] = torch.randn(w_dim)

    def synthesis_layer(name, c_in, c_out, r):
        g.update({f"{name}.resample_filter": filt, f"{name}.affine.weight": torch.randn(c_in, w_dim),
                  f"{name}.affine.bias": torch.randn(c_in), f"{name}.weight": torch.randn(c_out, c_in, 3, 3),
                  f"{name}.noise_const": torch.randn(r, r), f"{name}.noise_strength": torch.randn(()),
                  f"{name}.bias": torch.randn(c_out)})

    for r in ch:
        b = f"synthesis.b{r}"
        g[f"{b}.resample_filter"] = filt
        if r == 4:
            g[f"{b}.const"] = torch.randn(ch[4], 4, 4)
        else:
            synthesis_layer(f"{b}.conv0", ch[r // 2], ch[r], r)
        synthesis_layer(f"{b}.conv1", ch[r], ch[r], r)
        if g_arch == "skip" or r == res:
            g.update({f"{b}.torgb.affine.weight": torch.randn(ch[r], w_dim), f"{b}.torgb.affine.bias": torch.randn(ch[r]),
                      f"{b}.torgb.weight": torch.randn(img, ch[r], 1, 1), f"{b}.torgb.bias": torch.randn(img)})
        if g_arch == "resnet" and r > 4:
            g.update({f"{b}.skip.weight": torch.randn(ch[r], ch[r // 2], 1, 1), f"{b}.skip.resample_filter": filt})

    d = {}

    def conv(name, c_in, c_out, k, bias=True):
        d.update({f"{name}.weight": torch.randn(c_out, c_in, k, k), f"{name}.resample_filter": filt})
        if bias:
            d[f"{name}.bias"] = torch.randn(c_out)

    for r in sorted(ch, reverse=True)[:-1]:
        d[f"b{r}.resample_filter"] = filt
        if r == res or d_arch == "skip":
            conv(f"b{r}.fromrgb", img, ch[r], 1)
        conv(f"b{r}.conv0", ch[r], ch[r], 3)
        conv(f"b{r}.conv1", ch[r], ch[r // 2], 3)
        if d_arch == "resnet":
            conv(f"b{r}.skip", ch[r], ch[r // 2], 1, bias=False)
    if d_arch == "skip":
        conv("b4.fromrgb", img, ch[4], 1)
    conv("b4.conv", ch[4] + mbstd_num_channels, ch[4], 3)
    d.update({"b4.fc.weight": torch.randn(ch[4], ch[4] * 16), "b4.fc.bias": torch.randn(ch[4]),
              "b4.out.weight": torch.randn(1, ch[4]), "b4.out.bias": torch.randn(1)})
    return g, d


def run_cli(args) -> int:
    try:
        main(args)
        return 0
    except SystemExit as e:
        return e.code


def import_weights(tmp_path, g_sd, d_sd, *options) -> Path:
    args = ["import-weights", "stylegan2-ada", "--out", str(tmp_path / "model.ckpt"), *options]
    for flag, sd in (("--G", g_sd), ("--D", d_sd)):
        if sd is not None:
            torch.save(sd, tmp_path / f"{flag[2:]}.pt")
            args += [flag, str(tmp_path / f"{flag[2:]}.pt")]
    assert run_cli(args) == 0
    return tmp_path / "model.ckpt"


OTHER_CONFIGS = {  # (res, img, channel_base, channel_max, z_dim, w_dim, mapping_layers, G, D, mbstd features)
    "32px_orig_d_4_mapping": (32, 3, 512, 32, 8, 12, 4, "skip", "orig", 1),
    "8px_resnet_g_skip_d_deep_mapping": (8, 1, 64, 8, 6, 6, 8, "resnet", "skip", 2),
    "16px_orig_g_resnet_d": (16, 2, 128, 16, 4, 8, 1, "orig", "resnet", 1),
}


@pytest.mark.parametrize("name", sorted(OTHER_CONFIGS))
def test_official_import_weights_other_configs(tmp_path, name):
    res, img, base, cmax, z_dim, w_dim, layers, g_arch, d_arch, mbstd = OTHER_CONFIGS[name]
    torch.manual_seed(0)
    g_sd, d_sd = official_state_dicts(*OTHER_CONFIGS[name])
    ckpt = import_weights(tmp_path, g_sd, d_sd, "--mbstd_group", "2", "--conv_clamp", "null")
    model = lit_gans.load_model(ckpt)
    h = model.hparams
    assert not model.training
    assert (tuple(h.data_shape), h.z_dim, h.w_dim, h.mapping_layers) == ((img, res, res), z_dim, w_dim, layers)
    assert (h.g_architecture, h.d_architecture, h.mbstd_num_channels, h.mbstd_group) == (g_arch, d_arch, mbstd, 2)
    assert channel_table(res, h.channel_base, h.channel_max) == channel_table(res, base, cmax)
    own = model.state_dict()
    for prefix, sd in (("generator.", g_sd), ("generator_ema.", g_sd), ("discriminator.", d_sd)):
        for k, v in sd.items():
            assert k.endswith("resample_filter") or torch.equal(own[prefix + k], v), prefix + k
    # the official names map one to one: nothing of the lit_gans networks is left at its initial value
    assert {k.split(".", 1)[1] for k in own if k.startswith("discriminator.")} <= set(d_sd)
    assert {k.split(".", 1)[1] for k in own if k.startswith("generator.")} <= set(g_sd)
    out = tmp_path / "s.pt"
    assert run_cli(["sample", "--ckpt", str(ckpt), "--num", "3", "--out", str(out)]) == 0
    samples = torch.load(out, weights_only=True)
    assert samples.shape == (3, img, res, res) and torch.isfinite(samples).all()
    with torch.no_grad():
        logits = model.discriminator(torch.randn(4, img, res, res))
        img_const = model.generator_ema.synthesis(model.generator_ema.mapping(torch.randn(2, z_dim)), noise_mode="const")
    assert logits.shape == (4, 1) and img_const.shape == (2, img, res, res)


def test_official_import_one_network_and_clamp_default(tmp_path):
    torch.manual_seed(0)
    g_sd, d_sd = official_state_dicts(16, 3, 128, 16, 4, 8, 2, "skip", "resnet")
    model = lit_gans.load_model(import_weights(tmp_path, None, d_sd, "--z_dim", "5", "--mapping_layers", "3"))
    assert (model.hparams.z_dim, model.hparams.mapping_layers, model.hparams.conv_clamp) == (5, 3, 256.0)
    assert torch.equal(model.discriminator.b16.conv0.weight, d_sd["b16.conv0.weight"])
    model = lit_gans.load_model(import_weights(tmp_path, g_sd, None, "--d_architecture", "orig"))
    assert model.hparams.d_architecture == "orig" and not hasattr(model.discriminator.b16, "skip")
    assert torch.equal(model.generator.synthesis.b16.conv0.weight, g_sd["synthesis.b16.conv0.weight"])


def test_official_import_then_fine_tune_with_ckpt_path(tmp_path):
    torch.manual_seed(0)
    g_sd, d_sd = official_state_dicts(8, 1, 64, 8, 8, 8, 2, "skip", "resnet")
    ckpt = import_weights(tmp_path, g_sd, d_sd)
    args = ["fit", "--model", "StyleGAN2", "--data", "Digits", "--data.image_size", "8",
            "--data.batch_size", "8", "--trainer.max_steps", "2", "--trainer.default_root_dir", str(tmp_path / "run"),
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--model.r1_gamma", "0.5", "--model.z_dim", "4",
            "--ckpt_path", str(ckpt)]
    assert run_cli(args) == 0
    tuned = lit_gans.load_model(next((tmp_path / "run").rglob("last.ckpt")))
    # the networks' settings come from the checkpoint, the training settings from the command line
    assert (tuned.hparams.z_dim, tuned.hparams.r1_gamma) == (8, 0.5)
    assert int(tuned.d_steps) == 1  # max_steps counts the optimizer steps of both players: one batch
    start, now = g_sd["synthesis.b8.conv1.weight"], tuned.generator.synthesis.b8.conv1.weight
    assert 0 < (now - start).abs().max() < 0.1  # it trained from the imported weights, a few small steps


@pytest.mark.parametrize("break_it, message", [
    (lambda g, d: g.update({"mapping.embed.weight": torch.randn(8, 4)}), "conditional generator"),
    (lambda g, d: d.update({"b4.out.weight": torch.randn(8, 8)}), "conditional discriminator"),
    (lambda g, d: [g.pop(k) for k in list(g) if k.startswith("synthesis.b8.")], "are not 4, 8, ..., R"),
    (lambda g, d: g.update({"synthesis.b16.conv1.weight": torch.randn(4, 8, 3, 3)}), "do not fit together"),
    (lambda g, d: g.update({"synthesis.b8.extra": torch.randn(1)}), "unexpected"),
], ids=["conditional_g", "conditional_d", "missing_resolution", "g_d_mismatch", "unknown_tensor"])
def test_official_import_refuses_unknown_layouts_in_one_line(tmp_path, capsys, break_it, message):
    torch.manual_seed(0)
    g_sd, d_sd = official_state_dicts(16, 3, 128, 8, 4, 8, 2, "skip", "resnet")
    break_it(g_sd, d_sd)
    torch.save(g_sd, tmp_path / "G.pt")
    torch.save(d_sd, tmp_path / "D.pt")
    code = run_cli(["import-weights", "stylegan2-ada", "--G", str(tmp_path / "G.pt"), "--D", str(tmp_path / "D.pt"),
                    "--out", str(tmp_path / "m.ckpt")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "m.ckpt").exists()


def test_official_load_model_is_lazy():
    import subprocess
    import sys

    code = "import sys, lit_gans; print('torch' in sys.modules, callable(lit_gans.load_model))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_official_layers_refuse_checkpoints_of_the_old_layers():
    model = StyleGAN2(data_shape=(1, 8, 8), z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8)
    old = model.state_dict() | {"generator.synthesis.convs.0.0.bias": torch.zeros(8)}
    with pytest.raises(ValueError, match="before they matched the official code"):
        model.load_state_dict(old)
    model.load_state_dict(model.state_dict())  # the present layout loads
