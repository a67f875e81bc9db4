"""Gradient accumulation under manual optimisation (lit_gans.accumulation): N batches of size B make the update of
one batch of N*B, step counters count updates, and a variant that cannot accumulate says so in one line."""

import functools

import pytest
import torch
from conftest import quick_trainer
from torch.utils.data import DataLoader, TensorDataset

from lit_gans.accumulation import join_batches, split_batch
from lit_gans.models import VanillaGAN

B, N, Z = 4, 3, 2


class FixedNoise(VanillaGAN):
    """Draws its noise from a fixed (rows, z_dim) tensor in order, so two runs can see the same z however they
    cut their batches."""

    def __init__(self, noise: torch.Tensor, **kwargs):
        super().__init__(**kwargs)
        self.noise, self.drawn = noise, 0

    def sample_latent(self, n, generator=None):
        z = self.noise[self.drawn : self.drawn + n]
        self.drawn += n
        return z


def trained(batches: list[torch.Tensor], accumulate: int, noise: torch.Tensor) -> VanillaGAN:
    """One update of each player (SGD: the step is proportional to the gradient) from the same initial weights."""
    torch.manual_seed(0)
    sgd = functools.partial(torch.optim.SGD, lr=0.5)
    model = FixedNoise(noise, z_dim=Z, g_hidden=(8,), d_hidden=(8,), g_optimizer=sgd, d_optimizer=sgd)
    model.accumulate_grad_batches = accumulate
    loader = DataLoader(TensorDataset(torch.cat(batches)), batch_size=batches[0].shape[0])
    quick_trainer(max_steps=2).fit(model, train_dataloaders=loader)
    assert int(model.d_steps) == 1 and int(model.g_steps) == 1
    return model


def test_n_batches_of_b_make_the_update_of_one_batch_of_n_times_b():
    torch.manual_seed(1)
    batches = [torch.randn(B, 2) for _ in range(N)]
    # D sees z[:N*B], G z[N*B:], in the same order whether cut in N micro-batches or not
    noise = torch.randn(2 * N * B, Z)
    accumulated = trained(batches, N, noise)
    whole = trained([torch.cat(batches)], 1, noise)
    first_only = trained(batches[:1], 1, noise)
    for (name, p), q, r in zip(accumulated.named_parameters(), whole.parameters(), first_only.parameters()):
        assert torch.allclose(p, q, atol=1e-6), name
    assert any(not torch.allclose(p, r, atol=1e-4) for p, r in zip(accumulated.parameters(), first_only.parameters()))


def test_counters_count_updates_and_a_partial_window_ends_the_epoch():
    torch.manual_seed(0)
    model = VanillaGAN(z_dim=Z, g_hidden=(8,), d_hidden=(8,), n_critic=2)
    model.accumulate_grad_batches = 2
    loader = DataLoader(TensorDataset(torch.randn(5 * B, 2)), batch_size=B)  # 5 batches: updates after 2, 4 and 5
    trainer = quick_trainer(max_steps=100, max_epochs=2)
    trainer.fit(model, train_dataloaders=loader)
    assert int(model.d_steps) == 6 and int(model.g_steps) == 3 and trainer.global_step == 9


def test_join_and_split_are_inverse_on_nested_batches():
    x, y = torch.arange(12.0).view(6, 2), torch.arange(6)
    parts = split_batch((x, {"y": y}), 3)
    assert [p[0].shape[0] for p in parts] == [2, 2, 2] and torch.equal(parts[1][1]["y"], torch.tensor([2, 3]))
    joined = join_batches(parts)
    assert torch.equal(joined[0], x) and torch.equal(joined[1]["y"], y)


def test_a_variant_that_cannot_accumulate_says_so():
    from lit_gans.models import CycleGAN

    model = CycleGAN(data_shape=(1, 8, 8), g_channels=4, d_channels=4, n_residual_blocks=1, d_layers=1)
    model.accumulate_grad_batches = 2
    with pytest.raises(ValueError, match="CycleGAN cannot accumulate gradients"):
        model.setup("fit")
