from pathlib import Path

import streamlit as st

from detector.checkpoint import list_checkpoints

st.title("About the model")
for folder in list_checkpoints():
    card = Path(folder) / "MODEL_CARD.md"
    st.subheader(folder.name)
    st.markdown(card.read_text(encoding="utf-8") if card.is_file() else "_This model has no model card._")
