"""Inversion of photos into the GAN latent space: the projector, e4e and ReStyle."""
