"""CycleGAN: Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", arXiv:1703.10593.

Two generators translate between domains A and B (the paper's G: X -> Y is ``G_AB``, F: Y -> X is ``G_BA``); two
discriminators ``D_A``, ``D_B`` tell real images of their domain from translated ones. Each training batch is an
unpaired couple of image batches ``(a, b)`` and runs, as in the authors' code:

1. translate and translate back: fake_b = G_AB(a), rec_a = G_BA(fake_b); fake_a = G_BA(b), rec_b = G_AB(fake_a).
2. update both generators together (one Adam), both discriminators frozen, on

       L_G = L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A)                                  least-squares adversarial, eq. 1
           + lambda_cycle * (||rec_a - a||_1 + ||rec_b - b||_1)                   cycle consistency, eq. 2
           + lambda_identity * lambda_cycle * (||G_AB(b) - b||_1 + ||G_BA(a) - a||_1)    identity, section 5.2

   with L_GAN(G, D) = E[(D(G(x)) - 1)^2] (LSGAN, section 4), lambda_cycle = 10, lambda_identity = 0.5.
3. update both discriminators together (the other Adam), generators frozen: D_A sees real ``a`` against a fake
   drawn from a 50-image history of G_BA's outputs (:class:`ImagePool`, after Shrivastava et al. 2017), D_B
   likewise; each minimises 1/2 (E[(D(real) - 1)^2] + E[D(fake)^2]) — the paper's "divide the objective by 2 while
   optimizing D" is the 1/2 of :func:`~lit_gans.losses.d_least_squares_loss`.

Optimisation (section 7.1): Adam, lr 0.0002, betas (0.5, 0.999), batch size 1; the learning rate is constant for
``n_epochs`` epochs (100) and then decays linearly to zero over ``n_epochs_decay`` epochs (100).

Everything downstream uses :meth:`CycleGAN.translate`; :meth:`CycleGAN.sample` (the interface of the shared
callbacks) translates given images, or uniform noise when given none, since the model holds no data of its own.
"""

from __future__ import annotations

import functools
import random
from typing import Literal, NamedTuple, Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.losses import cycle_consistency_loss, d_least_squares_loss, identity_loss, squared_error
from lit_gans.models.base import GANModule, OptimizerFactory
from lit_gans.models.phases import Phase
from lit_gans.nets.cyclegan import PatchDiscriminator, ResnetGenerator

Direction = Literal["AtoB", "BtoA"]


class ImagePool:
    """History of generated images that a discriminator is trained on (Shrivastava et al. 2017, section 2.3).

    Until ``size`` images are stored, each incoming image is stored and returned as is. Once full, each incoming
    image is, with probability 1/2, swapped for a random stored one (the stored one is returned and the new one takes
    its place), and otherwise returned as is. ``size = 0`` turns the pool off.
    """

    def __init__(self, size: int = 50, rng: Optional[random.Random] = None) -> None:
        if size < 0:
            raise ValueError(f"pool_size must be >= 0, got {size}")
        self.size = size
        self.rng = rng if rng is not None else random  # Python's global RNG (saved in checkpoints) by default
        self.images: list[Tensor] = []

    def query(self, images: Tensor) -> Tensor:
        """(N, C, H, W) fresh fakes -> (N, C, H, W) fakes for the discriminator, each fresh or from the history."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() < 0.5:  # drawn on the host: no read of the device
                i = self.rng.randrange(self.size)
                out.append(self.images[i].to(image.device))
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Tensor]:
        stored = torch.stack([im.cpu() for im in self.images]) if self.images else torch.zeros(0)
        return {"images": stored}

    def load_state_dict(self, state: dict[str, Tensor], device: Optional[torch.device] = None) -> None:
        self.images = [im.to(device) for im in state["images"]]


class Cycle(NamedTuple):
    """Step 1's images, each (N, C, H, W): the real batches, their translations and their reconstructions."""

    real_a: Tensor
    real_b: Tensor
    fake_b: Tensor  # G_AB(a)
    fake_a: Tensor  # G_BA(b)
    rec_a: Tensor  # G_BA(G_AB(a))
    rec_b: Tensor  # G_AB(G_BA(b))


class CycleGAN(GANModule):
    """Unpaired image-to-image translation between domains A and B.

    Args:
        data_shape: (C, H, W) of the images of both domains, linked from the data; H, W multiples of 4.
        num_classes: ignored (linked from the data).
        g_channels: channels of the generators' first convolution (64 in the paper).
        d_channels: channels of the discriminators' first convolution (64 in the paper).
        n_residual_blocks: residual blocks per generator (9 at 256x256, 6 at 128x128; 2-3 for 16x16 digits).
        d_layers: stride-2 convolutions per discriminator (3: 70x70 patches; 1 for 16x16 images).
        lambda_cycle: weight of the cycle-consistency losses (10).
        lambda_identity: weight of the identity losses relative to ``lambda_cycle`` (0.5; 0 turns them off).
        pool_size: generated images in each discriminator's history (50; 0 turns the pools off).
        n_epochs: epochs at the initial learning rate (100).
        n_epochs_decay: epochs of linear decay of the learning rate to zero that follow (100).
        g_optimizer, d_optimizer: optimizer factories for the two generators' and the two discriminators'
            parameters; ``None`` is Adam(lr=0.0002, betas=(0.5, 0.999)).

    >>> CycleGAN(data_shape=(1, 16, 16), g_channels=8, d_channels=8, n_residual_blocks=1, d_layers=1).translate(
    ...     torch.zeros(2, 1, 16, 16), direction="BtoA").shape
    torch.Size([2, 1, 16, 16])
    """

    supports_accumulation = False  # step 1's translations feed both players' losses: they cannot be cut in pieces
    has_latent = False  # it translates images: no z

    def __init__(
        self,
        data_shape: Sequence[int] = (3, 256, 256),
        num_classes: int = 0,
        g_channels: int = 64,
        d_channels: int = 64,
        n_residual_blocks: int = 9,
        d_layers: int = 3,
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        n_epochs: int = 100,
        n_epochs_decay: int = 100,
        g_optimizer: Optional[OptimizerFactory] = None,
        d_optimizer: Optional[OptimizerFactory] = None,
    ) -> None:
        super().__init__(loss="least_squares", g_optimizer=g_optimizer, d_optimizer=d_optimizer)
        self.save_hyperparameters(ignore=["g_optimizer", "d_optimizer"])
        if len(data_shape) != 3:
            raise ValueError(f"CycleGAN needs image data of shape (C, H, W), got {tuple(data_shape)}")
        if n_epochs < 0 or n_epochs_decay < 0:
            raise ValueError(f"n_epochs and n_epochs_decay must be >= 0, got {n_epochs} and {n_epochs_decay}")
        c = int(data_shape[0])
        self.G_AB = ResnetGenerator(c, g_channels, n_residual_blocks)
        self.G_BA = ResnetGenerator(c, g_channels, n_residual_blocks)
        self.D_A = PatchDiscriminator(c, d_channels, d_layers)
        self.D_B = PatchDiscriminator(c, d_channels, d_layers)
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)  # histories of fake_a and fake_b

    # --- the players: each pair of networks built once, not registered twice (the checkpoint keeps G_AB, D_A, ...) --
    @functools.cached_property
    def generator(self) -> nn.ModuleList:
        """Both generators, the player that one optimizer updates."""
        return nn.ModuleList([self.G_AB, self.G_BA])

    @functools.cached_property
    def discriminator(self) -> nn.ModuleList:
        """Both discriminators, the other player."""
        return nn.ModuleList([self.D_A, self.D_B])

    # --- the schedule: step 1 shared, then steps 2 and 3 ------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("g", self.generator_loss), Phase("d", self.discriminator_loss)]

    def step_inputs(self, batch: Sequence[Tensor]) -> Cycle:
        """Step 1, whose translations both players' losses use (the discriminators' detached)."""
        return self.cycle(batch[0], batch[1])

    def cycle(self, real_a: Tensor, real_b: Tensor) -> Cycle:
        fake_b, fake_a = self.G_AB(real_a), self.G_BA(real_b)
        return Cycle(real_a, real_b, fake_b, fake_a, rec_a=self.G_BA(fake_b), rec_b=self.G_AB(fake_a))

    def generator_loss(self, c: Cycle) -> tuple[Tensor, dict[str, Tensor]]:
        """Step 2's L_G; the logs hold each term before weighting."""
        hp = self.hparams
        adv_ab = squared_error(self.D_B(c.fake_b), 1.0)  # E[(D_B(G_AB(a)) - 1)^2], without LSGAN's 1/2
        adv_ba = squared_error(self.D_A(c.fake_a), 1.0)
        cycle_a = cycle_consistency_loss(c.rec_a, c.real_a)  # ||G_BA(G_AB(a)) - a||_1
        cycle_b = cycle_consistency_loss(c.rec_b, c.real_b)  # ||G_AB(G_BA(b)) - b||_1
        loss = adv_ab + adv_ba + hp.lambda_cycle * (cycle_a + cycle_b)
        logs = {"g_adv_ab": adv_ab, "g_adv_ba": adv_ba, "cycle_a": cycle_a, "cycle_b": cycle_b}
        if hp.lambda_identity > 0:
            identity_b = identity_loss(self.G_AB(c.real_b), c.real_b)  # G_AB should leave a B image alone
            identity_a = identity_loss(self.G_BA(c.real_a), c.real_a)
            loss = loss + hp.lambda_identity * hp.lambda_cycle * (identity_a + identity_b)
            logs |= {"identity_a": identity_a, "identity_b": identity_b}
        return loss, {k: v.detach() for k, v in logs.items()}

    def discriminator_loss(self, c: Cycle) -> tuple[Tensor, dict[str, Tensor]]:
        """Step 3's loss: D_A on real a vs pooled G_BA(b), D_B on real b vs pooled G_AB(a), each halved."""
        fake_a, fake_b = self.pool_a.query(c.fake_a.detach()), self.pool_b.query(c.fake_b.detach())
        real_a_out, fake_a_out = self.D_A(c.real_a), self.D_A(fake_a)
        real_b_out, fake_b_out = self.D_B(c.real_b), self.D_B(fake_b)
        d_a = d_least_squares_loss(real_a_out, fake_a_out)  # 1/2 E[(D(a) - 1)^2] + 1/2 E[D(F(b))^2]
        d_b = d_least_squares_loss(real_b_out, fake_b_out)
        logs = {"d_a_loss": d_a.detach(), "d_b_loss": d_b.detach()}
        logs |= {"d_a_real": real_a_out.detach().mean(), "d_a_fake": fake_a_out.detach().mean()}
        logs |= {"d_b_real": real_b_out.detach().mean(), "d_b_fake": fake_b_out.detach().mean()}
        return d_a + d_b, logs

    def held_out_logs(self, batch: Sequence[Tensor]) -> dict[str, Tensor]:
        """``validate``/``test``: cycle-consistency errors on held-out pairs of domains (no pools, no updates)."""
        c = self.cycle(batch[0], batch[1])
        return {"cycle_a": cycle_consistency_loss(c.rec_a, c.real_a), "cycle_b": cycle_consistency_loss(c.rec_b, c.real_b)}

    # --- optimizers and the learning-rate schedule ------------------------------------------------------------------
    def configure_optimizers(self):
        g_opt = self._make_optimizer(self.g_optimizer, self.generator.parameters())
        d_opt = self._make_optimizer(self.d_optimizer, self.discriminator.parameters())
        schedules = [torch.optim.lr_scheduler.LambdaLR(opt, self.lr_factor) for opt in (g_opt, d_opt)]
        return [g_opt, d_opt], schedules

    def lr_factor(self, epoch: int) -> float:
        """1 for the first ``n_epochs`` epochs, then down by 1/(n_epochs_decay + 1) an epoch (the authors' code)."""
        decayed = max(0, epoch + 1 - self.hparams.n_epochs)
        return max(0.0, 1.0 - decayed / (self.hparams.n_epochs_decay + 1))

    # --- checkpoints keep the two histories, so that a resumed run continues exactly ------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["cyclegan_pools"] = {"a": self.pool_a.state_dict(), "b": self.pool_b.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        pools = checkpoint.get("cyclegan_pools")
        if pools is not None:
            self.pool_a.load_state_dict(pools["a"], self.device)
            self.pool_b.load_state_dict(pools["b"], self.device)

    # --- the interface of callbacks and commands --------------------------------------------------------------------
    @torch.no_grad()
    def translate(self, x: Tensor, direction: Direction = "AtoB") -> Tensor:
        """(N, C, H, W) images of the source domain in [-1, 1] -> their translations, with G in eval mode."""
        nets = {"AtoB": self.G_AB, "BtoA": self.G_BA}
        if direction not in nets:
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        c = self.hparams.data_shape[0]
        if x.dim() != 4 or x.shape[1] != c:
            raise ValueError(f"translate takes images of shape (N, {c}, H, W), got {tuple(x.shape)}")
        with self.eval_mode(nets[direction]) as net:
            return net(x.to(self.device, self.dtype))

    @torch.no_grad()
    def sample(
        self, n: int, *, seed: Optional[int] = None, images: Optional[Tensor] = None, direction: Direction = "AtoB"
    ) -> Tensor:
        """Translations of ``images`` (their first ``n``), or of ``n`` images of uniform noise in [-1, 1] drawn
        with ``seed`` when none are given (a check that the generator runs; translations of real images are what
        :class:`~lit_gans.callbacks.translations.TranslationTriplets` draws)."""
        if images is None:
            rng = self.seeded_rng(seed)
            images = torch.rand(n, *self.hparams.data_shape, device=self.device, generator=rng) * 2.0 - 1.0
        return self.translate(images[:n], direction)

    def predict_step(self, batch: Sequence[Tensor], batch_idx: int) -> dict[str, Tensor]:
        """``lit-gans predict``: the translations of both halves of an ``(a, b)`` batch."""
        return {"fake_b": self.translate(batch[0], "AtoB"), "fake_a": self.translate(batch[1], "BtoA")}
