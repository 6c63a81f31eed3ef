import streamlit as st

st.title("Deepfake face check")
st.markdown(
    """
Upload a photo, and every face in it is found (MTCNN) and scored by a detector trained to tell
real faces from face swaps and GAN-generated faces. **What the score is:** the model's probability
that a face is fake, measured on the test sets described under *About the model*. **What it is
not:** proof. A "real" verdict does not clear a picture: the model never saw most of the ways a
face can be faked, and diffusion-model faces are its weakest point.

Command line, meanwhile: `python -m detector.predict photo.jpg --json`.
"""
)
