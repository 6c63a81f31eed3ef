"""Display rules (issue 16): no probability printed as certain, verdict words, the 'what this means' line."""

import json
from pathlib import Path

import pytest

from detector import display

CONFIG = Path(__file__).resolve().parent.parent / "assets" / "models" / "dfx-lite0" / "config.json"


@pytest.mark.parametrize(
    ("p", "digits", "expected"),
    [
        (1.0, 2, "> 0.99"),
        (0.996, 2, "> 0.99"),
        (0.994, 2, "0.99"),
        (0.0, 2, "< 0.01"),
        (0.004, 2, "< 0.01"),
        (0.006, 2, "0.01"),
        (0.5, 2, "0.50"),
        (0.9996, 3, "> 0.999"),
        (0.0004, 3, "< 0.001"),
        (0.12345, 3, "0.123"),
    ],
)
def test_probability_is_never_printed_as_certain(p, digits, expected):
    assert display.format_probability(p, digits) == expected


def test_no_probability_prints_as_zero_or_one():
    for i in range(0, 10001):
        for digits in (2, 3, 4):
            text = display.format_probability(i / 10000, digits)
            number = text.lstrip("<> ")
            assert float(number) not in (0.0, 1.0), (i, digits, text)


def test_json_rounding_stays_inside_the_open_interval():
    assert 0.0 < display.round_probability(0.0) < 1e-3
    assert 0.999 < display.round_probability(1.0) < 1.0
    assert display.round_probability(0.123456) == 0.1235


def test_missing_probability_is_not_a_number():
    assert display.format_probability(None) == "n/a"
    assert display.format_probability(float("nan")) == "n/a"


def test_verdict_words_for_a_journalist():
    assert display.verdict_words(display.verdict_from_label("fake")) == "likely manipulated"
    assert display.verdict_words(display.verdict_from_label("real")) == "no sign of manipulation found"
    assert display.verdict_words(display.verdict_from_label("uncertain")) == "can't tell"
    assert display.verdict_words(display.TOO_SMALL) == "too small to judge"
    with pytest.raises(ValueError):
        display.verdict_words("fake")


def test_verdict_line_carries_the_numbers():
    line = display.verdict_line(display.LIKELY_MANIPULATED, 0.999, (0.97, 1.0))
    assert line.startswith("likely manipulated")
    assert "> 0.99" in line and "0.97" in line and "1.00" not in line
    assert display.verdict_line(display.TOO_SMALL, None) == "too small to judge"


def test_not_judged_verdicts_get_no_verdict_colour():
    greys = {display.VERDICT_COLOURS[v] for v in display.NOT_JUDGED}
    assert len(greys) == 1
    assert greys.isdisjoint({display.VERDICT_COLOURS[v] for v in (display.LIKELY_MANIPULATED, display.NO_SIGN_FOUND)})


def test_what_this_means_names_the_training_data_from_the_config():
    training = json.loads(CONFIG.read_text())["training"]
    line = display.what_this_means(training)
    assert line.count("\n") == 0
    names = list(training.get("data") or {}) or [s.partition(":")[2] for s in training["streams"]]  # either trainer
    for name in names:
        assert display.DATA_DESCRIPTIONS[name] in line
    assert "not trained on" in line
    other = display.what_this_means({"data": {"my_new_set": {"train_real": 3, "train_fake": 0}}})
    assert "my new set" in other and "DFDC" not in other
    streams = display.what_this_means({"streams": {"real:dfdc": 0.5, "fake:dfdc": 0.3, "fake:sbi": 0.2, "fake:unused": 0}})
    assert streams.count(display.DATA_DESCRIPTIONS["dfdc"]) == 1 and display.DATA_DESCRIPTIONS["sbi"] in streams and "unused" not in streams


def test_a_video_s_line_says_what_compression_does_to_the_model_it_names():
    training = json.loads((CONFIG.parents[1] / "dfx-lite0-2.3.0" / "config.json").read_text())["training"]
    assert not training.get("video_p")  # 2.3.0, beside the default: no video frames in its training
    photo, video = display.what_this_means(training), display.what_this_means(training, video=True)
    assert display.NO_VIDEO_FRAMES not in photo and video == f"{photo} {display.NO_VIDEO_FRAMES}"
    assert video.count("\n") == 0 and "video compression" in video and display.COMPRESSED_VIDEO not in video
    framed = json.loads(CONFIG.read_text())["training"]
    assert framed.get("video_p")  # the default model (2.4.0) trained on H.264 frames: the narrower caveat
    photo, video = display.what_this_means(framed), display.what_this_means(framed, video=True)
    assert video == f"{photo} {display.COMPRESSED_VIDEO}" and display.NO_VIDEO_FRAMES not in video


def test_format_share_has_two_decimals_and_a_dash_for_nothing_measured():
    from detector.display import format_share

    assert format_share(8 / 395) == "2.03%"  # not "2.0%", which would read as a met 2 % target
    assert format_share(0.0) == "0.00%"
    assert format_share(None) == "–" and format_share(float("nan")) == "–"


def test_format_auc_has_three_decimals_and_a_dash_for_nothing_measured():
    from detector.display import format_auc

    assert format_auc(0.894) == "0.894" and format_auc(0.9217) == "0.922" and format_auc(1.0) == "1.000"
    assert format_auc(None) == "–" and format_auc(float("nan")) == "–"
