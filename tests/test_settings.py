"""Explainers describe their own settings; the page's widgets come from these descriptions."""

import inspect

import pytest

from xai import families, make_explainer
from xai.settings import Setting


@pytest.mark.parametrize("family", list(families()))
def test_settings_are_real_arguments_with_the_explainer_s_defaults(family):
    explainer = families()[family]
    signature = inspect.signature(explainer.__init__).parameters
    assert explainer.settings, f"{family} describes no settings"
    for setting in explainer.settings:
        assert setting.name in signature, f"{family}.{setting.name} is not an argument"
        if setting.kind != "layer":
            assert setting.default == signature[setting.name].default
    values = {s.name: s.default for s in explainer.settings if s.kind != "layer"}
    assert make_explainer(family, **values).params.items() >= values.items()


def test_a_setting_rejects_a_default_outside_its_range():
    with pytest.raises(ValueError):
        Setting("samples", "Samples", "int", 5, low=10, high=20, step=1)
    with pytest.raises(ValueError):
        Setting("mode", "Mode", "choice", "x", choices=("a", "b"))


def test_the_page_builds_one_widget_per_setting_and_one_for_shared_ones():
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from pages.common import explainer_widgets
        from tests.test_settings import TinyModel

        st.session_state["families"] = explainer_widgets(TinyModel())

    at = AppTest.from_function(script).run()
    assert not at.exception
    labels = [w.label for w in (*at.slider, *at.selectbox)]
    assert labels.count("LIME / SHAP patches") == 1 and "Grad-CAM layer" in labels and "SHAP samples" in labels
    chosen = at.session_state["families"]
    assert chosen["SHAP"]["segments"] == chosen["LIME"]["segments"] == 40
    assert chosen["Saliency"] == {"method": "SmoothGrad"} and chosen["Grad-CAM"]["layer"] == "last"


class TinyModel:
    def layer_choices(self):
        return {"first": None, "last": None}
