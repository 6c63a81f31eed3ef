"""Make the demo pictures in assets/samples/ from public-domain scikit-image data.

    python -m scripts.make_samples

- astronaut.jpg: NASA portrait of Eileen Collins (public domain), as shipped by scikit-image.
- astronaut_selfblended.jpg: the same photo whose face was replaced by a self-blended copy of
  itself (detector.training.sbi), i.e. a manipulation made by this project's own code.
- two_faces.jpg: the original and the manipulated face side by side, at full size: its faces (about 109 px) are above
  the shipped model's measured size limit (96 px for 2.4.0; at 3/4 size, as until session 20, they were 82 px).
- rocket_no_face.jpg: NASA rocket launch (public domain): a picture without any face.
"""

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from detector.faces import FaceFinder, landmarks_in_crop
from detector.training.sbi import self_blend

OUT = Path(__file__).resolve().parent.parent / "assets" / "samples"


def manipulate(photo: Image.Image, seed: int = 7) -> Image.Image:
    """Self-blend the face region at full resolution and paste it back."""
    face = FaceFinder().find(photo)[0]
    left, top, right, bottom = face.crop_box
    size = right - left
    crop = np.asarray(photo.crop(face.crop_box))
    landmarks = landmarks_in_crop(face.landmarks, face.crop_box, size)
    rng = np.random.default_rng(seed)
    fake = self_blend(crop, landmarks, rng)
    out = photo.copy()
    out.paste(Image.fromarray(fake), (left, top))
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    astronaut = Image.fromarray(skimage.data.astronaut())
    astronaut.save(OUT / "astronaut.jpg", quality=92)
    fake = manipulate(astronaut)
    fake.save(OUT / "astronaut_selfblended.jpg", quality=92)
    pair = Image.new("RGB", (astronaut.width * 2, astronaut.height))
    pair.paste(astronaut, (0, 0))
    pair.paste(fake, (astronaut.width, 0))
    pair.save(OUT / "two_faces.jpg", quality=92)
    Image.fromarray(skimage.data.rocket()).save(OUT / "rocket_no_face.jpg", quality=90)
    print(f"wrote samples to {OUT}")


if __name__ == "__main__":
    main()
