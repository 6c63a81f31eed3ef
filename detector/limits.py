"""Every input limit of the project, in one place.

The UI, the CLIs and the tests all read these; `.streamlit/config.toml` repeats
MAX_UPLOAD_MB because Streamlit cannot import it.
"""

MAX_UPLOAD_MB = 200
MAX_IMAGE_BYTES = 50 * 1024 * 1024
# 40 MP covers every phone and DSLR photo; PIL's own bomb check is set to the same value.
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 16
# Longest side an image is shrunk to before MTCNN runs (boxes are mapped back).
DETECT_MAX_SIDE = 640

MAX_VIDEO_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_VIDEO_SECONDS = 10 * 60
MAX_VIDEO_FRAMES_SAMPLED = 128
MAX_VIDEO_PIXELS = 3840 * 2160
