"""Models: StyleGAN2 (generator, discriminator) and, later, the inversion encoders."""
