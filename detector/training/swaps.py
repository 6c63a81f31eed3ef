"""Synthetic face swaps made from real pictures, for training a detector of face swaps it never saw.

Two sources, both applied to the whole real picture (before it is reframed and cropped), so the
swapped face sits in its picture exactly as a real swap would:

- `self_blend`: self-blended images as in Shiohara & Yamasaki (CVPR 2022). A real face is blended
  with a copy of itself that went through the paper's source-target augmentations (colour: RGB
  shift, hue/saturation/value, brightness/contrast; frequency: downscale or sharpen; a small
  scale/translation), inside a mask from the face outline's convex hull (MediaPipe's 36 face-oval
  points; an ellipse from MTCNN's five points where no outline is known), deformed elastically,
  eroded or dilated by a random blur-and-threshold, softened, and scaled by a blend ratio from
  {0.25, 0.5, 0.75, 1, 1, 1}.
- `classical_swap`: the "FaceSwap" family. Another real person's face is aligned to the target's
  five landmarks (similarity transform), colour-matched to the target inside the mask (Reinhard
  transfer in Lab), and blended in with Poisson (seamless) cloning or a feathered alpha mask
  bounded by the target's face outline. With `render_p` > 0 the donor's face is first brought to the
  resolution a swap model renders faces at (`rendered_at`: inswapper works on 128 px crops, the DeepFakes
  family on 64-256 px, so on a large face the swapped inside is softer than what surrounds it). Training
  leaves this off: `benchmarks.swap_render` found dfx-lite0 2.4.0 catching such swaps more often than
  sharp ones (test AUC 0.962 rendered 64 px wide, 0.908 sharp), so they are no blind spot to train away.
"""

from __future__ import annotations

import cv2
import numpy as np

cv2.setNumThreads(1)

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
# Face widths (px) at which a swap model renders the face it pastes: inswapper's 128 px crop holds a face about
# 90 px wide, DeepFakes-style autoencoders 64-256 px crops.
RENDER_FACE_PX = (48, 64, 90, 128, 180)


def region(box: list[float], shape: tuple[int, ...], scale: float = 2.0) -> tuple[int, int, int, int]:
    """A window around the face (the swap only touches the face; working on a window is faster)."""
    height, width = shape[:2]
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return int(max(0, cx - side / 2)), int(max(0, cy - side / 2)), int(min(width, cx + side / 2)), int(min(height, cy + side / 2))


def hull_mask(shape: tuple[int, int], outline: np.ndarray | None, landmarks: np.ndarray | None, box: list[float]) -> np.ndarray:
    """Filled convex hull of the face outline (float 0/1); an ellipse from five points or the box otherwise."""
    mask = np.zeros(shape, dtype=np.float32)
    if outline is not None and len(outline) >= 3:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(outline).astype(np.int32)), 1.0)
        return mask
    if landmarks is not None:
        lm = np.asarray(landmarks, dtype=np.float32)
        eye_mid, mouth_mid = lm[:2].mean(0), lm[3:].mean(0)
        eye_distance = float(np.linalg.norm(lm[1] - lm[0])) or 10.0
        vertical = float(np.linalg.norm(mouth_mid - eye_mid)) or 10.0
        center = (eye_mid + mouth_mid) / 2
        angle = float(np.degrees(np.arctan2(*(lm[1] - lm[0])[::-1])))
        axes = (max(3, int(eye_distance * 1.05)), max(3, int(vertical * 1.5)))
    else:
        x1, y1, x2, y2 = box
        center, angle, axes = np.array([(x1 + x2) / 2, (y1 + y2) / 2]), 0.0, (max(3, int((x2 - x1) * 0.4)), max(3, int((y2 - y1) * 0.48)))
    cv2.ellipse(mask, (int(center[0]), int(center[1])), axes, angle, 0, 360, 1.0, -1)
    return mask


def deform_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Elastic deformation, random erosion/dilation (blur then threshold) and a soft edge."""
    height, width = mask.shape
    size = max(8.0, float(np.sqrt(mask.sum())))  # about the face's side in pixels
    sigma = size * 0.08
    alpha = size * rng.uniform(0.02, 0.06)
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, mask.shape).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, mask.shape).astype(np.float32), (0, 0), sigma)
    norm = max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    mask = cv2.remap(mask, grid_x + dx / norm * alpha, grid_y + dy / norm * alpha, cv2.INTER_LINEAR)
    # Blur then threshold: a level below 0.5 dilates, above 0.5 erodes.
    mask = cv2.GaussianBlur(mask, (0, 0), size * rng.uniform(0.02, 0.08))
    mask = (mask > rng.uniform(0.2, 0.8)).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), size * rng.uniform(0.01, 0.08))
    peak = float(mask.max())
    return mask / peak if peak > 0 else mask


def _hsv_shift(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(-6, 7))) % 180
    hsv[..., 1:] += rng.integers(-20, 21, size=2).astype(np.int16)
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)


def source_target_augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The paper's source-target augmentations: colour, then frequency, then a small affine shift."""
    out = image.astype(np.float32)
    if rng.random() < 0.5:
        out += rng.uniform(-20, 20, size=3)  # RGB shift
    if rng.random() < 0.5:
        out = (out - out.mean()) * rng.uniform(0.8, 1.2) + out.mean() + rng.uniform(-20, 20)  # brightness/contrast
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = _hsv_shift(out, rng)
    if rng.random() < 0.5:
        height, width = out.shape[:2]
        factor = rng.uniform(0.25, 0.5)
        small = cv2.resize(out, (max(4, int(width * factor)), max(4, int(height * factor))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    elif rng.random() < 0.5:
        blurred = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = np.clip(out.astype(np.float32) * 1.5 - blurred.astype(np.float32) * 0.5, 0, 255).astype(np.uint8)
    height, width = out.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, size=2) * (width, height)
    matrix = np.float32([[scale, 0, (1 - scale) * width / 2 + shift[0]], [0, scale, (1 - scale) * height / 2 + shift[1]]])
    return cv2.warpAffine(out, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101)


def _paste(image: np.ndarray, window: tuple[int, int, int, int], patch: np.ndarray) -> np.ndarray:
    out = image.copy()
    left, top, right, bottom = window
    out[top:bottom, left:right] = patch
    return out


def _local(points: np.ndarray | None, window: tuple[int, int, int, int]) -> np.ndarray | None:
    return None if points is None else np.asarray(points, dtype=np.float32) - window[:2]


def self_blend(
    image: np.ndarray, box: list[float], landmarks: np.ndarray | None, outline: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """A self-blended fake of the whole picture (only the face region changes)."""
    window = region(box, image.shape)
    left, top, right, bottom = window
    target = image[top:bottom, left:right]
    local_box = [box[0] - left, box[1] - top, box[2] - left, box[3] - top]
    mask = hull_mask(target.shape[:2], _local(outline, window), _local(landmarks, window), local_box)
    mask = deform_mask(mask, rng) * float(rng.choice(BLEND_RATIOS))
    source = source_target_augment(target, rng)
    if rng.random() < 0.5:  # the paper augments either the source or the target
        source, target = target, source
    blended = source.astype(np.float32) * mask[..., None] + target.astype(np.float32) * (1 - mask[..., None])
    return _paste(image, window, np.clip(blended + 0.5, 0, 255).astype(np.uint8))


def reinhard_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the source's Lab mean and spread inside the mask to the target's (Reinhard et al. 2001)."""
    inside = mask > 0.5
    if inside.sum() < 16:
        return source
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    tgt = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src[inside].mean(0), src[inside].std(0) + 1e-3
    t_mean, t_std = tgt[inside].mean(0), tgt[inside].std(0) + 1e-3
    out = (src - s_mean) / s_std * t_std + t_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def rendered_at(face: np.ndarray, face_width: float, render_px: int, rng: np.random.Generator) -> np.ndarray:
    """`face` (a window whose face is `face_width` px wide) as a model rendering that face `render_px` wide
    would return it: sampled down to that size and back up with a random filter. A face already that
    small is returned as it is (the generator's output would be sampled down, which keeps it sharp)."""
    factor = render_px / max(face_width, 1.0)
    if factor >= 1.0:
        return face
    height, width = face.shape[:2]
    small = cv2.resize(face, (max(4, round(width * factor)), max(4, round(height * factor))), interpolation=cv2.INTER_AREA)
    upsample = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4)[int(rng.integers(3))]
    return cv2.resize(small, (width, height), interpolation=upsample)


def classical_swap(
    image: np.ndarray,
    box: list[float],
    landmarks: np.ndarray,
    outline: np.ndarray | None,
    donor: np.ndarray,
    donor_landmarks: np.ndarray,
    rng: np.random.Generator,
    render_p: float = 0.0,
    render_sizes: tuple[int, ...] = RENDER_FACE_PX,
) -> np.ndarray:
    """Put the donor's face onto the picture's face: align, render at a swap model's resolution (with
    probability `render_p`), colour-match, blend (Poisson or feathered)."""
    window = region(box, image.shape, 2.2)
    left, top, right, bottom = window
    target = image[top:bottom, left:right]
    height, width = target.shape[:2]
    matrix, _ = cv2.estimateAffinePartial2D(np.asarray(donor_landmarks, np.float32), _local(landmarks, window))
    if matrix is None:
        return self_blend(image, box, landmarks, outline, rng)
    warped = cv2.warpAffine(donor, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if render_p > 0 and rng.random() < render_p:  # no draw when off: seeded training streams stay as they were
        warped = rendered_at(warped, box[2] - box[0], int(rng.choice(render_sizes)), rng)
    local_box = [box[0] - left, box[1] - top, box[2] - left, box[3] - top]
    mask = hull_mask((height, width), _local(outline, window), _local(landmarks, window), local_box)
    # Swaps usually replace the inner face and keep the jaw line: shrink the hull toward its centre.
    ys, xs = np.nonzero(mask)
    if len(xs) < 16:
        return self_blend(image, box, landmarks, outline, rng)
    shrink = rng.uniform(0.75, 1.0)
    cx, cy = xs.mean(), ys.mean()
    affine = np.float32([[shrink, 0, (1 - shrink) * cx], [0, shrink, (1 - shrink) * cy]])
    mask = cv2.warpAffine(mask, affine, (width, height))
    warped = reinhard_transfer(warped, target, mask) if rng.random() < 0.8 else warped
    if rng.random() < 0.5:
        binary = (deform_mask(mask, rng) > 0.5).astype(np.uint8) * 255
        ys, xs = np.nonzero(binary)
        if len(xs) >= 16 and xs.min() > 0 and ys.min() > 0 and xs.max() < width - 1 and ys.max() < height - 1:
            center = (int((xs.min() + xs.max()) / 2), int((ys.min() + ys.max()) / 2))
            mode = cv2.NORMAL_CLONE if rng.random() < 0.7 else cv2.MIXED_CLONE
            try:
                blended = cv2.seamlessClone(
                    cv2.cvtColor(warped, cv2.COLOR_RGB2BGR), cv2.cvtColor(target, cv2.COLOR_RGB2BGR), binary, center, mode
                )
                return _paste(image, window, cv2.cvtColor(blended, cv2.COLOR_BGR2RGB))
            except cv2.error:
                pass
    soft = deform_mask(mask, rng)[..., None]
    blended = warped.astype(np.float32) * soft + target.astype(np.float32) * (1 - soft)
    return _paste(image, window, np.clip(blended + 0.5, 0, 255).astype(np.uint8))
