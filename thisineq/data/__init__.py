"""Data layer: IoD2019 deciles, LSOA boundaries, photo collections and the synthetic city."""
