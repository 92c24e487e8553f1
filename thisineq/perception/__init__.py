"""Pairwise perception (Place Pulse; Dubey et al. 2016): crowd votes between two photos, and scores learned from them.

`votes` reads and checks votes in the Place Pulse 2.0 layout; `simulate` makes a synthetic crowd's
votes from the synthetic city's hidden factors (a known answer); `ranker` learns one score per photo
from image features and the votes, beside a Bradley–Terry score from the votes alone.
"""
