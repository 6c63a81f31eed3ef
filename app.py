"""Deepfake face check: Streamlit entry point (`streamlit run app.py`)."""

import streamlit as st

st.set_page_config(page_title="Deepfake face check", page_icon="🔍", layout="wide")

home = st.Page("pages/home.py", title="Home", icon="🏠", default=True)
about = st.Page("pages/about_model.py", title="About the model", icon="📄")
st.navigation([home, about]).run()
