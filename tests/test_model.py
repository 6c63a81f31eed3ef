import numpy as np
import skimage.data
import timm
import torch
from PIL import Image

from detector.model import LITE0_MEAN, LITE0_STD, folded_for_inference, imagenet_lite0, load_imagenet_lite0_state

CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_every_imagenet_tensor_is_mapped_once():
    state = load_imagenet_lite0_state()
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    assert list(state) == list(target)  # every timm tensor, in order, exactly once
    source = torch.load(__import__("detector.model", fromlist=["x"]).imagenet_lite0_path(), map_location="cpu", weights_only=True)
    assert len(source) == len(state) == 296
    for (source_key, tensor), target_key in zip(source.items(), state):
        assert torch.equal(tensor, state[target_key]), f"{source_key} -> {target_key}"


def test_imagenet_head_sees_the_cat():
    model = imagenet_lite0()
    image = Image.fromarray(skimage.data.chelsea()).resize((224, 224), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(image)).permute(2, 0, 1).float()[None] / 255.0
    mean, std = torch.tensor(LITE0_MEAN).view(1, 3, 1, 1), torch.tensor(LITE0_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        top5 = model((x - mean) / std).topk(5).indices[0].tolist()
    assert CAT_CLASSES & set(top5)
    assert top5[0] in CAT_CLASSES


def test_a_wrong_mapping_would_be_caught():
    # Shuffling the source order must break the shape check: the mapping is not vacuous.
    import pytest

    from detector import model as model_module

    original = torch.load(model_module.imagenet_lite0_path(), map_location="cpu", weights_only=True)
    items = list(original.items())
    items[0], items[5] = items[5], items[0]
    import tempfile
    from collections import OrderedDict

    with tempfile.NamedTemporaryFile(suffix=".pth") as handle:
        torch.save(OrderedDict(items), handle.name)
        with pytest.raises(ValueError, match="does not fit"):
            load_imagenet_lite0_state(handle.name)


def test_folded_model_scores_like_the_model_without_batch_norm(tiny_checkpoint):
    from detector.checkpoint import load_checkpoint

    model = load_checkpoint(tiny_checkpoint)
    # Trained-looking statistics, so a fold that ignored them (or the bias) would show.
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    folded = folded_for_inference(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the explainers' model is untouched
    assert folded.lock is model.lock
    pixels = torch.rand(3, 3, 224, 224, generator=generator)
    with torch.inference_mode():
        expected, got = model(pixels), folded(pixels)
        assert float((expected - got).abs().max()) < 1e-3 * max(1.0, float(expected.abs().max()))
        channels_last = folded_for_inference(model.to(memory_format=torch.channels_last))
        assert torch.allclose(channels_last(pixels.contiguous(memory_format=torch.channels_last)), expected, atol=1e-3)
