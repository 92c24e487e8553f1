"""Image-quality metrics that work offline."""
