import numpy as np
import pytest
from PIL import Image

from detector.faces import FaceFinder, crop_face, head_turn, landmarks_in_crop, square_crop_box


@pytest.fixture(scope="module")
def finder():
    return FaceFinder()


def test_astronaut_has_one_face_with_a_sensible_box(finder, astronaut):
    faces = finder.find(astronaut)
    assert len(faces) == 1
    face = faces[0]
    x1, y1, x2, y2 = face.box
    # Eileen Collins' face sits around x 180-270, y 60-170 in the 512 x 512 photo.
    assert 160 < x1 < 200 and 250 < x2 < 290 and 40 < y1 < 80 and 150 < y2 < 190
    assert face.prob > 0.99 and not face.fallback
    assert face.landmarks.shape == (5, 2)
    left_eye, right_eye = face.landmarks[0], face.landmarks[1]
    assert left_eye[0] < right_eye[0] and x1 < left_eye[0] < x2


def test_large_picture_is_downscaled_and_boxes_map_back(finder, astronaut):
    big = astronaut.resize((2048, 2048), Image.BICUBIC)
    small_box = np.array(finder.find(astronaut)[0].box)
    big_box = np.array(finder.find(big)[0].box)
    assert np.allclose(big_box / 4.0, small_box, atol=6)


def test_crop_policy_square_with_margin_inside_the_picture():
    box = (100.0, 100.0, 200.0, 180.0)
    left, top, right, bottom = square_crop_box(box, (1000, 1000), margin=0.3)
    assert right - left == bottom - top == 130
    assert (left + right) / 2 == pytest.approx(150, abs=1) and (top + bottom) / 2 == pytest.approx(140, abs=1)


def test_crop_policy_never_pads_a_tight_crop():
    # A face that fills a 224 picture (DFDC-like) crops to the whole picture, not beyond it.
    assert square_crop_box((10.0, 5.0, 214.0, 220.0), (224, 224)) == (0, 0, 224, 224)
    # Near a border, the square slides inside instead of being padded.
    left, top, right, bottom = square_crop_box((0.0, 0.0, 50.0, 50.0), (400, 300))
    assert left == 0 and top == 0 and right - left == 65


def test_landmarks_follow_the_crop(finder, astronaut):
    face = finder.find(astronaut)[0]
    crop = crop_face(astronaut, face.crop_box, 224)
    landmarks = landmarks_in_crop(face.landmarks, face.crop_box, 224)
    assert crop.size == (224, 224)
    assert ((landmarks > 0) & (landmarks < 224)).all()


def test_fallback_for_a_face_crop_without_detection(finder):
    # Noise has no face: a small square picture is taken whole (flagged), a wide one is not.
    rng = np.random.default_rng(0)
    square = Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
    wide = Image.fromarray(rng.integers(0, 255, (300, 900, 3), dtype=np.uint8))
    faces = finder.find(square)
    assert len(faces) == 1 and faces[0].fallback and faces[0].crop_box == (0, 0, 224, 224)
    assert finder.find(wide) == []
    never = FaceFinder(fallback="never")
    assert never.find(square) == []


FRONTAL = np.array([[30.0, 40.0], [70.0, 40.0], [50.0, 60.0], [35.0, 80.0], [65.0, 80.0]])


def test_head_turn_is_zero_for_a_frontal_face_at_any_roll():
    assert head_turn(FRONTAL) == pytest.approx(0.0)
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert head_turn((FRONTAL - 50) @ rotation.T + 50) == pytest.approx(0.0, abs=1e-9)


def test_head_turn_grows_and_keeps_its_sign_as_the_nose_moves_to_an_eye():
    towards_right = FRONTAL.copy()
    towards_right[2, 0] = 70.0  # nose level with the right eye of the picture
    towards_left = FRONTAL.copy()
    towards_left[2, 0] = 40.0
    assert head_turn(towards_right) == pytest.approx(1.0)
    assert head_turn(towards_left) == pytest.approx(-0.5)
    nose_past_eye = FRONTAL.copy()
    nose_past_eye[2, 0] = 80.0
    assert head_turn(nose_past_eye) > 1.0


def test_the_turn_of_the_astronaut_is_near_frontal_and_a_fallback_has_none(finder, astronaut):
    face = finder.find(astronaut)[0]
    assert abs(face.turn) < 0.5
    noise = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    fallback = finder.find(Image.fromarray(noise))[0]
    assert fallback.fallback and fallback.turn is None
