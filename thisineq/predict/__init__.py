"""The image side: deprivation deciles predicted from street photos (after Suel et al. 2019).

`features` computes and caches one feature vector per photo from an offline ImageNet backbone;
`ordinal` is the paper's ordinal model (a shared dense stack, one score per location, a binomial
link to the ten deciles); `evaluate` cross-validates it and reports the paper's LSOA-level measures.
"""
