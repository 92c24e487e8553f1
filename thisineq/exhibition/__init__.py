"""The exhibition build: a static site of precomputed images that needs no Python and no network."""
