import streamlit as st

from pages.common import require_app_navigation

require_app_navigation()

st.title("Deepfake face check")
st.markdown(
    """
Upload a photo or a video: every face is found (MTCNN), scored by a detector trained to tell real faces from
face swaps and GAN- or diffusion-generated faces, and explained with Grad-CAM, LIME, gradient saliency and
SHAP side by side. Everything runs on this computer; nothing is uploaded anywhere.

**What the score is.** P(fake) is the model's calibrated probability that a face is fake. Its accuracy was
measured on the test sets described under *About the model*, and the *Metrics* page shows those runs.

**What it is not.** Proof, in either direction. The model only ever saw a few kinds of fakes (DFDC face swaps,
StyleGAN 1/2, Stable Diffusion 2.1); newer generators and edits can fool it, and compression, filters and
screenshots shift its scores. A "real" verdict does not clear a picture; treat every result as one piece of
evidence, and keep the report (file hash, model version, maps) with your notes.

- **Analyze image** – per-face verdicts, heat maps, downloadable report.
- **Analyze video** – sampled frames, one track per person, a timeline and a verdict.
- **Metrics** – confusion matrices, ROC/PR curves, calibration and generalisation across data sets.
- **Instructor mode** – layer explorer, faithfulness checks of each explanation, a gallery of right and wrong calls.
"""
)
