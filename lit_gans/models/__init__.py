"""LightningModules, one per GAN variant; :data:`MODELS` maps the CLI's model names to their classes."""

from lit_gans.models.base import GANModule
from lit_gans.models.cgan import CGAN
from lit_gans.models.dcgan import DCGAN
from lit_gans.models.gan import VanillaGAN
from lit_gans.models.wgan import WGAN, WGANGP

MODELS: dict[str, type[GANModule]] = {cls.__name__: cls for cls in (VanillaGAN, CGAN, DCGAN, WGAN, WGANGP)}

__all__ = ["GANModule", "VanillaGAN", "CGAN", "DCGAN", "WGAN", "WGANGP", "MODELS"]
