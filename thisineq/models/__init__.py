"""Models: StyleGAN2 (generator, discriminator) and the inversion encoders (e4e, ReStyle), with their safe checkpoints."""
