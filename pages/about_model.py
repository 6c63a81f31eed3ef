import json
from pathlib import Path

import streamlit as st

from detector.checkpoint import list_checkpoints
from pages.common import require_app_navigation

require_app_navigation()

st.title("About the model")
folders = list_checkpoints()
if not folders:
    st.error("No model found under assets/models/.")
    st.stop()
for folder in folders:
    card = Path(folder) / "MODEL_CARD.md"
    with st.container(border=True):
        st.markdown(card.read_text(encoding="utf-8") if card.is_file() else f"### {folder.name}\n_This model has no model card._")
        with st.expander("config.json (travels with the weights)"):
            st.json(json.loads((Path(folder) / "config.json").read_text()))
