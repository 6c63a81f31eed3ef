"""Deepfake face check: Streamlit entry point (`streamlit run app.py`)."""

import streamlit as st

st.set_page_config(page_title="Deepfake face check", page_icon="🔍", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/analyze_image.py", title="Analyze image", icon="🖼️", url_path="analyze_image"),
    st.Page("pages/about_model.py", title="About the model", icon="📄", url_path="about"),
]
st.navigation(pages).run()
