"""lit_gans' StyleGAN2 against the official code, run side by side, on configurations the golden file does not cover.

Needs a checkout of NVlabs/stylegan2-ada-pytorch (its ``training.networks``; runs on a CPU through the official
reference ops). For each configuration below: build the official ``Generator`` and ``Discriminator``, perturb every
parameter and buffer (so that biases, noise strengths, ``w_avg`` are not at their initial constants), save their
state dicts, import them with ``lit-gans import-weights stylegan2-ada``, and compare the outputs (max |diff| / max
|official|): mapping ws (with ``truncation_psi`` and ``truncation_cutoff``), images with ``noise_mode`` none and
const, D logits.

    python experiments/benchmarks/stylegan2_official_crosscheck.py --official ~/src/stylegan2-ada-pytorch
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]

#: name -> (resolution, image channels, channel_base, channel_max, z_dim, w_dim, mapping layers, G arch, D arch,
#:          mbstd group, mbstd features, conv_clamp)
CONFIGS = {
    "32px_resnet_g_skip_d_clamp": (32, 3, 512, 32, 8, 12, 4, "resnet", "skip", 2, 2, 0.5),
    "8px_orig_g_orig_d_8_mapping": (8, 1, 64, 16, 6, 6, 8, "orig", "orig", 4, 1, None),
    "16px_skip_g_resnet_d_1ch": (16, 1, 512, 32, 8, 8, 2, "skip", "resnet", 4, 1, None),
}


def official_networks(networks, cfg):
    res, img, base, cmax, z_dim, w_dim, layers, g_arch, d_arch, group, mbstd, clamp = cfg
    g = networks.Generator(z_dim, 0, w_dim, res, img, mapping_kwargs=dict(num_layers=layers),
                           synthesis_kwargs=dict(channel_base=base, channel_max=cmax, architecture=g_arch,
                                                 conv_clamp=clamp))
    d = networks.Discriminator(0, res, img, architecture=d_arch, channel_base=base, channel_max=cmax, conv_clamp=clamp,
                               epilogue_kwargs=dict(mbstd_group_size=group, mbstd_num_channels=mbstd))
    with torch.no_grad():
        for net in (g, d):
            for name, t in list(net.named_parameters()) + list(net.named_buffers()):
                if not name.endswith("resample_filter"):
                    t.add_(torch.randn_like(t) * 0.3)
    return g.eval(), d.eval()


def rel(ours: torch.Tensor, official: torch.Tensor) -> float:
    return ((ours - official).abs().max() / official.abs().max()).item()


def compare(networks, cfg, folder: Path) -> dict[str, float]:
    from lit_gans import load_model
    from lit_gans.cli import main

    g, d = official_networks(networks, cfg)
    torch.save(g.state_dict(), folder / "G.pt")
    torch.save(d.state_dict(), folder / "D.pt")
    res, img, *_, group, _, clamp = cfg
    main(["import-weights", "stylegan2-ada", "--G", str(folder / "G.pt"), "--D", str(folder / "D.pt"),
          "--out", str(folder / "m.ckpt"), "--mbstd_group", str(group), "--conv_clamp", "null" if clamp is None else str(clamp)])
    model = load_model(folder / "m.ckpt")
    ours_g, ours_d = model.generator_ema, model.discriminator
    z, x = torch.randn(4, g.z_dim), torch.randn(4, img, res, res)
    with torch.no_grad():
        ws = g.mapping(z, None, truncation_psi=0.6, truncation_cutoff=3)
        out = {"ws_truncated_cutoff3": rel(ours_g.mapping(z, None, truncation_psi=0.6, truncation_cutoff=3), ws)}
        for mode in ("none", "const"):
            out[f"img_noise_{mode}"] = rel(ours_g.synthesis(ws, noise_mode=mode), g.synthesis(ws, noise_mode=mode))
        out["d_logits"] = rel(ours_d(x), d(x, None))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="checkout of NVlabs/stylegan2-ada-pytorch")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/stylegan2_official_crosscheck.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.official))
    from training import networks  # the official code

    torch.manual_seed(0)
    results = {}
    for name, cfg in CONFIGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = compare(networks, cfg, Path(tmp))
        print(name, {k: f"{v:.1e}" for k, v in results[name].items()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": f"python {Path(__file__).relative_to(ROOT)} --official PATH",
                                    "configs": {k: str(v) for k, v in CONFIGS.items()},
                                    "max_relative_error": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
