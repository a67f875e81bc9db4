"""Compressing and deploying a trained generator: narrower students (distillation), structured channel pruning, int8
post-training quantisation, and graphs for deployment (TorchScript, ONNX).

Distillation after Li et al. 2020, "GAN Compression: Efficient Architectures for Interactive Conditional GANs",
arXiv:2003.08936, and Liu et al. 2021, "Content-Aware GAN Compression", arXiv:2104.02244: a student with a fraction of
the teacher's channels learns to reproduce the teacher's images for the same latents (and conditions). The training
logic is :class:`lit_gans.models.distill.Distillation`; the command is ``lit-gans compress``.
"""
