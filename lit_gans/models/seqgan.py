"""SeqGAN: Yu, Zhang, Wang & Yu 2017, "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient", AAAI-17,
arXiv:1609.05473.

Tokens are discrete, so D's gradient cannot flow into G. The generator G_θ is a stochastic policy (state: the
tokens so far, action: the next token); its reward is the discriminator's probability that a finished sequence is
real, and partial sequences are scored by Monte Carlo rollouts. Algorithm 1 of the paper, with its stages as data
(:meth:`SeqGAN.schedule`; one *epoch* is one pass over the real sequences S):

1. Pre-train G_θ by maximum likelihood on S for ``g_pretrain_epochs`` epochs.                     [stage ``mle``]
2. Pre-train D_φ: ``d_pretrain_steps`` times, generate negatives with G_θ and train D_φ for ``d_epochs`` epochs on
   them and S by the cross-entropy of Eq. 5.                                                 [stage ``d_pretrain``]
3. The rollout policy G_β: the paper's G_β = G_θ (the default: completions are drawn by the current generator);
   with ``rollout_update_rate`` r set, β ← θ here, a delayed copy.
4. Repeat ``adversarial_rounds`` times:                                                     [stage ``adversarial``]
   a. ``g_steps`` times: draw Y_1:T ~ G_θ; for every t compute the action value of Eq. 4,
      Q(Y_1:t-1, y_t) = mean over ``rollout_num`` completions Y^n of Y_1:t by G_β of D_φ(Y^n)  (t < T),
      Q(Y_1:T-1, y_T) = D_φ(Y_1:T)                                                             (t = T);
      step θ along the policy gradient of Eq. 8, E[Σ_t Q(Y_1:t-1, y_t) ∇_θ log G_θ(y_t | Y_1:t-1)].
   b. Only with ``rollout_update_rate`` r: β ← r β + (1 - r) θ, the rollout follows G with a delay. The official
      code declares this update with r = 0.8, but its rollout graph reads G's variables through ``tf.identity`` and
      ``update_params`` rebuilds ops that graph never runs, so its rollouts come from the current G as well.
   c. ``d_steps`` times: generate fresh negatives with G_θ, train D_φ on them and S for ``d_epochs`` epochs.

Defaults are the paper's and the official code's (github.com/LantaoYu/SeqGAN): Adam with lr 0.01 for G and 1e-4 for D,
G's gradient clipped to global norm 5, D's two-logit output layer initialised and L2-penalised (weight 0.2) as the
official one, 16 rollouts by the current generator, 1 g-step, 5 d-steps of 3 epochs. The stage position
(``schedule_epoch``) and the step counters are buffers, so a resumed run continues in the same stage. Train with
``max_epochs: -1``: the model stops the trainer when its schedule ends.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Literal, NamedTuple, Optional, Sequence

import torch
from torch import Tensor, nn

from lit_gans.losses import policy_gradient_loss
from lit_gans.models.base import GANModule, OptimizerFactory
from lit_gans.nets.seqgan import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator, LSTMGenerator


class Stage(NamedTuple):
    name: str  #: ``mle``, ``d_pretrain`` or ``adversarial``
    epochs: int  #: passes over the real data the stage lasts


@torch.no_grad()
def rollout_rewards(
    rollout: LSTMGenerator,
    p_real: Callable[[Tensor], Tensor],
    tokens: Tensor,
    rollout_num: int,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Q(Y_1:t-1, y_t) of Eq. 4 for every step of (N, T) sequences, shape (N, T).

    For t < T the mean of ``p_real`` over ``rollout_num`` completions of the prefix Y_1:t drawn from ``rollout``;
    for t = T, ``p_real`` of the finished sequence itself.
    """
    n, seq_len = tokens.shape
    rewards = torch.empty(n, seq_len, device=tokens.device)
    for t in range(1, seq_len):
        prefixes = tokens[:, :t].repeat(rollout_num, 1)  # (M * N, t): rollout m of sequence i is row m * N + i
        completions = rollout.sample(len(prefixes), prefix=prefixes, generator=generator)  # (M * N, T)
        rewards[:, t - 1] = p_real(completions).view(rollout_num, n).mean(dim=0)
    rewards[:, seq_len - 1] = p_real(tokens)
    return rewards


class SeqGAN(GANModule):
    """LSTM policy G_θ, CNN discriminator D_φ, rollout policy G_β, trained in the stages of Algorithm 1.

    Args:
        data_shape: ``(T,)``, the sequence length (linked from the data).
        num_classes: the vocabulary size V (the sequence DataModules report it as ``num_classes``; linked).
        emb_dim, hidden_dim, start_token: G's LSTM (paper: 32, 32; start token 0).
        d_emb_dim, d_filter_sizes, d_num_filters, d_dropout: D's CNN (appendix: emb 64, windows 1-10, 15, 20 with
            100-200 filters, dropout keeping 0.75).
        d_l2_reg: weight of the L2 penalty on D's output layer (official code: 0.2).
        d_output_layer: ``official`` (two logits, the official initialisation) or ``one_logit`` (the layer lit_gans
            had before; with it, ``d_l2_reg`` 0.2 penalises twice as strongly, see :meth:`discriminator_loss`).
        g_pretrain_epochs: MLE epochs of step 1 (official code: 120).
        d_pretrain_steps: negative draws of step 2, each trained ``d_epochs`` epochs (official code: 50).
        adversarial_rounds: rounds of step 4 (the paper's learning curve runs to about 150-200).
        g_steps, d_steps, d_epochs: per round, generator updates and negative draws trained ``d_epochs`` epochs each
            (paper: 1, 5, 3).
        rollout_num: Monte Carlo rollouts per prefix, M in Eq. 4 (paper: 16).
        rollout_update_rate: ``None`` (default): G_β = G_θ as in the paper (and, in effect, the official code); a
            number r: G_β is a copy updated β ← r β + (1 - r) θ after each round (the official code's declared
            0.8).
        g_grad_clip: global-norm clip of G's gradient, MLE and policy gradient alike (official code: 5.0).
        vocabulary, separator: token strings and their joiner, for :meth:`decode`; filled from a text DataModule at
            fit time and saved with the hyper-parameters (``None``: tokens print as ids).
        g_optimizer, d_optimizer: optimizer factories; ``None`` takes Adam(lr=0.01) for G, Adam(lr=1e-4) for D.
        pg_optimizer: optimizer factory of G's policy-gradient steps; ``None`` uses ``g_optimizer``'s (the official
            code: one Adam(lr=0.01) setting for MLE and policy gradient alike). Each is a fresh optimizer either way.

    >>> SeqGAN(data_shape=(6,), num_classes=12, d_filter_sizes=(2, 3), d_num_filters=(4, 4)).sample(2, seed=0).shape
    torch.Size([2, 6])
    """

    default_optimizer = (torch.optim.Adam, {"lr": 1e-2})
    default_d_optimizer = (torch.optim.Adam, {"lr": 1e-4})
    host_counters = GANModule.host_counters + ("schedule_epoch",)
    has_latent = False  # G_θ draws its tokens itself: no z

    def __init__(
        self,
        data_shape: Sequence[int] = (20,),
        num_classes: int = 5000,
        emb_dim: int = 32,
        hidden_dim: int = 32,
        start_token: int = 0,
        d_emb_dim: int = 64,
        d_filter_sizes: Sequence[int] = PAPER_FILTER_SIZES,
        d_num_filters: Sequence[int] = PAPER_NUM_FILTERS,
        d_dropout: float = 0.25,
        d_l2_reg: float = 0.2,
        d_output_layer: Literal["official", "one_logit"] = "official",
        g_pretrain_epochs: int = 120,
        d_pretrain_steps: int = 50,
        adversarial_rounds: int = 200,
        g_steps: int = 1,
        d_steps: int = 5,
        d_epochs: int = 3,
        rollout_num: int = 16,
        rollout_update_rate: Optional[float] = None,
        g_grad_clip: Optional[float] = 5.0,
        vocabulary: Optional[list[str]] = None,
        separator: str = " ",
        g_optimizer: Optional[OptimizerFactory] = None,
        d_optimizer: Optional[OptimizerFactory] = None,
        pg_optimizer: Optional[OptimizerFactory] = None,
    ) -> None:
        super().__init__(loss="non_saturating", g_optimizer=g_optimizer, d_optimizer=d_optimizer)
        self.save_hyperparameters(ignore=["g_optimizer", "d_optimizer", "pg_optimizer"])
        self.pg_optimizer = pg_optimizer
        if len(data_shape) != 1:
            raise ValueError(f"SeqGAN needs sequence data of shape (seq_len,), got {tuple(data_shape)}: use the Oracle or Text data")
        if num_classes < 2:
            raise ValueError(f"num_classes is the vocabulary size and must be >= 2, got {num_classes}: use the Oracle or Text data")
        if min(g_pretrain_epochs, d_pretrain_steps, adversarial_rounds, g_steps) < 0 or min(d_steps, d_epochs, rollout_num) < 1:
            raise ValueError("stage lengths must be >= 0, and d_steps, d_epochs, rollout_num >= 1")
        if rollout_update_rate is not None and not 0.0 <= rollout_update_rate <= 1.0:
            raise ValueError(f"rollout_update_rate must be in [0, 1], got {rollout_update_rate}")
        seq_len = int(data_shape[0])
        self.generator = LSTMGenerator(num_classes, seq_len, emb_dim, hidden_dim, start_token)
        self.discriminator = CNNDiscriminator(num_classes, seq_len, d_emb_dim, d_filter_sizes, d_num_filters, d_dropout,
                                              d_output_layer)
        # G_β: a delayed copy only when asked for; otherwise the generator itself (the paper's G_β = G_θ)
        self.rollout = copy.deepcopy(self.generator).requires_grad_(False) if rollout_update_rate is not None else None
        self.schedule_epoch = 0  # epochs of the schedule done (a Python int saved in the state dict: host_counters)
        self._negatives: Optional[Tensor] = None  # (pool, T) generated sequences of the current d-step
        self._order: Optional[Tensor] = None  # this epoch's shuffle of the negatives

    # --- the schedule -------------------------------------------------------------------------------------------------
    def schedule(self) -> list[Stage]:
        h = self.hparams
        return [
            Stage("mle", h.g_pretrain_epochs),
            Stage("d_pretrain", h.d_pretrain_steps * h.d_epochs),
            Stage("adversarial", h.adversarial_rounds * h.d_steps * h.d_epochs),
        ]

    def stage(self) -> tuple[str, int]:
        """(name of the current stage, epochs already done in it); ``("done", 0)`` after the last one."""
        done = self.schedule_epoch
        for s in self.schedule():
            if done < s.epochs:
                return s.name, done
            done -= s.epochs
        return "done", 0

    def stage_ends_with_this_epoch(self) -> bool:
        """Asked at the end of an epoch, before the module counts it: whether it is the last of a stage."""
        done, boundary = self.schedule_epoch + 1, 0
        for stage in self.schedule():
            boundary += stage.epochs
            if stage.epochs and done == boundary:
                return True
        return False

    # --- the training step ----------------------------------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> None:
        """SeqGAN keeps its own step, not the base's loop over :meth:`phases`: its schedule is made of epochs, not of
        steps (MLE pre-training; D trained for ``d_epochs`` on a pool of negatives drawn once per pass; adversarial
        rounds whose generator turn, rollouts and policy-gradient updates, runs once at the first batch of a round),
        and G has two optimizers (MLE and policy gradient). The stages are data too: :meth:`schedule`."""
        real = self.real_data(batch)  # (N, T)
        g_mle_opt, g_pg_opt, d_opt = self.optimizers()
        name, epoch = self.stage()
        if name == "done":
            return
        if name == "mle":  # 1. MLE pre-training
            logs = self.player_step("g", g_mle_opt, self.generator, self.mle_loss, real)
            self.g_steps += 1
        else:  # 2. D pre-training, or 4. an adversarial round: (a-b) G's turn at its first batch, (c) D epochs
            logs = {}
            per_round = self.hparams.d_steps * self.hparams.d_epochs
            if name == "adversarial" and epoch % per_round == 0 and batch_idx == 0:
                logs |= self.adversarial_generator_steps(g_pg_opt, len(real), first_round=epoch == 0)
            if batch_idx == 0:
                self.prepare_negatives(epoch % self.hparams.d_epochs == 0, len(real))
            fake = self._negatives[self._order[batch_idx * len(real) : (batch_idx + 1) * len(real)]]
            logs |= self.player_step("d", d_opt, self.discriminator, self.discriminator_loss, (real, fake))
            self.d_steps += 1
        if self.host_read:
            self.log("train/stage", float(["mle", "d_pretrain", "adversarial"].index(name)), batch_size=1)
        self.log_train(logs, len(real))

    def adversarial_generator_steps(self, opt, n: int, first_round: bool) -> dict[str, Tensor]:
        """Steps 3 and 4a-b: policy-gradient updates of G_θ, then the delayed rollout update (if any)."""
        if first_round and self.rollout is not None:
            self.rollout.load_state_dict(self.generator.state_dict())  # 3. β ← θ
        logs = {}
        for _ in range(self.hparams.g_steps):
            tokens = self.generator.sample(n)  # Y_1:T ~ G_θ, (N, T)
            rewards = rollout_rewards(self.rollout_policy, self.p_real, tokens, self.hparams.rollout_num)  # (N, T)
            logs = self.player_step("g", opt, self.generator, self.generator_loss, (tokens, rewards))
            logs["reward"] = rewards.mean()
            self.g_steps += 1
        self.update_rollout()
        return logs

    @property
    def rollout_policy(self) -> LSTMGenerator:
        """G_β, the policy that completes prefixes in Eq. 4: the delayed copy if there is one, else G_θ itself."""
        return self.rollout if self.rollout is not None else self.generator

    @torch.no_grad()
    def update_rollout(self) -> None:
        """β ← r β + (1 - r) θ; nothing when G_β is G_θ itself."""
        if self.rollout is None:
            return
        for p_beta, p_theta in zip(self.rollout.parameters(), self.generator.parameters()):
            p_beta.lerp_(p_theta, 1.0 - self.hparams.rollout_update_rate)

    def prepare_negatives(self, new_draw: bool, batch_size: int) -> None:
        """A fresh pool of negatives (as many as real sequences in an epoch) at each d-step; a new order each epoch."""
        pool = int(self.trainer.num_training_batches) * batch_size
        if new_draw or self._negatives is None or len(self._negatives) < pool:
            self._negatives = self.generate_sequences(self.generator, pool)
        self._order = torch.randperm(len(self._negatives), device=self.device)

    # --- the players' objectives --------------------------------------------------------------------------------------
    def mle_loss(self, real: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean per-token negative log-likelihood of real sequences under G_θ (teacher forcing)."""
        loss = -self.generator.log_prob(real).mean()
        return loss, {"g_nll": loss.detach()}

    def generator_loss(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        tokens, rewards = batch
        return policy_gradient_loss(self.generator.log_prob(tokens), rewards), {}

    def discriminator_loss(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 5: cross-entropy, averaged over the 2N real and generated sequences, plus the output layer's L2.

        The penalty is the official one, λ (|W|² + |b|²) / 2 on the two-logit layer. The logit of P(real) is
        s_1 - s_0 = h·d + (b_1 - b_0) with d = w_1 - w_0; writing u = w_1 + w_0, |w_0|² + |w_1|² = (|d|² + |u|²) / 2,
        and u does not reach the loss. So on the one-logit layer (weight d) the same penalty is (λ / 2) |d|² / 2:
        with ``d_output_layer: one_logit``, ``d_l2_reg`` 0.2 is twice the official strength and 0.1 is its equal."""
        real, fake = batch
        real_out, fake_out = self.discriminator(real), self.discriminator(fake)
        l2 = 0.5 * sum(p.pow(2).sum() for p in self.discriminator.out.parameters())
        loss = 0.5 * self.adv.d_loss(real_out, fake_out) + self.hparams.d_l2_reg * l2
        return loss, self.d_output_logs(real_out, fake_out)

    def held_out_logs(self, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        """``validate``/``test``: the generator's per-token NLL of held-out real sequences."""
        return self.mle_loss(batch[0])[1]

    @torch.no_grad()
    def p_real(self, tokens: Tensor, batch_size: int = 4096) -> Tensor:
        """D_φ's probability that each (N, T) sequence is real, dropout off (the reward of Eq. 4), shape (N,)."""
        was_training = self.discriminator.training
        self.discriminator.eval()
        try:
            return torch.cat([torch.sigmoid(self.discriminator(chunk)) for chunk in tokens.split(batch_size)])
        finally:
            self.discriminator.train(was_training)

    # --- optimizers and bookkeeping -----------------------------------------------------------------------------------
    def configure_optimizers(self):
        """G has two Adam optimizers, MLE and policy gradient (as in the official code), both clipped; D has one."""
        g_opts = [self._make_optimizer(factory, self.generator.parameters())
                  for factory in (self.g_optimizer, self.pg_optimizer or self.g_optimizer)]
        if self.hparams.g_grad_clip is not None:
            for opt in g_opts:
                opt.register_step_pre_hook(self._clip_generator_grad)
        d_factory = self.d_optimizer or (lambda p: self.default_d_optimizer[0](p, **self.default_d_optimizer[1]))
        return [*g_opts, d_factory(self.discriminator.parameters())]

    def _clip_generator_grad(self, optimizer, args, kwargs) -> None:
        torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.hparams.g_grad_clip)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if self.stage()[0] != "done":
            self.schedule_epoch += 1
        if self.stage()[0] == "done":
            self.trainer.should_stop = True

    # --- checkpoints keep the current d-step's negatives, so that a run stopped mid-epoch resumes exactly ---------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        if self._negatives is not None:
            checkpoint["seqgan_negatives"] = {"negatives": self._negatives, "order": self._order}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("seqgan_negatives")
        if saved is not None:
            self._negatives, self._order = saved["negatives"].to(self.device), saved["order"].to(self.device)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        # A text DataModule brings the token strings: keep them with the hyper-parameters, so checkpoints decode.
        vocab = getattr(self.trainer.datamodule, "vocabulary", None) if self._trainer else None
        if vocab is not None and self.hparams.vocabulary is None:
            if len(vocab.tokens) != self.hparams.num_classes:
                raise ValueError(f"the data has {len(vocab.tokens)} tokens but the model num_classes={self.hparams.num_classes}")
            self.hparams.vocabulary, self.hparams.separator = list(vocab.tokens), vocab.separator

    # --- sampling: the interface of callbacks, metrics and commands -----------------------------------------------------
    def generate_sequences(self, net: nn.Module, n: int, rng: Optional[torch.Generator] = None,
                           chunk: int = 2048) -> Tensor:
        """``n`` sequences from ``net``, drawn ``chunk`` at a time (bounded memory at V = 5,000), shape (n, T)."""
        return torch.cat([net.sample(len(c), generator=rng) for c in torch.arange(n).split(chunk)])

    @torch.no_grad()
    def sample(self, n: int, *, seed: Optional[int] = None, **condition: Any) -> Tensor:
        """``n`` token sequences from G_θ, a LongTensor (n, T); ``seed`` makes the draw repeatable."""
        self.sample_condition(n, None, **condition)  # SeqGAN is unconditional: rejects any keyword
        return self.generate_sequences(self.generator, n, self.seeded_rng(seed))

    def decode(self, tokens: Tensor) -> list[str]:
        """(N, T) token ids -> N strings: the vocabulary's tokens (padding id 0 dropped) or the ids themselves."""
        vocab, sep = self.hparams.vocabulary, self.hparams.separator
        if vocab is None:
            return super().decode(tokens)
        return [sep.join(vocab[i] for i in row if i != 0) for row in tokens.tolist()]
