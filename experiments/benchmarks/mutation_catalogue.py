"""The catalogue of :mod:`mutation`: one realistic GAN bug a row, as a text substitution, with the tests that must
catch it.

Add a mutant by appending a :class:`Mutant`: a short ``id``, the ``file`` (relative to the repository), an ``old``
snippet that occurs exactly once in that file (make it long enough to be unique, short enough to survive unrelated
edits), its ``new`` text, a one-line ``description`` of the bug, and the ``tests`` (pytest node ids, or files) that
must fail on it; ``select`` is an optional ``-k`` expression. ``python experiments/benchmarks/mutation.py --only <id>``
then shows whether the tests catch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    description: str
    tests: tuple[str, ...]
    select: Optional[str] = None


BASE, LOSSES, AUGMENT = "lit_gans/models/base.py", "lit_gans/losses.py", "lit_gans/augment.py"
SG2, CYC, SEQ = "lit_gans/models/stylegan2.py", "lit_gans/models/cyclegan.py", "lit_gans/models/seqgan.py"
PRO, WGAN = "lit_gans/models/progan.py", "lit_gans/models/wgan.py"

T_LEARN = "tests/test_learning.py::"
DCGAN_LEARNS = T_LEARN + "test_dcgan_on_digits_improves_over_its_initial_samples"
RING_LEARNS = T_LEARN + "test_vanilla_gan_captures_most_modes_of_the_ring"
CGAN_LEARNS = T_LEARN + "test_cgan_samples_follow_the_requested_label"
SG2_LEARNS = "tests/test_stylegan2.py::test_tiny_stylegan2_learns_digits"
CYC_LEARNS = "tests/test_cyclegan.py::test_training_beats_the_identity_map_on_the_style_error"
SEQ_LEARNS = ("tests/test_seqgan.py::"
              "test_adversarial_stage_raises_the_reward_of_a_discriminator_that_separates_real_from_generated")
WGANGP_RING = "tests/test_wgan.py::test_wgan_gp_learns_the_ring"
SEQ_METRICS = "tests/test_callbacks_sequences.py::test_nll_oracle_is_measured_at_the_start_and_at_each_stage_end_under_the_oracle"

CATALOGUE: list[Mutant] = [
    # --- the training step every variant shares (GAN, CGAN, DCGAN, WGAN, WGAN-GP, ProGAN) ---------------------------
    Mutant("base_zero_grad_removed", BASE, "            opt.zero_grad(set_to_none=True)\n", "",
           "zero_grad removed: gradients pile up over every step", (DCGAN_LEARNS, SG2_LEARNS)),
    Mutant("base_g_loss_detached", BASE, "self.adv.g_loss(self.discriminate(fake, **cond))",
           "self.adv.g_loss(self.discriminate(fake.detach(), **cond))",
           "detach added: G's loss is cut from G", ("tests/test_base_module.py::test_logs_losses_probabilities_and_grad_norms",)),
    Mutant("base_d_labels_swapped", BASE, "return self.adv.d_loss(real_out, fake_out), self.d_output_logs",
           "return self.adv.d_loss(fake_out, real_out), self.d_output_logs",
           "D trained with real and fake labels swapped", (RING_LEARNS,)),
    Mutant("base_g_never_stepped", BASE, "return self.d_steps % self.n_critic == 0", "return False",
           "the generator is never stepped", ("tests/test_base_module.py::test_n_critic_cadence",)),
    Mutant("base_ema_decay_inverted", BASE, "torch._foreach_lerp_(ema_params, params, 1.0 - decay)",
           "torch._foreach_lerp_(ema_params, params, decay)", "EMA weights decay and 1 - decay swapped",
           ("tests/test_base_module.py::test_ema_is_a_moving_average_of_the_generator",)),
    Mutant("base_ema_never_updated", BASE, "            self.update_ema(self.ema_decay_at(batch_size))\n",
           "", "the EMA generator is never updated (samples come from the initial weights)",
           ("tests/test_progan.py::test_tiny_progan_learns_digits",)),
    Mutant("base_latent_collapsed", BASE,
           "return torch.randn(n, self.hparams.z_dim, device=self.device, generator=generator)",
           "return torch.zeros(n, self.hparams.z_dim, device=self.device)",
           "the noise z is ignored (all zeros): G collapses to one output", (WGANGP_RING,)),
    # --- losses ---------------------------------------------------------------------------------------------------
    Mutant("loss_d_logistic_signs", LOSSES, "F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
           "F.softplus(real_logits).mean() + F.softplus(-fake_logits).mean()", "logistic D loss with both signs flipped",
           ("tests/test_losses.py::test_discriminator_logistic_loss_is_binary_cross_entropy",)),
    Mutant("loss_g_nonsaturating_sign", LOSSES, "return F.softplus(-fake_logits).mean()  # -log(sigmoid(f))",
           "return F.softplus(fake_logits).mean()  # -log(sigmoid(f))", "non-saturating G loss with the sign flipped",
           ("tests/test_losses.py::test_non_saturating_generator_loss_is_minus_log_d",)),
    Mutant("loss_hinge_fake_sign", LOSSES, "F.relu(1.0 + fake_logits)", "F.relu(1.0 - fake_logits)",
           "hinge D loss with the fake term's sign flipped", ("tests/test_losses.py::test_hinge_losses",)),
    Mutant("loss_wasserstein_sign", LOSSES, "return fake_critic.mean() - real_critic.mean()",
           "return real_critic.mean() - fake_critic.mean()", "critic loss sign flipped (critic maximises fakes)",
           ("tests/test_losses.py::test_wasserstein_losses_by_hand",
            "tests/test_wgan.py::test_critic_estimates_a_wasserstein_distance_that_shrinks_with_the_generator")),
    Mutant("loss_minimax_name_wired_to_nonsaturating", LOSSES,
           '"minimax": AdversarialLoss(d_logistic_loss, g_minimax_loss, True)',
           '"minimax": AdversarialLoss(d_logistic_loss, g_nonsaturating_loss, True)',
           "loss: minimax silently trains the non-saturating generator",
           ("tests/test_losses.py::test_each_loss_name_selects_its_own_pair",)),
    Mutant("loss_gp_center_dropped", LOSSES, "- center) ** 2).mean()", ") ** 2).mean()",
           "gradient penalty pushes the gradient norm to 0 instead of 1",
           ("tests/test_losses_family.py::test_gradient_penalty_of_a_linear_critic_is_its_weight_norm",)),
    Mutant("loss_gp_no_create_graph", LOSSES, "critic(x_hat).sum(), x_hat, create_graph=True)",
           "critic(x_hat).sum(), x_hat, create_graph=False)", "gradient penalty detached: it never trains the critic",
           ("tests/test_losses_family.py::test_gradient_penalty_flows_into_the_critic",)),
    Mutant("loss_r1_not_squared", LOSSES, "return grad.pow(2).flatten(1).sum(1).mean()",
           "return grad.abs().flatten(1).sum(1).mean()", "R1 takes the L1 norm of the gradient, not its squared L2",
           ("tests/test_losses.py::test_r1_penalty_of_a_quadratic_discriminator",
            "tests/test_stylegan2.py::test_lazy_r1_is_gamma_over_two_times_the_interval")),
    Mutant("loss_cycle_squared", LOSSES, "return (reconstruction - original).abs().mean()",
           "return (reconstruction - original).pow(2).mean()", "cycle-consistency loss L2 instead of L1",
           ("tests/test_losses.py::test_cycle_consistency_loss_is_a_mean_absolute_error",
            "tests/test_cyclegan.py::test_generator_and_discriminator_losses_match_hand_computation")),
    # --- DiffAugment ----------------------------------------------------------------------------------------------
    Mutant("aug_translation_quarter", AUGMENT, "ratio: float = 0.125) -> Tensor:", "ratio: float = 0.25) -> Tensor:",
           "translation by up to 1/4 of the image instead of 1/8",
           ("tests/test_augment.py::test_translation_shifts_by_at_most_one_eighth",)),
    Mutant("aug_cutout_inverted", AUGMENT, "return x * (~inside).unsqueeze(1).to(x.dtype)",
           "return x * inside.unsqueeze(1).to(x.dtype)", "cutout keeps the square and zeroes the rest",
           ("tests/test_augment.py::test_cutout_zeroes_a_half_size_square",)),
    Mutant("aug_saturation_range", AUGMENT, "(_uniform(x, rng, 1, 1, 1) * 2.0) + mean",
           "(_uniform(x, rng, 1, 1, 1) + 0.5) + mean", "saturation factor U(0.5, 1.5) instead of U(0, 2)",
           ("tests/test_augment.py::test_color_ops_draw_their_factors_from_the_papers_ranges",)),
    Mutant("aug_d_real_unaugmented", SG2, "real_out, fake_out = self.discriminate(real), self.discriminate(fake)",
           "real_out, fake_out = self.discriminator(real).flatten(), self.discriminate(fake)",
           "augmentation on one side only: D sees augmented fakes but plain reals",
           ("tests/test_stylegan2.py::test_both_players_see_augmented_real_and_fake_images",)),
    Mutant("aug_g_step_unaugmented", SG2, "return g_nonsaturating_loss(self.discriminate(fake)), {}",
           "return g_nonsaturating_loss(self.discriminator(fake).flatten()), {}",
           "G's step skips the augmentation D was trained with",
           ("tests/test_stylegan2.py::test_both_players_see_augmented_real_and_fake_images",)),
    # --- metrics --------------------------------------------------------------------------------------------------
    Mutant("metric_modes_threshold_ignores_std", "lit_gans/metrics/modes.py", "nearest_dist <= threshold * std",
           "nearest_dist <= threshold", "high-quality radius in absolute units instead of standard deviations",
           ("tests/test_metrics_toy.py::test_a_sample_is_high_quality_within_three_standard_deviations_of_its_nearest_mode",)),
    Mutant("metric_kl_not_to_uniform", "lit_gans/metrics/modes.py", "(p[nz] * (p[nz] * len(counts)).log()).sum()",
           "(p[nz] * p[nz].log()).sum()", "reverse KL computed as negative entropy (uniform term dropped)",
           ("tests/test_metrics_toy.py::test_reverse_kl_to_uniform_by_hand",)),
    Mutant("metric_mmd_cross_term", "lit_gans/metrics/mmd.py", "- 2 * k(x, y).mean()", "- k(x, y).mean()",
           "MMD's cross term weighted 1 instead of 2", ("tests/test_metrics_toy.py::test_mmd_by_hand_for_single_points",)),
    Mutant("metric_oracle_nll_per_sequence", "lit_gans/metrics/sequences.py", "return total / tokens.numel()",
           "return total / len(tokens)", "NLL-oracle per sequence instead of per token",
           ("tests/test_seqgan.py::test_nll_oracle_of_the_oracles_own_samples_is_below_uniform_tokens", SEQ_METRICS)),
    Mutant("metric_callback_nll_under_the_model", "lit_gans/callbacks/sequences.py",
           'values["nll_oracle"] = oracle_nll(data.oracle.to(pl_module.device), tokens)',
           'values["nll_oracle"] = oracle_nll(pl_module.generator, tokens)',
           "SequenceMetrics scores samples under the generator itself, not the oracle", (SEQ_METRICS,)),
    Mutant("metric_callback_stage_end_off_by_one", SEQ,
           "done, boundary = self.schedule_epoch + 1, 0", "done, boundary = self.schedule_epoch, 0",
           "SequenceMetrics measures one epoch after a stage ends", (SEQ_METRICS,)),
    # --- CGAN, DCGAN ----------------------------------------------------------------------------------------------
    Mutant("cgan_g_ignores_label", "lit_gans/models/cgan.py", "return net(z, labels)",
           "return net(z, torch.zeros_like(labels))", "condition ignored: G always gets class 0", (CGAN_LEARNS,)),
    Mutant("cgan_d_ignores_label", "lit_gans/models/cgan.py", "return self.discriminator(x, labels).flatten()",
           "return self.discriminator(x, torch.zeros_like(labels)).flatten()", "condition ignored by D", (CGAN_LEARNS,)),
    Mutant("dcgan_uniform_latent_range", "lit_gans/models/dcgan.py",
           "generator=generator) * 2.0 - 1.0", "generator=generator)", "z_dist uniform draws U(0, 1), not U(-1, 1)",
           ("tests/test_losses_family.py::test_dcgan_uniform_latent_is_the_papers_u_minus_one_one",)),
    # --- WGAN, WGAN-GP --------------------------------------------------------------------------------------------
    Mutant("wgan_clip_one_sided", WGAN, "p.clamp_(-c, c)", "p.clamp_(max=c)",
           "weight clipping bounds only from above", ("tests/test_wgan.py::test_clipping_comes_before_every_critic_update_as_in_the_reference_code",)),
    Mutant("wgan_schedule_until_off_by_one", WGAN, 'g_step < rule["until"]', 'g_step <= rule["until"]',
           "critic schedule: one extra generator iteration of 100 critic steps",
           ("tests/test_wgan.py::test_paper_schedule_spends_100_critic_steps_early_and_every_500",)),
    Mutant("wgan_generator_due_late", WGAN,
           "return self.d_steps >= self.schedule.critic_steps_through(self.g_steps)",
           "return self.d_steps > self.schedule.critic_steps_through(self.g_steps)",
           "the generator steps one critic step late",
           ("tests/test_wgan.py::test_training_follows_the_schedule_and_survives_a_checkpoint",)),
    Mutant("wgan_gp_weight_zeroed", WGAN, "+ self.hparams.gp_lambda * penalty  # step 1a + 1b",
           "+ 0.0 * penalty  # step 1a + 1b", "WGAN-GP without its gradient penalty",
           ("tests/test_wgan.py::test_critic_estimates_a_wasserstein_distance_that_shrinks_with_the_generator",)),
    # --- ProGAN ---------------------------------------------------------------------------------------------------
    Mutant("progan_real_fade_reversed", PRO, "x = torch.lerp(upsample(downsample(x)), x, alpha)",
           "x = torch.lerp(x, upsample(downsample(x)), alpha)", "real images faded in reversed (alpha 0 = new resolution)",
           ("tests/test_progan.py::test_real_images_fade_like_the_networks",)),
    Mutant("progan_schedule_alpha_reversed", PRO, "return r, t / fade_images", "return r, 1.0 - t / fade_images",
           "fade-in weight runs 1 -> 0", ("tests/test_progan.py::test_schedule_turns_image_count_into_resolution_and_alpha",)),
    Mutant("progan_generator_fade_reversed", "lit_gans/nets/progan.py", "return torch.lerp(old, new, alpha)",
           "return torch.lerp(new, old, alpha)", "G's fade-in reversed: alpha 0 shows the new block",
           ("tests/test_progan.py::test_generator_at_alpha_0_is_previous_resolution_upsampled",)),
    Mutant("progan_drift_zeroed", PRO, "+ self.hparams.eps_drift * drift", "+ 0.0 * drift",
           "drift term dropped from the critic loss", ("tests/test_progan.py::test_drift_penalty_and_critic_loss_terms",)),
    Mutant("progan_gp_zeroed", PRO, "+ self.hparams.gp_lambda * gp +", "+ 0.0 * gp +",
           "gradient penalty dropped from ProGAN's critic loss", ("tests/test_progan.py::test_drift_penalty_and_critic_loss_terms",)),
    # --- StyleGAN2 ------------------------------------------------------------------------------------------------
    Mutant("stylegan2_r1_no_interval", SG2, "return r1 * (self.hparams.r1_gamma / 2) * self.hparams.r1_interval, {",
           "return r1 * (self.hparams.r1_gamma / 2), {", "lazy R1 not scaled by its interval (16x too weak)",
           ("tests/test_stylegan2.py::test_lazy_r1_is_gamma_over_two_times_the_interval",)),
    Mutant("stylegan2_r1_full_gamma", SG2, "(self.hparams.r1_gamma / 2)", "(self.hparams.r1_gamma)",
           "R1 weighted gamma instead of gamma / 2", ("tests/test_stylegan2.py::test_lazy_r1_is_gamma_over_two_times_the_interval",)),
    Mutant("stylegan2_pl_no_interval", SG2, "loss = penalty * self.hparams.pl_weight * self.hparams.pl_interval",
           "loss = penalty * self.hparams.pl_weight", "lazy path length penalty not scaled by its interval",
           ("tests/test_stylegan2.py::test_lazy_path_length_penalty_is_weight_times_the_interval",)),
    Mutant("stylegan2_lazy_adam_inverted", SG2, "c = interval / (interval + 1)", "c = (interval + 1) / interval",
           "lazy Adam adjustment c inverted", ("tests/test_stylegan2.py::test_adam_adjusted_by_k_over_k_plus_1",)),
    Mutant("stylegan2_phases_off_by_one", "lit_gans/models/phases.py", "else step % self.every == 0",
           "else (step - 1) % self.every == 0",
           "lazy phases fire one step early (Dreg at step 1, 17, ...)",
           ("tests/test_stylegan2.py::test_lazy_phases_fire_on_the_right_steps",)),
    Mutant("stylegan2_ema_half_life_inverted", SG2, "return 0.5 ** (batch_size / max(ema_nimg, 1e-8))",
           "return 0.5 ** (max(ema_nimg, 1e-8) / batch_size)", "EMA half-life formula inverted",
           ("tests/test_stylegan2.py::test_ema_half_life_in_images",)),
    # --- CycleGAN -------------------------------------------------------------------------------------------------
    Mutant("cyclegan_adv_zeroed", CYC, "loss = adv_ab + adv_ba + hp.lambda_cycle * (cycle_a + cycle_b)",
           "loss = 0.0 * (adv_ab + adv_ba) + hp.lambda_cycle * (cycle_a + cycle_b)",
           "the generators' adversarial term zeroed", (CYC_LEARNS,
            "tests/test_cyclegan.py::test_generator_and_discriminator_losses_match_hand_computation")),
    Mutant("cyclegan_d_never_updated", CYC,
           'return [Phase("g", self.generator_loss), Phase("d", self.discriminator_loss)]',
           'return [Phase("g", self.generator_loss)]', "the discriminators are never updated",
           (CYC_LEARNS, "tests/test_cyclegan.py::test_one_training_batch_updates_all_four_networks")),
    Mutant("cyclegan_cycle_through_wrong_generator", CYC, "rec_a=self.G_BA(fake_b)", "rec_a=self.G_AB(fake_b)",
           "cycle A -> B -> A goes back through G_AB", (CYC_LEARNS,)),
    Mutant("cyclegan_identity_weight", CYC, "hp.lambda_identity * hp.lambda_cycle * (identity_a + identity_b)",
           "hp.lambda_identity * (identity_a + identity_b)", "identity loss not scaled by lambda_cycle",
           ("tests/test_cyclegan.py::test_generator_and_discriminator_losses_match_hand_computation",)),
    Mutant("cyclegan_pool_always_swaps", CYC, "elif self.rng.random() < 0.5:",
           "elif self.rng.random() < 1.0:", "history pool swaps every image instead of half",
           ("tests/test_cyclegan.py::test_history_pool_fills_then_returns_a_stored_image_half_of_the_time",)),
    Mutant("cyclegan_lr_decay_off_by_one", CYC, "1.0 - decayed / (self.hparams.n_epochs_decay + 1)",
           "1.0 - decayed / self.hparams.n_epochs_decay", "linear decay reaches zero one epoch early",
           ("tests/test_cyclegan.py::test_learning_rate_is_constant_then_decays_linearly_to_zero",)),
    # --- SeqGAN ---------------------------------------------------------------------------------------------------
    Mutant("seqgan_reward_sign", SEQ, "self.generator_loss, (tokens, rewards))", "self.generator_loss, (tokens, -rewards))",
           "rollout reward's sign flipped: G moves away from what D finds real", (SEQ_LEARNS,)),
    Mutant("seqgan_d_labels_swapped", SEQ, "self.adv.d_loss(real_out, fake_out)", "self.adv.d_loss(fake_out, real_out)",
           "D's real and generated labels swapped", (SEQ_LEARNS,)),
    Mutant("seqgan_pg_loss_sign", LOSSES, "return -(log_probs * rewards.detach()).sum(dim=1).mean()",
           "return (log_probs * rewards.detach()).sum(dim=1).mean()", "policy-gradient loss sign flipped",
           ("tests/test_seqgan.py::test_policy_gradient_loss_on_a_hand_example", SEQ_LEARNS)),
    Mutant("seqgan_final_reward_constant", SEQ, "rewards[:, seq_len - 1] = p_real(tokens)",
           "rewards[:, seq_len - 1] = 0.5", "the last token's reward ignores D",
           ("tests/test_seqgan.py::test_rollout_rewards_shape_prefixes_and_final_step_equal_d_output",)),
    Mutant("seqgan_mle_sign", SEQ, "loss = -self.generator.log_prob(real).mean()",
           "loss = self.generator.log_prob(real).mean()", "MLE pre-training minimises the likelihood",
           ("tests/test_seqgan.py::test_mle_pretraining_lowers_nll_oracle",)),
    Mutant("seqgan_rollout_update_inverted", SEQ, "p_beta.lerp_(p_theta, 1.0 - self.hparams.rollout_update_rate)",
           "p_beta.lerp_(p_theta, self.hparams.rollout_update_rate)", "rollout update rate r and 1 - r swapped",
           ("tests/test_seqgan.py::test_rollout_network_follows_the_generator_with_a_delay",)),
    Mutant("seqgan_stage_boundary_off_by_one", SEQ, "if done < s.epochs:", "if done <= s.epochs:",
           "each stage runs one epoch too many", ("tests/test_seqgan.py::test_training_resumes_in_the_same_stage",)),
]
