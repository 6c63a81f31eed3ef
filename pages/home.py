import streamlit as st

from detector import display
from detector.checkpoint import CONFIG_FILE, default_checkpoint
from detector.config import ModelConfig
from detector.errors import DetectorError
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

**The verdicts.** *likely manipulated*, *no sign of manipulation found*, *can't tell* (the score is near the
threshold, or it flips when the face is re-compressed, resized or re-framed) and *too small to judge*, each with
its P(fake) beside it.

**What it is not.** Proof, in either direction. The model only ever saw a few kinds of fakes; newer generators
and edits can fool it, and compression, filters and screenshots shift its scores. A "no sign of manipulation
found" does not clear a picture; treat every result as one piece of evidence, and keep the report (file hash,
model version, maps) with your notes.

- **Analyze image** – per-face verdicts, heat maps, downloadable report.
- **Analyze video** – sampled frames, one track per person, a timeline and a verdict.
- **Metrics** – confusion matrices, ROC/PR curves, calibration and generalisation across data sets.
- **Instructor mode** – layer explorer, faithfulness checks of each explanation, a gallery of right and wrong calls.
"""
)

try:
    st.caption(display.what_this_means(ModelConfig.load(default_checkpoint() / CONFIG_FILE).training))
except DetectorError:
    pass  # no model installed: the analysis pages say so
