"""thisineq: what a StyleGAN2 associates with urban deprivation, from street-level photos and IoD2019."""

__version__ = "0.1.0"
