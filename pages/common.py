"""Streamlit helpers shared by the pages: the cached detector and the sidebar."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from detector.checkpoint import default_checkpoint, list_checkpoints
from detector.errors import DetectorError
from detector.memory import freeze_long_lived

_legacy_mode_checked = False


def require_app_navigation() -> None:
    """Run this page through app.py's st.navigation, even on a fresh server's first request.

    When a server's very first request is a deep link (/metrics), Streamlit has not yet seen
    app.py call st.navigation and falls back to its legacy `pages/` folder mode: it runs this file
    directly and lists every file in pages/ (common.py included) as a page. Leaving that mode and
    rerunning lets app.py route the same URL. The mode is process-wide, so this acts at most once
    per process (AppTest re-enters the legacy mode on every run and must not be rerouted).
    """
    global _legacy_mode_checked
    if _legacy_mode_checked:
        return
    _legacy_mode_checked = True
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# Pages that need the classifier as soon as they open (their url_path in app.py).
MODEL_PAGES = ("analyze_image", "analyze_video", "batch", "instructor")
_model_loaded = False


def load_model_with_message() -> None:
    """Load torch, the explainers and the default model once per process, with a message in the main area.

    A fresh server spends about 8 s importing torch and loading the model before a page can draw
    anything; without this the main area stays blank and looks broken.
    """
    global _model_loaded
    if _model_loaded:
        return
    note = st.empty()
    note.info("Loading the model… The first page view after the server starts takes about 10 seconds.",
              icon=":material/hourglass_top:")
    import xai  # noqa: F401  torch and the explainers: most of the wait

    try:
        get_detector(str(default_checkpoint()))
    except DetectorError:
        pass  # sidebar_detector() says what is wrong on the page itself
    note.empty()
    _model_loaded = True


@st.cache_resource(show_spinner="Loading the detector…")
def get_detector(checkpoint: str):
    """One detector per model folder per process, shared by every browser session."""
    from detector.inference import Detector

    detector = Detector(checkpoint)
    detector.warm_up()
    freeze_long_lived()  # the model and the loaded modules live as long as the process (detector/memory.py)
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


_PROVENANCE_BOX = {"alert": st.error, "strong": st.error, "caution": st.warning, "neutral": st.info}


def provenance_panel(provenance) -> None:
    """Draw what the file says about itself (a detector.provenance.Provenance, read by the file's
    analysis) above the face verdicts."""
    with st.container(border=True, key="provenance-panel"):
        st.markdown("**What the file says about itself** · Content Credentials (C2PA) and metadata, read before any model")
        _PROVENANCE_BOX[provenance.tone](provenance.headline)
        with st.expander("Details: signer, actions, camera, software, trust list"):
            st.markdown("\n".join(f"- {line}" for line in provenance.lines()))


def explainer_widgets(model) -> dict[str, dict]:
    """One widget per explainer setting (xai.settings.Setting), in the current container; returns
    each family's keyword arguments. Settings that share a name get one widget, shown once."""
    from xai import families
    from xai.gradcam import layer_choices

    chosen: dict[str, dict] = {}
    shared: dict[str, object] = {}
    for family, explainer in families().items():
        params = {}
        for setting in explainer.settings:
            if setting.shared in shared:
                params[setting.name] = shared[setting.shared]
                continue
            params[setting.name] = setting_widget(setting, model, layer_choices)
            if setting.shared:
                shared[setting.shared] = params[setting.name]
        chosen[family] = params
    return chosen


def setting_widget(setting, model, layer_choices):
    help_text = setting.help or None
    if setting.kind == "int":
        return st.slider(setting.label, setting.low, setting.high, setting.default, setting.step, help=help_text)
    if setting.kind == "layer":
        layers = list(layer_choices(model))
        index = layers.index(setting.default) if setting.default in layers else len(layers) - 1
        return st.selectbox(setting.label, layers, index=index, help=help_text)
    choices = list(setting.choices)
    return st.selectbox(setting.label, choices, index=choices.index(setting.default), help=help_text,
                        format_func=lambda c: setting.choice_labels.get(c, c))
