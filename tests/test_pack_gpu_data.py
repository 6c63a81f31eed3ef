from scripts.pack_gpu_data import chunk, pick


def test_pick_keeps_every_training_picture_and_samples_only_dfdc_validation():
    records = [{"split": "train", "dataset": "dfdc", "label": i % 2, "file": f"t{i}"} for i in range(10)]
    records += [{"split": "val", "dataset": "dfdc", "label": i % 2, "file": f"v{i}"} for i in range(40)]
    records += [{"split": "val", "dataset": "sd21_faces", "label": 1, "file": f"s{i}"} for i in range(5)]
    records += [{"split": "test", "dataset": "sd21_faces", "label": 1, "file": "x"}]
    files = pick(records, dfdc_val_per_class=3, seed=0)
    assert {f"t{i}" for i in range(10)} <= set(files) and {f"s{i}" for i in range(5)} <= set(files)
    assert sum(f.startswith("v") for f in files) == 6 and "x" not in files
    assert files == pick(records, dfdc_val_per_class=3, seed=0)


def test_chunks_respect_their_caps_and_the_last_takes_the_rest():
    files = [f"f{i}" for i in range(10)]
    chunks = chunk(files, [4] * 10, [10, 10, 1])
    assert [len(c) for c in chunks] == [2, 2, 6]
    assert sum(chunks, []) == files
