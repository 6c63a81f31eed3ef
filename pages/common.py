"""Streamlit helpers shared by the pages: the cached detector and the sidebar."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from detector.checkpoint import default_checkpoint, list_checkpoints
from detector.errors import DetectorError


@st.cache_resource(show_spinner="Loading the detector…")
def get_detector(checkpoint: str):
    """One detector per model folder per process, shared by every browser session."""
    from detector.inference import Detector

    detector = Detector(checkpoint)
    detector.warm_up()
    return detector


def sidebar_detector():
    """Model picker + device in the sidebar; returns the loaded detector or stops the page."""
    folders = list_checkpoints()
    if not folders:
        st.error("No model found under assets/models/. Reinstall the project or train one (see README).")
        st.stop()
    names = [f.name for f in folders]
    try:
        default = names.index(default_checkpoint().name)
    except DetectorError:
        default = 0
    with st.sidebar:
        name = st.selectbox("Model", names, index=default, key="model_name")
        try:
            detector = get_detector(str(folders[names.index(name)]))
        except DetectorError as exc:
            st.error(f"This model cannot be loaded: {exc}")
            st.stop()
        config = detector.config
        st.caption(
            f"**{config.name}** v{config.version} · {config.architecture} · {config.input_size} px · "
            f"threshold {config.threshold:.2f} · device **{detector.device.type.upper()}**"
        )
    return detector


def samples_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / "samples"
