"""The known-answer benchmark: an oracle reads the synthetic city's true visual factors off images, and walks are scored against them."""
