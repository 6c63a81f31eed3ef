"""The house plan (docs/ARCHITECTURE.md): which room may import which, checked on the source.

A violation names the file and the import, so a newcomer sees which rule a change broke.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

JOBS = ("detector.training", "detector.evaluation", "detector.reporting")
# room -> module prefixes it must not import
FORBIDDEN = {
    "detector": (*JOBS, "pages", "streamlit", "benchmarks", "scripts"),
    "detector.evaluation": ("detector.training", "detector.reporting", "pages", "streamlit"),
    "detector.reporting": ("detector.training", "detector.evaluation", "pages", "streamlit"),
    "detector.training": ("detector.reporting", "pages", "streamlit"),
    "xai": (*JOBS, "pages", "streamlit"),
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def room(module: str) -> str:
    for job in JOBS:
        if module == job or module.startswith(job + "."):
            return job
    return module.split(".")[0]


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_rooms_import_only_what_the_plan_allows():
    violations = []
    for path in sorted([*(ROOT / "detector").rglob("*.py"), *(ROOT / "xai").rglob("*.py")]):
        module = module_name(path)
        banned = FORBIDDEN[room(module)]
        for name in imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                violations.append(f"{module} imports {name}")
    assert not violations, "\n".join(violations)


def test_the_checker_sees_a_violation(tmp_path):
    # The rule above must be able to fail: a core module importing a job is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("from detector.training.train import main\nimport streamlit as st\n")
    found = imports(bad)
    assert any(n.startswith("detector.training") for n in found) and "streamlit" in found
    assert room("detector.training.train") == "detector.training" and room("detector.faces") == "detector"


def test_no_import_cycles_inside_detector():
    # Lazy imports inside functions count too: train.py and calibrate.py once imported each other that way.
    paths = {module_name(p).removesuffix(".__init__"): p for p in (ROOT / "detector").rglob("*.py")}
    graph = {m: {n for n in imports(p) if n in paths and n != m} for m, p in paths.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                return path + [module, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, " -> ".join(cycle)


# Rules a page must not re-derive: each has one home in detector/ (docs/ARCHITECTURE.md, "One place for each rule").
PAGE_RULES = ("explained_class", "track_verdict", "AbstainRules", "VIDEO_SUFFIXES", "file_kind", "sigmoid",
              "calibrated_probability", "read_provenance", "analyze_video(", "confident_frames_score", "video_to_dict")
ANALYSIS_PAGES = ("analyze_image.py", "analyze_video.py", "instructor.py")


def rules_in(text: str) -> list[str]:
    return [rule for rule in PAGE_RULES if rule in text]


def test_analysis_pages_only_call_the_analysis_and_draw():
    found = {page: rules_in((ROOT / "pages" / page).read_text(encoding="utf-8")) for page in ANALYSIS_PAGES}
    assert not any(found.values()), found
    assert rules_in("target = config.explained_class(p)\nrules = AbstainRules()") == ["explained_class", "AbstainRules"]


# What a batch scan must not work out for itself: it turns detector.analysis's ImageAnalysis /
# VideoAnalysis into rows (issue 15). Any of these in detector/scan.py means a verdict, size, stability,
# track or probability rule is being derived a second time, beside the one the pages and the CLI use.
SCAN_RULES = (".verdict(", "judge(", "check_faces", "check_tracks", "track_verdict", "analyze_checked", "min_face_px",
              "face_size", "x2 - x1", ".analyze(", "analyze_video(", "decode_image", "most_suspicious", "confident_frames",
              "explained_class", "sigmoid", "calibrated_probability", "threshold", "uncertain_margin", ".score",
              "verdict_from_label")


def scan_rules_in(text: str) -> list[str]:
    return [rule for rule in SCAN_RULES if rule in text]


def test_the_batch_scan_only_turns_the_analysis_into_rows():
    assert scan_rules_in((ROOT / "detector" / "scan.py").read_text(encoding="utf-8")) == []
    # The check can fail: the scan's rows as they were built before it used the analysis.
    before = ("result = detector.analyze(image)\nverdict = config.verdict(f.p_fake)\n"
              "too_small = min(x2 - x1, y2 - y1) < TOO_SMALL_FACE\nfrom detector.stability import check_faces\n")
    assert scan_rules_in(before) == [".verdict(", "check_faces", "x2 - x1", ".analyze("]
