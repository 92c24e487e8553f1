"""The known-answer benchmark: an oracle reads the synthetic city's true visual factors off images, and walks are scored against the truth.

Modules: `oracle` (the image → factor reader), `truth` (the factor change a faithful walk should
reproduce), `measures` (a walk's figures against it), `baselines` (random, ideal and InterFaceGAN
directions), `benchmark` (walking, reading and the table), `control` (the positive-control city's
boundaries), `validation` (the oracle on GAN images) and `targets` (what is met, and by how much).
"""
