"""The minimax loss's vanishing gradient, in the manner of Arjovsky & Bottou 2017 ("Towards Principled Methods for
Training GANs", arXiv:1701.04862, Figure 2): freeze an untrained generator, train the discriminator towards
optimality on the 8-ring, and measure the generator's gradient norm under each loss as D improves.

The minimax (saturating) loss log(1 - D(G(z))) has gradient sigmoid(f) * df, which vanishes as D rejects the fakes
(D(G(z)) -> 0); the non-saturating loss -log D(G(z)) has gradient (1 - sigmoid(f)) * df, which does not.
Uses :class:`lit_gans.models.VanillaGAN`'s networks and hooks and the loss functions of :mod:`lit_gans.losses`.

    python experiments/benchmarks/vanishing_gradient.py

Writes ``experiments/results/vanishing_gradient.json`` and ``.png`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lit_gans.data.toy import Toy2DDataModule
from lit_gans.losses import g_minimax_loss, g_nonsaturating_loss
from lit_gans.models import VanillaGAN

RESULTS = Path(__file__).resolve().parents[1] / "results"
LOSSES = {"minimax (saturating)": g_minimax_loss, "non-saturating": g_nonsaturating_loss}


def generator_grad_norm(model: VanillaGAN, z: torch.Tensor, g_loss) -> float:
    """||d g_loss(D(G(z))) / d theta_G||_2 over all generator parameters."""
    model.generator.zero_grad(set_to_none=True)
    g_loss(model.discriminate(model.generate(model.generator, z))).backward()
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.generator.parameters()])))


def run(d_steps: int, every: int, seed: int) -> dict:
    torch.manual_seed(seed)
    data = Toy2DDataModule("ring", seed=seed, num_samples=d_steps * 100, batch_size=100)
    data.setup("fit")
    model = VanillaGAN(data_shape=(2,), z_dim=2, g_hidden=(64, 64, 64), d_hidden=(64, 64, 64))
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(seed + 1))
    curves = {name: [] for name in LOSSES}
    steps, d_fake = [], []
    for step, batch in enumerate(data.train_dataloader()):
        if step % every == 0:
            steps.append(step)
            for name, g_loss in LOSSES.items():
                curves[name].append(generator_grad_norm(model, z, g_loss))
            with torch.no_grad():
                d_fake.append(float(torch.sigmoid(model.discriminate(model.generate(model.generator, z))).mean()))
        if step == d_steps:
            break
        loss, _ = model.discriminator_loss(batch)  # the generator is never stepped
        d_opt.zero_grad(set_to_none=True)
        loss.backward()
        d_opt.step()
    return {"d_steps": steps, "mean_D_of_fake": d_fake, "generator_grad_norm": curves}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, norms in result["generator_grad_norm"].items():
        ax.plot(result["d_steps"], norms, label=name)
    ax.set(yscale="log", xlabel="discriminator updates (generator frozen)", ylabel="||grad of generator loss||",
           title="8-ring: generator gradient as D approaches optimality")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d-steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "vanishing_gradient.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = run(args.d_steps, args.every, args.seed)
    result["wall_s"] = time.perf_counter() - start
    print("| D updates | mean D(G(z)) | " + " | ".join(f"grad norm, {n}" for n in LOSSES) + " |")
    print("|---|---|" + "---|" * len(LOSSES))
    for i in range(0, len(result["d_steps"]), max(1, len(result["d_steps"]) // 8)):
        norms = " | ".join(f"{result['generator_grad_norm'][n][i]:.2e}" for n in LOSSES)
        print(f"| {result['d_steps'][i]} | {result['mean_D_of_fake'][i]:.4f} | {norms} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    plot(result, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
