"""Pairwise perception (Place Pulse; Dubey et al. 2016): scores learned from crowd votes between two photos.

The votes themselves are data (`thisineq.data.votes` reads and checks them; `thisineq.data.synth.crowd`
simulates a crowd for the synthetic city); `ranker` learns one score per photo from image features
and the votes, beside a Bradley–Terry score from the votes alone.
"""
