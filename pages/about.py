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
# Wide model-card tables scroll sideways inside the page instead of being cut at a phone's edge.
st.markdown("<style>[data-testid=stMarkdownContainer] table {display: block; overflow-x: auto; max-width: 100%;}</style>",
            unsafe_allow_html=True)
for number, folder in enumerate(folders):
    card = Path(folder) / "MODEL_CARD.md"
    # The first model's card open, the others folded: all cards open made ~16,000 px on a phone.
    box = st.container(border=True) if number == 0 else st.expander(f"Model card: {Path(folder).name}")
    with box:
        st.markdown(card.read_text(encoding="utf-8") if card.is_file() else f"### {folder.name}\n_This model has no model card._")
        st.caption("config.json (travels with the weights)")  # folded JSON: expanders cannot sit in expanders
        st.json(json.loads((Path(folder) / "config.json").read_text()), expanded=False)
