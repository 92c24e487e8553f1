"""Training: the GAN and the inversion encoders, over one run-folder scaffold (`run`), and their export as demo artifacts."""
