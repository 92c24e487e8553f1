"""Training loops: the GAN, and later the inversion encoders."""
