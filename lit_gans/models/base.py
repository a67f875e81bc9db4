"""The base LightningModule of every lit_gans variant: manual optimisation that alternates the two players.

One training batch runs the due phases of the variant's update schedule (:meth:`GANModule.phases`, data of
:class:`~lit_gans.models.phases.Phase`); the default one is the procedure of Goodfellow et al. 2014
(arXiv:1406.2661), Algorithm 1:

1. update the discriminator on real and generated samples, the generator frozen;
2. every ``n_critic``-th discriminator update, update the generator on fresh noise, the discriminator frozen;
3. after a generator update, move the optional EMA copy of the generator towards it.

Variants override the few hooks below; everything downstream of a model (callbacks, metrics, the CLI) talks to it
only through the sampling interface declared here once (:meth:`GANModule.sample`, :meth:`~GANModule.sample_from_latent`,
:attr:`~GANModule.has_latent`, :attr:`~GANModule.num_label_classes`, :meth:`~GANModule.decode`,
:meth:`~GANModule.translate`, :meth:`~GANModule.stage`), never by probing for attributes.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from typing import Any, Callable, Iterable, Iterator, Optional

import lightning as L
import torch
from lightning.pytorch.plugins.layer_sync import TorchSyncBatchNorm
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn

from lit_gans.accumulation import Accumulator, mean_logs, split_batch
from lit_gans.distributed import BatchNormSync, decorrelate_rng, has_batchnorm, loss_scale
from lit_gans.losses import adversarial_loss
from lit_gans.models.phases import Phase
from lit_gans.checkpoints.format import CHECKPOINT_FORMAT, check_checkpoint
from lit_gans.checkpoints.resume import collect_rng_states, mark_finished_epoch, restore_rng_states
from lit_gans.models.host_state import NonFiniteWatch, keep_counters_in_state_dict

OptimizerFactory = Callable[[Iterable], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Any]
#: attributes that only ever hold plain Python values (see GANModule.__setattr__)
_PLAIN_STATE = frozenset({"_current_fx_name", "host_read", "logged_last_step", "_stepped", "micro_batches"})


class GANModule(L.LightningModule):
    """Alternates discriminator and generator updates with manual optimisation.

    Args:
        loss: adversarial loss pair from :mod:`lit_gans.losses` (``minimax``, ``non_saturating``, ``hinge``,
            ``least_squares``, ``wasserstein``).
        g_optimizer, d_optimizer: one optimizer factory per player (``params -> Optimizer``); LightningCLI fills them
            from YAML (``class_path: torch.optim.Adam``). ``None`` takes the variant's paper default
            (:attr:`default_optimizer`).
        g_scheduler, d_scheduler: optional LR scheduler factories, stepped once per epoch.
        n_critic: discriminator updates per generator update.
        ema_decay: if set, keep ``generator_ema``, an exponential moving average of the generator's weights, and
            sample from it.
    """

    #: paper default optimizer of the variant, used when no factory is given: (class, keyword arguments).
    default_optimizer: tuple[type[torch.optim.Optimizer], dict[str, Any]] = (
        torch.optim.Adam,
        {"lr": 2e-4, "betas": (0.5, 0.999)},
    )
    generator: nn.Module
    discriminator: nn.Module
    #: under DDP, batch norm layers normalise with the statistics of the global batch; set False on a model (or
    #: subclass) to keep per-process statistics.
    sync_batchnorm: bool = True
    #: loader batches per update of each player (:mod:`lit_gans.accumulation`); ``lit-gans fit`` sets it from
    #: ``--trainer.accumulate_grad_batches``
    accumulate_grad_batches: int = 1
    #: False for a variant whose players share work done outside :meth:`player_step` (it cannot be cut in pieces)
    supports_accumulation: bool = True
    #: micro-batches the current update's batch is made of (set by the accumulator while it runs a step)
    micro_batches: int = 1
    #: training counters kept as Python ints and written into the checkpoint's state dict as 0-d long tensors
    #: (:mod:`lit_gans.models.host_state`); a variant with counters of its own extends it
    host_counters: tuple[str, ...] = ("d_steps", "g_steps")
    #: whether the current training step reads values back from the device (logs them, checks the losses): the first
    #: batch of a fit and the steps Lightning writes logs at (``log_every_n_steps``); between them a step never waits
    host_read: bool = True
    #: whether the last training step logged its values (callbacks that read them look at it)
    logged_last_step: bool = True

    def __init__(
        self,
        loss: str = "non_saturating",
        g_optimizer: Optional[OptimizerFactory] = None,
        d_optimizer: Optional[OptimizerFactory] = None,
        g_scheduler: Optional[SchedulerFactory] = None,
        d_scheduler: Optional[SchedulerFactory] = None,
        n_critic: int = 1,
        ema_decay: Optional[float] = None,
    ) -> None:
        super().__init__()
        if n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {n_critic}")
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        self.automatic_optimization = False
        self.adv = adversarial_loss(loss)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.g_scheduler, self.d_scheduler = g_scheduler, d_scheduler
        self.n_critic = n_critic
        self.ema_decay = ema_decay
        self.generator_ema: Optional[nn.Module] = None
        # Player updates so far: Python ints, read every step without waiting for the device, saved in the state
        # dict as the 0-d tensors of the same names that earlier versions kept in buffers (see host_counters)
        self.d_steps, self.g_steps = 0, 0
        self.nonfinite = NonFiniteWatch()
        keep_counters_in_state_dict(self)

    def __setattr__(self, name: str, value: Any) -> None:
        # Plain Python state set several times a step (Lightning's hook name twice a hook, the counters, the host-read
        # flags) skips nn.Module's checks for parameters, buffers and submodules (1.6 us each, 55 times a step)
        if name in _PLAIN_STATE or name in self.host_counters:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # --- hooks a variant overrides ----------------------------------------------------------------------------------
    def sample_latent(self, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """Draws the generator's input noise z ~ N(0, I), shape (n, z_dim)."""
        return torch.randn(n, self.hparams.z_dim, device=self.device, generator=generator)

    def condition(self, batch: Any) -> dict[str, Tensor]:
        """The conditioning a batch carries for both players (``{}`` for unconditional models)."""
        return {}

    def generate(self, net: nn.Module, z: Tensor, **condition: Tensor) -> Tensor:
        """Runs a generator network (the trained one or its EMA copy) on noise, returning data-space samples."""
        return net(z)

    def discriminate(self, x: Tensor, **condition: Tensor) -> Tensor:
        """Discriminator output for a batch, shape (N,): logits, or critic values for the Wasserstein loss."""
        return self.discriminator(x).flatten()

    def real_data(self, batch: Any) -> Tensor:
        """The real samples of a batch ``(x, y)`` or ``x``."""
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    # --- the two players' objectives --------------------------------------------------------------------------------
    def discriminator_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """Loss of step 1: D on real x and on G(z), G frozen (a variant adds its penalties here)."""
        return self.adversarial_d_loss(batch)

    def adversarial_d_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """The adversarial term of D's loss alone, on real x and G(z), and D's mean outputs."""
        real, cond = self.real_data(batch), self.condition(batch)
        fake = self.generate(self.generator, self.sample_latent(real.shape[0]), **cond)
        real_out, fake_out = self.discriminate(real, **cond), self.discriminate(fake.detach(), **cond)
        return self.adv.d_loss(real_out, fake_out), self.d_output_logs(real_out, fake_out)

    def generator_loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """Loss of step 2: G through D on fresh noise, D frozen."""
        real, cond = self.real_data(batch), self.condition(batch)
        fake = self.generate(self.generator, self.sample_latent(real.shape[0]), **cond)
        return self.adv.g_loss(self.discriminate(fake, **cond)), {}

    def d_output_logs(self, real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        """Mean D(x) and D(G(z)): probabilities for a probabilistic loss, raw critic values otherwise (on the steps
        that log, :attr:`host_read`; none on the training steps in between)."""
        if self.quiet_step():
            return {}
        to_prob = torch.sigmoid if self.adv.probabilistic else (lambda t: t)
        return {"d_real": to_prob(real_out.detach()).mean(), "d_fake": to_prob(fake_out.detach()).mean()}

    # --- the update schedule and the training step -------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        """The update schedule in running order (Goodfellow et al. 2014, Algorithm 1): 1. the discriminator every
        step, G frozen; 2. the generator when :meth:`generator_step_due` (every ``n_critic``-th), D frozen."""
        return [Phase("d", self.discriminator_loss), Phase("g", self.generator_loss, due=self.generator_step_due)]

    def step_inputs(self, batch: Any) -> Any:
        """What the phases' losses take: the batch itself, or work that both players share (CycleGAN's translations)."""
        return batch

    def training_step(self, batch: Any, batch_idx: int) -> None:
        """The due phases of :meth:`phases`, in order, each an optimizer step of its player with the other frozen;
        after each player's turn its counter moves, and after the generator's the EMA generator (3.)."""
        inputs, step = self.step_inputs(batch), self.d_steps + 1
        opts, nets = dict(zip("gd", self.optimizers())), {"g": self.generator, "d": self.discriminator}
        logs: dict[str, Tensor] = {}
        for player, turn in itertools.groupby(self.phases(), key=lambda phase: phase.player):
            ran = False
            for phase in turn:
                if phase.runs_at(step):
                    out = self.player_step(player, opts[player], nets[player], phase.loss, inputs)
                    logs |= {f"{phase.name}/{k}" if phase.name else k: v for k, v in out.items()}
                    ran = True
            if ran:
                self.end_turn(player, self.batch_size(batch))
        self.log_train(logs, self.batch_size(batch))

    def log_train(self, logs: dict[str, Tensor], batch_size: int) -> None:
        """Logs a training step's values as ``train/<name>`` on the steps that read the host (:attr:`host_read`),
        with ``train/g_steps``; between them nothing is logged (Lightning would not write it) and nothing waits."""
        self.logged_last_step = self.host_read
        if self.host_read:
            self.log_dict({f"train/{k}": v for k, v in logs.items()}, prog_bar=False, batch_size=batch_size)
            self.log("train/g_steps", float(self.g_steps), batch_size=1)
            self.nonfinite.check(self.global_step)
        self._stepped = True

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if getattr(self, "_stepped", False):  # a training step ran in this batch: the next reads the host if due
            self.host_read = self._stepped = False

    def on_train_start(self) -> None:
        self.host_read = True  # the first batch of a fit: its numbers show at once, bad input fails at once
        self.__dict__["_others_of"] = {}  # optimizer -> the other players' parameters (others_frozen), this fit's
        if getattr(self, "_epoch_end_pending", False):  # the schedules' step of the epoch the checkpoint ended
            self._epoch_end_pending = False
            self.on_train_epoch_end()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # sticky until a training step uses it (with accumulation the step runs at the window's last batch)
        self.host_read = host_read_due(self.trainer, self.host_read)

    def quiet_step(self) -> bool:
        """True during a training step that logs nothing (not :attr:`host_read`): values only logged can be skipped."""
        return self.training and not self.host_read

    def end_turn(self, player: str, batch_size: int) -> None:
        """Counts one update of ``player`` in this step; after the generator's, the EMA generator follows it."""
        if player == "d":
            self.d_steps += 1
        else:
            self.g_steps += 1
            self.update_ema(self.ema_decay_at(batch_size))

    def generator_step_due(self) -> bool:
        """Whether the discriminator updates made so far call for a generator update now: every ``n_critic``-th."""
        return self.d_steps % self.n_critic == 0

    def player_step(self, name: str, opt, net: nn.Module, loss_fn, batch: Any) -> dict[str, Tensor]:
        """One optimizer step of one player with the other frozen; returns its logs, loss and gradient norm (the norm
        only on a step that logs). With accumulation the loss is computed and backpropagated micro-batch by
        micro-batch (``loss / N`` each). A non-finite loss raises :class:`NonFiniteLossError`: at once on a step that
        reads the host (before the bad gradient reaches the weights), otherwise at the next such step or checkpoint
        (:class:`~lit_gans.models.host_state.NonFiniteWatch`: no checkpoint is written after it)."""
        with self.others_frozen(opt):
            opt.zero_grad(set_to_none=True)
            parts = split_batch(batch, self.micro_batches)
            part_logs = []
            for part in parts:
                loss, logs = loss_fn(part)
                self.nonfinite.note(loss, "discriminator" if name == "d" else "generator", self.global_step,
                                    check=self.host_read)
                self.manual_backward(loss / len(parts) if len(parts) > 1 else loss)  # no division node for one part
                part_logs.append({f"{name}_loss": loss.detach(), **logs})
            logs = mean_logs(part_logs)
            if self.host_read:
                # under fp16 the gradients are still multiplied by the loss scale here (Lightning unscales in opt.step)
                logs[f"{name}_grad_norm"] = _grad_norm(net.parameters()) / loss_scale(self._trainer)
            opt.step()
        return logs

    @contextlib.contextmanager
    def others_frozen(self, opt) -> Iterator[None]:
        """The parameters of the other optimizers frozen inside the block (``requires_grad`` False, restored after;
        those frozen already, e.g. by FreezeD, stay so), as Lightning's ``toggled_optimizer`` does, from a list kept
        per optimizer: Lightning rebuilds a dict over every parameter twice a player step (27 us on a tiny DCGAN,
        against 1.3 us)."""
        inner = getattr(opt, "optimizer", opt)  # Lightning wraps each optimizer
        cache = self.__dict__.setdefault("_others_of", {})
        others = cache.get(inner)
        if others is None:
            mine = {id(p) for group in inner.param_groups for p in group["params"]}
            everyone = [getattr(o, "optimizer", o) for o in self.trainer.optimizers]
            others = [p for o in everyone if o is not inner for group in o.param_groups for p in group["params"]
                      if id(p) not in mine]
            others = cache[inner] = list({id(p): p for p in others}.values())  # each once
        frozen = [p for p in others if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in frozen:
                p.requires_grad_(True)

    @staticmethod
    def batch_size(batch: Any) -> int:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return int(x.shape[0])

    # --- validate / test / predict ------------------------------------------------------------------------------------
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._log_held_out("val", batch)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._log_held_out("test", batch)

    def _log_held_out(self, stage: str, batch: Any) -> None:
        logs = self.held_out_logs(batch)
        self.log_dict({f"{stage}/{k}": v for k, v in logs.items()}, batch_size=self.batch_size(batch), sync_dist=True)

    def held_out_logs(self, batch: Any) -> dict[str, Tensor]:
        """What ``validate``/``test`` report on held-out data: D's adversarial loss (without penalties, which need
        gradients) and mean outputs on real and generated data; a discriminator that separates held-out real data
        from samples much better than training data overfits."""
        loss, logs = self.adversarial_d_loss(batch)
        return {"d_loss": loss, **logs}

    def predict_step(self, batch: Any, batch_idx: int) -> Tensor:
        """``predict`` draws one sample per element of each batch (seeded by the batch index), conditioned on its
        labels for conditional models."""
        return self.sample(self.batch_size(batch), seed=batch_idx, **self.condition(batch))

    # --- optimizers ---------------------------------------------------------------------------------------------------
    def configure_optimizers(self):
        g_opt = self._make_optimizer(self.g_optimizer, self.generator.parameters())
        d_opt = self._make_optimizer(self.d_optimizer, self.discriminator.parameters())
        schedulers = [f(o) for f, o in ((self.g_scheduler, g_opt), (self.d_scheduler, d_opt)) if f is not None]
        return [g_opt, d_opt], schedulers

    def _make_optimizer(self, factory: Optional[OptimizerFactory], params) -> torch.optim.Optimizer:
        if factory is not None:
            return factory(params)
        cls, kwargs = self.default_optimizer
        return cls(params, **kwargs)

    def on_train_epoch_end(self) -> None:
        self.nonfinite.check(self.global_step)
        schedulers = self.lr_schedulers()
        for sch in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            sch.step()

    # --- distributed training -------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        # Each player's update leaves the other player's parameters out of the loss, which DistributedDataParallel
        # refuses ("parameters that were not used in producing the loss") unless it looks for unused parameters.
        # Runs before the strategy wraps the model; a value the user set explicitly is kept.
        strategy = self._trainer.strategy if self._trainer is not None else None
        if isinstance(strategy, DDPStrategy):
            strategy._ddp_kwargs.setdefault("find_unused_parameters", True)
            # Batch norm over the global batch by default; Lightning's own plugin (Trainer(sync_batchnorm=True))
            # is swapped for ours, which also runs on CPUs.
            layer_sync = strategy._layer_sync
            wanted = layer_sync is None and self.sync_batchnorm and has_batchnorm(self)
            if wanted or type(layer_sync) is TorchSyncBatchNorm:
                strategy._layer_sync = BatchNormSync(strategy.root_device.type)
        if stage == "fit" and self._trainer is not None and self.trainer.world_size > 1:
            decorrelate_rng(self.trainer.global_rank)  # every process its own noise z
        if stage == "fit" and self.accumulate_grad_batches > 1:
            self._accumulate(self.accumulate_grad_batches)

    def _accumulate(self, n: int) -> None:
        """Makes ``training_step`` (the variant's own) run once every ``n`` loader batches, on them joined."""
        if not self.supports_accumulation:
            raise ValueError(f"{type(self).__name__} cannot accumulate gradients (accumulate_grad_batches={n}): its "
                             "players share one forward pass; lower data.batch_size instead")
        if not isinstance(getattr(self.training_step, "__self__", None), Accumulator):  # not wrapped twice
            self.training_step = Accumulator(self, self.training_step, n).training_step

    # --- EMA generator ------------------------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        if self.ema_decay is not None and self.generator_ema is None:
            self._make_ema()

    def ema_decay_at(self, batch_size: int) -> Optional[float]:
        """The EMA decay of this generator update: ``ema_decay`` (StyleGAN2 derives it from a half-life in images)."""
        return self.ema_decay

    def _make_ema(self) -> None:
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False).eval()

    @torch.no_grad()
    def update_ema(self, decay: Optional[float] = None) -> None:
        """generator_ema <- decay * generator_ema + (1 - decay) * generator (``decay`` defaults to ``ema_decay``);
        buffers (e.g. BN statistics) copied."""
        if self.generator_ema is None:
            return
        decay = self.ema_decay if decay is None else decay
        ema_params, params = list(self.generator_ema.parameters()), [p.detach() for p in self.generator.parameters()]
        if ema_params:
            torch._foreach_lerp_(ema_params, params, 1.0 - decay)  # one fused call instead of one per tensor
        ema_buffers, buffers = list(self.generator_ema.buffers()), list(self.generator.buffers())
        if ema_buffers:
            torch._foreach_copy_(ema_buffers, buffers)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # A checkpoint made with an EMA generator brings its weights: make the copy to receive them.
        if self.generator_ema is None and any(k.startswith("generator_ema.") for k in state_dict):
            self._make_ema()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # --- sampling: the one interface every callback, metric and command uses ----------------------------------------
    #: the generator maps a latent vector z (:meth:`sample_latent`, :meth:`sample_from_latent`: interpolation strips,
    #: export); False for a variant that translates given images (CycleGAN) or draws tokens itself (SeqGAN)
    has_latent: bool = True

    @property
    def num_label_classes(self) -> int:
        """K for a model that :meth:`sample` conditions on class ``labels`` in [0, K) (CGAN); 0 otherwise."""
        return 0

    @torch.no_grad()
    def sample(self, n: int, *, seed: Optional[int] = None, **condition: Any) -> Tensor:
        """``n`` samples in data space (images in [-1, 1], shape (n, C, H, W); points (n, D); token ids (n, T)).

        Uses the EMA generator when there is one; ``seed`` makes the draw repeatable whatever the global RNG state.
        """
        rng = self.seeded_rng(seed)
        return self.sample_from_latent(self.sample_latent(n, generator=rng), rng=rng, **condition)

    @torch.no_grad()
    def sample_from_latent(self, z: Tensor, *, rng: Optional[torch.Generator] = None, **condition: Any) -> Tensor:
        """Data-space samples for given latents ``z`` (one per row, e.g. points along an interpolation path), drawn
        like :meth:`sample`: EMA generator when there is one, in eval mode, ``condition`` as ``sample`` takes it."""
        with self.eval_mode(self.sampling_generator()) as net:
            return self.to_data_range(self.generate(net, z, **self.sample_condition(z.shape[0], rng, **condition)))

    def to_data_range(self, samples: Tensor) -> Tensor:
        """Generator outputs -> samples as every user gets them (:meth:`sample_from_latent`, hence :meth:`sample`, the
        callbacks and metrics, ``lit-gans sample``, exported graphs); training sees the raw outputs. Unchanged here: a
        variant whose generator is not bounded by construction (a linear output layer) clips them to the data range."""
        return samples

    def sample_condition(self, n: int, rng: Optional[torch.Generator], **condition: Any) -> dict[str, Any]:
        """Turns the user's ``sample(..., **condition)`` keywords into the keywords :meth:`generate` takes."""
        if condition:
            raise TypeError(f"{type(self).__name__} is unconditional; it takes no {sorted(condition)}")
        return {}

    def decode(self, samples: Tensor) -> list[str]:
        """One line of text per sample of a sequence model: its token ids (SeqGAN maps them to its vocabulary)."""
        return [" ".join(map(str, row)) for row in samples.tolist()]

    def translate(self, x: Tensor, direction: str = "AtoB") -> Tensor:
        """Images of one domain -> the other's, for an image-to-image variant (CycleGAN)."""
        raise NotImplementedError(f"{type(self).__name__} does not translate images")

    def sampling_generator(self) -> nn.Module:
        """The network samples come from: the EMA generator when there is one, else the trained one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def seeded_rng(self, seed: Optional[int]) -> Optional[torch.Generator]:
        """A generator on the model's device seeded with ``seed``, or ``None`` (the global RNG) without one."""
        return torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None

    @staticmethod
    @contextlib.contextmanager
    def eval_mode(net: nn.Module) -> Iterator[nn.Module]:
        """``net`` in eval mode inside the block (batch norm on its running statistics, no dropout), its mode after."""
        was_training = net.training
        net.eval()
        try:
            yield net
        finally:
            net.train(was_training)

    # --- training in stages (one stage unless a variant declares several, like SeqGAN) ---------------------------------
    def stage(self) -> tuple[str, int]:
        """(name of the current training stage, epochs already done in it)."""
        return "train", self.current_epoch

    def stage_ends_with_this_epoch(self) -> bool:
        """Asked at the end of an epoch: whether it is the last of a stage (metrics are taken at stage ends)."""
        return False

    # --- checkpoints: which model, which layout, and the global RNGs (exact resume) ------------------------------------
    def on_train_end(self) -> None:
        self.nonfinite.check(self.global_step)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self.nonfinite.check(self.global_step)  # never a checkpoint of weights a non-finite loss has reached
        # Records which lit_gans class made this checkpoint, so that `lit-gans sample` can rebuild it by name.
        checkpoint["lit_gans_model"] = type(self).__name__
        checkpoint["lit_gans_format"] = CHECKPOINT_FORMAT
        checkpoint["rng_states"] = collect_rng_states()
        # True when written at the end of an epoch's last batch, before on_train_epoch_end: Lightning resumes that as a
        # finished epoch without calling the hook, so the resumed run calls it (on_train_start).
        checkpoint["lit_gans_epoch_end_pending"] = mark_finished_epoch(self._trainer, checkpoint)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        check_checkpoint(checkpoint, type(self).__name__)
        # Only when a Trainer resumes (the DataLoader draws its shuffle seed right after); a plain load leaves the
        # caller's RNG alone.
        if self._trainer is not None and "rng_states" in checkpoint:
            restore_rng_states(checkpoint["rng_states"])
            if self.trainer.world_size > 1:  # the checkpoint holds rank 0's states: every process its own noise again
                decorrelate_rng(self.trainer.global_rank)
        self._epoch_end_pending = bool(checkpoint.get("lit_gans_epoch_end_pending", False))


def host_read_due(trainer: L.Trainer, pending: bool) -> bool:
    """Whether the coming batch's step reads values back from the device: one still ``pending``, or a step whose logs
    Lightning writes (``log_every_n_steps``). On the other steps the values already written are forgotten
    (:func:`forget_written_step_logs`), so that nothing reads them back again after the batch."""
    due = pending or trainer._logger_connector.should_update_logs
    if not due:
        forget_written_step_logs(trainer)
    return due


def forget_written_step_logs(trainer: L.Trainer) -> None:
    """Marks the per-step values logged so far (``on_epoch`` False) as spent once Lightning has copied them into
    ``callback_metrics`` and written them: it otherwise walks them all again after every batch until they are logged
    anew (~0.1 ms a batch for ten values). Values aggregated over the epoch are left alone."""
    results = trainer._results
    for item in results.values() if results is not None else ():
        if not item.has_reset and item.is_tensor and not item.meta.on_epoch:
            item.reset()


@torch.no_grad()
def _grad_norm(params: Iterable[nn.Parameter]) -> Tensor:
    """Global L2 norm of the gradients of a parameter set (0 when none has a gradient), by one fused norm call."""
    grads = [p.grad.detach() for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2))) if grads else torch.zeros(())
