"""Deepfake face check: Streamlit entry point (`streamlit run app.py`)."""

# First: the OpenMP wait policy only counts if set before torch is imported (detector/threads.py).
import detector.threads  # noqa: F401  isort: skip
import streamlit as st

from detector.memory import limit_malloc_arenas
from pages.common import MODEL_PAGES, load_model_with_message

# Fewer malloc arenas keep the app's peak RSS lower (detector/memory.py); `make run` sets the same by environment.
limit_malloc_arenas()
st.set_page_config(page_title="Deepfake face check", page_icon=":material/search:", layout="wide")

# Each page's url_path is its file's stem: on a fresh server's first request Streamlit still runs its legacy pages/
# folder mode, which finds a deep link only by file name (pages/common.py's require_app_navigation then hands the
# request back to this navigation). /about on about_model.py used to land on Home behind a "Page not found" dialog.
pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/analyze_image.py", title="Analyze image", icon=":material/image_search:", url_path="analyze_image"),
    st.Page("pages/analyze_video.py", title="Analyze video", icon=":material/movie:", url_path="analyze_video"),
    st.Page("pages/batch.py", title="Batch scan", icon=":material/photo_library:", url_path="batch"),
    st.Page("pages/metrics.py", title="Metrics", icon=":material/monitoring:", url_path="metrics"),
    st.Page("pages/instructor.py", title="Instructor mode", icon=":material/school:", url_path="instructor"),
    st.Page("pages/about.py", title="About the model", icon=":material/description:", url_path="about"),
]
page = st.navigation(pages)
if page.url_path in MODEL_PAGES:
    load_model_with_message()  # a fresh server's first visit: say why the page is empty for a few seconds
page.run()
