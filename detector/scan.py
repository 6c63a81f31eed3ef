"""Batch scan: every face in a pile of images and videos, on Ray Data, into Parquet.

    python -m detector.scan SOURCE... --out RESULTS [--csv] [--actors N] [--address auto|ray://host:port]

SOURCE is a folder (searched recursively), a ZIP archive, a CSV or text file listing paths (a CSV's
`path` or `file` column, else its first column; relative paths are read from the list's folder),
or a single image or video. RESULTS is a folder of Parquet parts (plus results.csv with --csv):
one row per face (a video: one row per face track), one row per file with no face, and one row
per file that failed, with its reason. A rerun with the same RESULTS skips every file whose
SHA-256 is already there, so an interrupted scan resumes where it stopped.

Engine: Ray Data. The file list becomes a dataset; `map_batches` runs `ScanWorker`, a callable
class that Ray keeps alive in an actor pool, so each actor loads one Detector once and then reads,
hashes, decodes, detects and classifies batch after batch. The driver streams finished blocks to
Parquet parts, so neither its memory nor the workers' grows with the number of files. By default
Ray starts embedded on this machine with the local cores; `--address` joins an existing cluster
(the files must then be readable at the same paths on every node). `engine="local"` runs the same
worker in this process, one file after another: the plain loop, used by the app and as the
benchmark's baseline.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import logging
import os
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.errors import DetectorError, InputError
from detector.imageio import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from detector.limits import MAX_IMAGE_BYTES, MAX_VIDEO_BYTES
from detector.memory import release_free_memory

# The analysis (detector.analysis: torch, PyAV) is imported where a worker uses it, so the driver of a
# Ray scan, which only lists files and writes Parquet, stays a small process.
if TYPE_CHECKING:
    from detector.analysis import FaceAnalysis, ImageAnalysis, TrackAnalysis, VideoAnalysis
    from detector.provenance import Provenance

MEDIA_SUFFIXES = IMAGE_SUFFIXES + VIDEO_SUFFIXES
LIST_SUFFIXES = (".csv", ".txt", ".lst")
ZIP_SEPARATOR = "::"  # "archive.zip::folder/photo.jpg" names a member of an archive
NO_LABEL = -1
THUMBNAIL_SIDE = 96

# Columns filled only when their analysis is on: provenance (detector/provenance.py, per file,
# default on) and the stability check (detector/stability.py, per image face, --stability: it
# classifies 11 altered copies of every face, about 12x the classifier's work). They always exist,
# so every Parquet part has one schema.
PROVENANCE_COLUMNS = ("provenance_state", "ai_declared", "provenance_summary")
STABILITY_COLUMNS = ("final_verdict", "p_fake_low", "p_fake_high", "flips", "stability_summary")

SCHEMA = pa.schema([
    ("file", pa.string()),
    ("sha256", pa.string()),
    ("kind", pa.string()),  # image | video
    ("status", pa.string()),  # face | no_face | error | skipped (skipped rows never reach RESULTS)
    ("face", pa.int32()),  # 1-based face number (a video: its track number)
    ("x1", pa.float32()), ("y1", pa.float32()), ("x2", pa.float32()), ("y2", pa.float32()),
    ("p_fake", pa.float32()),
    ("logit", pa.float32()),  # an image face's raw logit (before temperature scaling), for calibration plots
    ("verdict", pa.string()),
    ("face_prob", pa.float32()),  # MTCNN's detector confidence (0 for a fallback face)
    ("fallback", pa.bool_()),  # no face detected: the whole picture was classified
    ("too_small", pa.bool_()),  # under the model's size limit (abstain.json; a video: its median face), flagged not dropped
    ("frame_time", pa.float32()),  # a video: time (s) of the track's most suspicious frame
    ("n_frames", pa.int32()),  # a video: frames of the track
    ("error", pa.string()),
    ("label", pa.int8()),  # ground truth when scanning a labelled set (evaluation), else empty
    ("model", pa.string()),
    ("seconds", pa.float32()),  # wall time for the whole file on its worker
    ("provenance_state", pa.string()),  # C2PA credentials: valid+trusted, invalid, none, ...
    ("ai_declared", pa.bool_()),  # the file itself says it was AI-generated (C2PA or IPTC)
    ("provenance_summary", pa.string()),  # provenance's one-line headline
    ("final_verdict", pa.string()),  # after the stability check (display.* code; may abstain)
    ("p_fake_low", pa.float32()), ("p_fake_high", pa.float32()),  # P(fake) range over the altered copies
    ("flips", pa.bool_()),
    ("stability_summary", pa.string()),  # the stability check's line in words
    ("thumbnail", pa.binary()),  # optional JPEG of the face crop (--thumbnails)
])
COLUMNS = SCHEMA.names


# ---- sources ---------------------------------------------------------------------------------

@dataclass
class Listing:
    """What the sources hold: files to scan and how many other files were passed over."""

    files: list[str] = field(default_factory=list)
    ignored: int = 0


def list_sources(sources: Iterable[str | Path]) -> Listing:
    """Expand folders, ZIPs and path lists into file references, in a stable order.

    Folders and archives contribute their image and video files (others are counted in
    `ignored`); a list's entries are kept as given, so an unsupported one becomes an error row.
    Raises DetectorError for a source that does not exist or is not one of these kinds."""
    listing = Listing()
    for source in sources:
        _expand(Path(source), listing, depth=0)
    return listing


def _expand(path: Path, listing: Listing, depth: int) -> None:
    if depth > 2:  # a list naming itself, or lists of lists of lists
        raise DetectorError(f"{path}: lists nested too deeply")
    suffix = path.suffix.lower()
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))):
            if child.suffix.lower() in MEDIA_SUFFIXES:
                listing.files.append(str(child))
            else:
                listing.ignored += 1
    elif not path.exists():
        raise DetectorError(f"{path}: no such file or folder")
    elif suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
        except (zipfile.BadZipFile, OSError) as exc:
            raise DetectorError(f"{path.name} is not a readable ZIP archive ({exc})") from None
        for name in names:
            if Path(name).suffix.lower() in MEDIA_SUFFIXES and not _hidden(Path(name)):
                listing.files.append(f"{path}{ZIP_SEPARATOR}{name}")
            else:
                listing.ignored += 1
    elif suffix in LIST_SUFFIXES:
        for entry in read_path_list(path):
            target = Path(entry) if Path(entry).is_absolute() else path.parent / entry
            if target.is_dir() or target.suffix.lower() in (".zip",) + LIST_SUFFIXES:
                _expand(target, listing, depth + 1)
            else:
                listing.files.append(str(target))
    else:
        listing.files.append(str(path))


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.parts)


def read_path_list(path: Path) -> list[str]:
    """Paths from a text file (one a line, '#' comments) or a CSV (`path`/`file` column, else the first)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError(f"{path.name} cannot be read as a list of paths ({exc})") from None
    if path.suffix.lower() != ".csv":
        return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(k) for k in ("path", "file", "filename") if k in header), None)
    body = rows[1:] if column is not None else rows
    column = column or 0
    return [row[column].strip() for row in body if len(row) > column and row[column].strip()]


class SourceReader:
    """Reads a file reference's bytes with the size limits applied before the bytes are in memory."""

    def __init__(self) -> None:
        self._archives: dict[str, zipfile.ZipFile] = {}  # kept open: re-reading a central directory per member is slow

    def read(self, ref: str) -> bytes:
        limit = MAX_VIDEO_BYTES if kind_of(ref) == "video" else MAX_IMAGE_BYTES
        archive_path, _, member = ref.partition(ZIP_SEPARATOR)
        if member:
            return self._read_member(archive_path, member, limit)
        path = Path(ref)
        try:
            size = path.stat().st_size
            if size == 0:
                raise InputError(f"{path.name} is empty (0 bytes)")
            if size > limit:
                raise InputError(f"{path.name} is {size / 2**20:.0f} MB; the limit is {limit // 2**20} MB")
            return path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path.name}: {exc.strerror or exc}") from None

    def _read_member(self, archive_path: str, member: str, limit: int) -> bytes:
        try:
            archive = self._archives.get(archive_path)
            if archive is None:
                archive = self._archives[archive_path] = zipfile.ZipFile(archive_path)
            info = archive.getinfo(member)
            if info.file_size > limit:  # zipfile never returns more than the declared size
                raise InputError(f"{member} unpacks to {info.file_size / 2**20:.0f} MB; the limit is {limit // 2**20} MB")
            return archive.read(info)
        except KeyError:
            raise InputError(f"{member} is not in {Path(archive_path).name}") from None
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            raise InputError(f"{member} cannot be unpacked from {Path(archive_path).name} ({exc})") from None

    def close(self) -> None:
        for archive in self._archives.values():
            archive.close()
        self._archives.clear()


def kind_of(name: str) -> str | None:
    suffix = Path(name.rpartition(ZIP_SEPARATOR)[2] or name).suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


# ---- the per-file core, shared by every engine -----------------------------------------------

def member_name(ref: str) -> str:
    """The file's own name: 'photo.jpg' for 'tips.zip::inbox/photo.jpg' or '/data/photo.jpg'."""
    return Path(ref.rpartition(ZIP_SEPARATOR)[2] or ref).name


def analyze_file(detector, ref: str, data: bytes, *, stability: bool = False, provenance: bool = True,
                 sample_fps: float = 1.0, max_frames: int = 32, rules=None, sha256: str | None = None):
    """A file's ImageAnalysis or VideoAnalysis: the functions behind the pages and `detector.predict`
    (detector.analysis), so a scan says exactly what they say about the same file. DetectorError for a bad file."""
    from detector.analysis import analyze_image_bytes, analyze_video_file, file_kind

    name = member_name(ref)
    if file_kind(name) == "image":
        return analyze_image_bytes(detector, data, name, stability=stability, rules=rules, provenance=provenance, sha256=sha256)
    return analyze_video_file(detector, data, name, sample_fps=sample_fps, max_frames=max_frames, provenance=provenance,
                              rules=rules, stability=stability, sha256=sha256)


def rows_from_analysis(analysis: ImageAnalysis | VideoAnalysis, thumbnails: bool = False) -> list[dict]:
    """A file's rows in the scan's schema, read off its analysis: one per face (a video: per track),
    or one 'no_face' row. Only copies: every verdict, flag and range is the analysis's own."""
    from detector.analysis import VideoAnalysis

    if isinstance(analysis, VideoAnalysis):
        kind, rows = "video", [_track_row(t, analysis.checked, thumbnails) for t in analysis.tracks]
    else:
        kind, rows = "image", [_face_row(f, analysis.checked, thumbnails) for f in analysis.faces]
    rows = rows or [{"status": "no_face"}]
    extra = {"kind": kind, **(provenance_columns(analysis.provenance) if analysis.provenance is not None else {})}
    return [{**row, **extra} for row in rows]


def _face_row(face: FaceAnalysis, checked: bool, thumbnails: bool) -> dict:
    result = face.result
    row = _detection_columns(face.index + 1, result, result.p_fake, result.label, face.too_small, thumbnails)
    row["logit"] = float(result.logit)
    if checked:
        row["final_verdict"] = face.verdict
        if face.stability is not None:
            row.update(_range_columns(face.stability), stability_summary=face.stability.line())
    return row


def _track_row(track: TrackAnalysis, checked: bool, thumbnails: bool) -> dict:
    frame = track.headline  # its most suspicious frame: the box, detector confidence, time and thumbnail
    row = _detection_columns(track.id, frame.face, track.p_fake, track.label, track.too_small, thumbnails)
    row.update(frame_time=frame.time, n_frames=len(track.track.faces), fallback=track.fallback)
    if checked:
        row["final_verdict"] = track.verdict
        if track.stability is not None:  # a track too small to judge is not re-scored
            row.update(_range_columns(track.stability), stability_summary=track.stability.summary())
    return row


def _detection_columns(number: int, result, p_fake: float, label: str, too_small: bool, thumbnails: bool) -> dict:
    x1, y1, x2, y2 = (float(v) for v in result.box)
    return {
        "status": "face", "face": number, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
        "p_fake": float(p_fake), "verdict": label, "face_prob": float(result.face.prob),
        "fallback": bool(result.face.fallback), "too_small": bool(too_small),
        "thumbnail": _jpeg(result.crop) if thumbnails else None,
    }


def _range_columns(check) -> dict:
    return {"p_fake_low": check.low, "p_fake_high": check.high, "flips": bool(check.flipped)}


def _jpeg(image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class ScanWorker:
    """One Detector, loaded once; turns batches of file references into result rows.

    Ray Data instantiates it once per actor of the pool (`map_batches(ScanWorker, ...)`); the
    local engine and the app instantiate it directly. Files whose SHA-256 is in `skip` give one
    'skipped' row (the driver counts and drops it), so resuming costs a read and a hash per file."""

    def __init__(self, checkpoint: str | None = None, device: str | None = None, threads: int | None = None,
                 skip: Iterable[str] = (), thumbnails: bool = False, sample_fps: float = 1.0, max_frames: int = 32,
                 provenance: bool = True, stability: bool = False, detector=None) -> None:
        from detector.analysis import model_name
        from detector.stability import AbstainRules

        if detector is None:
            if threads:
                os.environ["DFX_THREADS"] = str(threads)  # read by Detector: one actor must not take every core
            from detector.inference import Detector

            detector = Detector(checkpoint, device)
        self.detector = detector
        self.model = model_name(detector.config)
        self.skip = frozenset(skip)
        # The checkpoint's limits, read once per worker rather than once per file.
        rules = AbstainRules.for_checkpoint(getattr(detector, "checkpoint", None))
        self.options = {"stability": stability, "provenance": provenance, "sample_fps": sample_fps,
                        "max_frames": max_frames, "rules": rules}
        self.thumbnails = thumbnails
        self.provenance = provenance
        self.reader = SourceReader()

    def __call__(self, batch: dict) -> pa.Table:
        labels = batch.get("label")
        rows = []
        for i, ref in enumerate(batch["file"]):
            label = int(labels[i]) if labels is not None else NO_LABEL
            rows += self.scan_file(str(ref), label)
        table = to_table(rows)
        # Decoding, MTCNN and the classifier free buffers of many sizes after every batch; glibc keeps
        # the freed pages, and a long-lived actor's RSS crept up by 4-8 MB per 1,000 files of a scan
        # (benchmarks/bench_scan.py). Handed back after each batch (~ms), RSS falls back instead of only ratcheting up.
        release_free_memory()
        return table

    def scan_file(self, ref: str, label: int = NO_LABEL) -> list[dict]:
        start = time.perf_counter()
        try:
            data = self.reader.read(ref)
        except DetectorError as exc:
            return [self._finish({"status": "error", "error": str(exc), "kind": kind_of(ref)}, ref, None, label, start)]
        return self.scan_data(ref, data, label, start)

    def scan_data(self, name: str, data: bytes, label: int = NO_LABEL, start: float | None = None) -> list[dict]:
        """Rows for a file already in memory (an upload): the same path as a file on disk."""
        start = time.perf_counter() if start is None else start
        digest = hashlib.sha256(data).hexdigest()
        if digest in self.skip:
            return [{"file": name, "sha256": digest, "status": "skipped"}]
        try:
            rows = rows_from_analysis(analyze_file(self.detector, name, data, sha256=digest, **self.options), self.thumbnails)
        except DetectorError as exc:
            rows = [self._error_row(name, data, str(exc))]
        except Exception as exc:  # noqa: BLE001 - one file's unexpected failure must not stop a scan of thousands
            rows = [self._error_row(name, data, f"unexpected {type(exc).__name__}: {str(exc)[:200]}")]
        return [self._finish(row, name, digest, label, start) for row in rows]

    def _error_row(self, name: str, data: bytes, error: str) -> dict:
        """A file the analysis refused; its provenance is still read (a broken video may carry credentials)."""
        row = {"status": "error", "error": error, "kind": kind_of(name)}
        if self.provenance and kind_of(name):
            from detector.provenance import read_provenance

            row.update(provenance_columns(read_provenance(data, member_name(name))))
        return row

    def _finish(self, row: dict, name: str, digest: str | None, label: int, start: float) -> dict:
        row.update(file=name, sha256=digest, model=self.model, seconds=time.perf_counter() - start,
                   label=None if label == NO_LABEL else label)
        return row


def provenance_columns(found: Provenance) -> dict:
    """A file's provenance (detector.provenance) in the scan's columns."""
    return {"provenance_state": found.credentials.state, "ai_declared": found.ai_declared, "provenance_summary": found.headline}


def to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([{c: row.get(c) for c in COLUMNS} for row in rows], schema=SCHEMA)


# ---- engines ---------------------------------------------------------------------------------

@dataclass
class EngineOptions:
    engine: str = "ray"  # "ray" or "local" (the same worker in this process)
    actors: int | None = None  # Ray actor pool size (default: one per local core, at most 4)
    address: str | None = None  # None: embedded Ray on this machine; "auto" or "ray://host:port": a cluster
    num_gpus: float = 0.0  # per actor, on GPU nodes
    batch_size: int = 8  # files per map_batches call
    object_store_mb: int = 256  # embedded Ray only: its shared-memory object store


def local_batches(items: list[dict], worker_kwargs: dict, options: EngineOptions, worker: ScanWorker | None = None) -> Iterator[pa.Table]:
    """The plain loop: one ScanWorker in this process."""
    worker = worker or ScanWorker(**worker_kwargs)
    for start in range(0, len(items), options.batch_size):
        chunk = items[start:start + options.batch_size]
        yield worker({"file": [it["file"] for it in chunk], "label": [it.get("label", NO_LABEL) for it in chunk]})


def ray_batches(items: list[dict], worker_kwargs: dict, options: EngineOptions) -> Iterator[pa.Table]:
    """Ray Data: an actor pool of ScanWorkers over the file list, blocks streamed back as they finish."""
    import ray

    started_here = start_ray(options)
    try:
        cpus = ray.cluster_resources().get("CPU", 1)
        actors = options.actors or max(1, min(4, int(cpus)))
        per_actor = 0.0 if options.num_gpus else max(1.0, min(cpus / actors, 8.0))
        worker_kwargs = {**worker_kwargs, "threads": int(per_actor) or None}
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the driver draws one bar with an ETA over files
        # At least one block per actor, or a small scan would leave actors idle.
        blocks = max(1, min(len(items), max(actors, -(-len(items) // options.batch_size))))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            ScanWorker,
            fn_constructor_kwargs=worker_kwargs,
            batch_size=options.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=per_actor if not options.num_gpus else 1,
            num_gpus=options.num_gpus or None,
        )
        yield from dataset.iter_batches(batch_size=None, batch_format="pyarrow")
    finally:
        if started_here:
            ray.shutdown()


def start_ray(options: EngineOptions) -> bool:
    """Connect to a cluster, or start a small embedded Ray here. True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # The actors never download (HF_HUB_OFFLINE), and on a cluster too they get these allocator and OpenMP
    # settings, which `ray start` on another node would not have passed on. PASSIVE, not the app's short
    # spin: the actors of a node share its cores by design, each with a fixed thread count.
    runtime_env = {"env_vars": {"HF_HUB_OFFLINE": "1", "MALLOC_ARENA_MAX": "2", "OMP_WAIT_POLICY": "PASSIVE"}}
    if options.address:
        ray.init(address=options.address, log_to_driver=False, runtime_env=runtime_env)
    else:
        # address="local": a new embedded Ray even where `ray start` left a cluster running on this machine
        # (ray.init() without an address joins that cluster, which refuses num_cpus and the rest).
        # A small footprint for a laptop: no dashboard, a modest object store, the local cores only.
        ray.init(address="local", num_cpus=os.cpu_count() or 1, num_gpus=_local_gpus(), include_dashboard=False,
                 object_store_memory=options.object_store_mb * 2**20, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env=runtime_env)
    return True


def _local_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch CUDA here is the normal case
        return 0


# ---- results folder --------------------------------------------------------------------------

def read_results(out: str | Path, columns: list[str] | None = None):
    """Every row of a results folder as a pandas DataFrame (empty with the schema when none yet)."""
    parts = sorted(Path(out).glob("part-*.parquet"))
    if not parts:
        return SCHEMA.empty_table().to_pandas() if columns is None else SCHEMA.empty_table().select(columns).to_pandas()
    tables = [pq.read_table(p, columns=columns) for p in parts]
    return pa.concat_tables(tables, promote_options="default").to_pandas(types_mapper=_NULLABLE.get)


def _nullable_types() -> dict:
    import pandas as pd

    # integers and flags stay integers and flags where a row has none (a failed file has no face number)
    return {pa.int32(): pd.Int32Dtype(), pa.int8(): pd.Int8Dtype(), pa.bool_(): pd.BooleanDtype()}


_NULLABLE = _nullable_types()


def done_hashes(out: str | Path) -> set[str]:
    """SHA-256 of every file already in RESULTS (scanned, faceless or failed on its content).

    A file that could not be read has no hash, so a rerun tries it again (it may be readable now);
    drop_superseded_failures then removes its old error row."""
    frame = read_results(out, ["sha256"])
    return set(frame["sha256"].dropna())


def drop_superseded_failures(out: str | Path, run: str) -> int:
    """Remove the unreadable-file rows (error, no hash) of earlier runs for every file that run `run`
    wrote rows for; returns how many rows went. Without this each rerun added one more error row for
    a file that stays unreadable, and an old error row sat beside the faces of a file that became
    readable. Parts are rewritten whole (temp file + rename), as ResultWriter writes them."""
    parts = sorted(Path(out).glob("part-*.parquet"))
    this_run = [p for p in parts if p.name.startswith(f"part-{run}-")]
    rewritten = set().union(*(pq.read_table(p, columns=["file"])["file"].to_pylist() for p in this_run)) if this_run else set()
    dropped = 0
    for part in (p for p in parts if p not in this_run and rewritten):
        table = pq.read_table(part)
        stale = pc.and_(pc.and_(pc.equal(table["status"], "error"), pc.is_null(table["sha256"])),
                        pc.is_in(table["file"], value_set=pa.array(sorted(rewritten), pa.string())))
        count = pc.sum(stale).as_py() or 0
        if count:
            _replace_part(part, table.filter(pc.invert(stale)))
            dropped += count
    return dropped


def _replace_part(part: Path, table: pa.Table) -> None:
    if not table.num_rows:
        part.unlink()
        return
    tmp = part.with_name(f".{part.stem}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(part)  # readers see the old part or the new one, never half of one


class ResultWriter:
    """Streams tables into Parquet parts of at most `part_rows` rows; each part is complete on disk,
    so a scan killed half-way keeps everything up to its last part."""

    def __init__(self, out: str | Path, part_rows: int = 512) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        # Unique per run, even for two runs of one process within a second (they overwrote each other's parts).
        self.run = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.part_rows = part_rows
        self.pending: list[pa.Table] = []
        self.count = 0
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.pending.append(table)
            if sum(t.num_rows for t in self.pending) >= self.part_rows:
                self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        table = pa.concat_tables(self.pending)
        tmp = self.out / f".part-{self.run}-{self.count:05d}.tmp"
        pq.write_table(table, tmp)
        tmp.rename(self.out / f"part-{self.run}-{self.count:05d}.parquet")  # a part appears whole or not at all
        self.rows += table.num_rows
        self.count += 1
        self.pending = []


@dataclass
class ScanSummary:
    files: int = 0  # files in the sources
    skipped: int = 0  # already in RESULTS
    scanned: int = 0
    failed: int = 0
    no_face: int = 0
    faces: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.scanned / self.seconds if self.seconds else 0.0
        return (f"{self.files} files: {self.scanned} scanned ({self.faces} faces, {self.no_face} without a face, "
                f"{self.failed} failed), {self.skipped} already done; {self.seconds:.1f} s, {rate:.2f} files/s")


def scan(items: list[dict], out: str | Path, options: EngineOptions | None = None, *, checkpoint: str | None = None,
         device: str | None = None, thumbnails: bool = False, sample_fps: float = 1.0, max_frames: int = 32,
         provenance: bool = True, stability: bool = False,
         progress: bool = True, write_csv: bool = False,
         on_progress: Callable[[int, int], None] | None = None) -> ScanSummary:
    """Scan `items` ({"file": ref, "label": 0/1/-1}) into the results folder `out`, resuming by hash."""
    options = options or EngineOptions()
    skip = done_hashes(out)
    worker_kwargs = {"checkpoint": str(checkpoint) if checkpoint else None, "device": device, "skip": sorted(skip),
                     "thumbnails": thumbnails, "sample_fps": sample_fps, "max_frames": max_frames,
                     "provenance": provenance, "stability": stability}
    summary = ScanSummary(files=len(items))
    writer = ResultWriter(out)
    bar = _progress_bar(len(items)) if progress else None
    start = time.perf_counter()
    engine = ray_batches if options.engine == "ray" else local_batches
    if options.engine not in ("ray", "local"):
        raise DetectorError(f"unknown engine '{options.engine}' (use ray or local)")
    try:
        for table in engine([{"file": it["file"], "label": it.get("label", NO_LABEL)} for it in items], worker_kwargs, options):
            frame = table.select(["file", "status"]).to_pandas()
            per_file = frame.drop_duplicates("file")
            summary.skipped += int((per_file["status"] == "skipped").sum())
            summary.failed += int((per_file["status"] == "error").sum())
            summary.no_face += int((per_file["status"] == "no_face").sum())
            summary.faces += int((frame["status"] == "face").sum())
            summary.scanned += int((per_file["status"] != "skipped").sum())
            writer.add(table.filter(pc.not_equal(table["status"], "skipped")))
            if bar:
                bar.update(len(per_file))
            if on_progress:
                on_progress(summary.scanned + summary.skipped, summary.files)
    finally:
        writer.flush()
        drop_superseded_failures(out, writer.run)  # also after an interrupted run: only for files it rewrote
        if bar:
            bar.close()
    summary.seconds = time.perf_counter() - start
    if write_csv:
        export_csv(out)
    return summary


def export_csv(out: str | Path) -> Path:
    """results.csv beside the parts: every row, without the thumbnails."""
    path = Path(out) / "results.csv"
    frame = read_results(out)
    frame.drop(columns=["thumbnail"], errors="ignore").to_csv(path, index=False)
    return path


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, smoothing=0.1, dynamic_ncols=True)


# ---- in the app ------------------------------------------------------------------------------

BATCH_FOLDERS_ENV = "DFX_BATCH_FOLDERS"
MAX_APP_FILES = 500  # a bigger pile belongs on the command line (Ray, resumable, no browser tab to keep open)


def batch_folders() -> list[Path]:
    """Server-side folders the app may scan: the allow-list in $DFX_BATCH_FOLDERS (os.pathsep-separated).

    A browser only ever picks one of these by position; it never sends a path."""
    raw = os.environ.get(BATCH_FOLDERS_ENV, "")
    return [Path(p).resolve() for p in raw.split(os.pathsep) if p.strip() and Path(p).is_dir()]


@dataclass
class BatchResult:
    """A scan's rows (the Parquet schema) with the views a page shows and the downloads it offers."""

    rows: object  # pandas DataFrame
    uploads: dict[str, bytes] = field(default_factory=dict)  # name -> bytes, for opening one file again

    def file_bytes(self, name: str) -> bytes:
        """A scanned file's bytes, to open its full analysis: the upload, or the file read again."""
        if name in self.uploads:
            return self.uploads[name]
        if name not in set(self.rows["file"]):
            raise DetectorError(f"{name} was not part of this scan")
        return SourceReader().read(name)

    def faces(self):
        """Face rows, most suspicious first."""
        from detector.display import verdict_words

        faces = self.rows[self.rows["status"] == "face"]
        # scan_in_app always runs the stability check, so every face and track has the analysis's final
        # verdict, the one its image or video page shows.
        faces = faces.assign(verdict_words=[verdict_words(c) for c in faces["final_verdict"]])
        return faces.sort_values(["p_fake", "file", "face"], ascending=[False, True, True]).reset_index(drop=True)

    def failures(self):
        return self.rows.loc[self.rows["status"] == "error", ["file", "error"]].reset_index(drop=True)

    def no_face(self) -> list[str]:
        return self.rows.loc[self.rows["status"] == "no_face", "file"].tolist()

    def parquet_bytes(self) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(self.rows, schema=SCHEMA, preserve_index=False), buffer)
        return buffer.getvalue()

    def csv_text(self) -> str:
        return self.rows.drop(columns=["thumbnail"]).to_csv(index=False)


def scan_in_app(detector, uploads: list[tuple[str, bytes]] | None = None, folder: Path | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> BatchResult:
    """Scan uploads (kept in memory) or an allowed server folder with the app's loaded detector.

    The same ScanWorker as a Ray actor, run in the app's process: a web server should not start a
    Ray cluster per request, and the model is already loaded here. Thumbnails are kept for the table,
    and every image face gets the stability check and final verdict, as on the image page."""
    # With the stability check, so a face gets the same verdict here as on the image page.
    worker = ScanWorker(detector=detector, thumbnails=True, stability=True)
    if folder is not None:
        if Path(folder).resolve() not in batch_folders():
            raise DetectorError(f"{folder} is not a folder this app is allowed to scan")
        files = list_sources([folder]).files
        jobs = [(ref, None) for ref in files]
    else:
        jobs = list(uploads or [])
    if not jobs:
        raise DetectorError("nothing to scan: no image or video files")
    if len(jobs) > MAX_APP_FILES:
        raise DetectorError(f"{len(jobs)} files; the app scans at most {MAX_APP_FILES} at a time "
                            "(use `python -m detector.scan` for bigger piles)")
    rows: list[dict] = []
    for done, (name, data) in enumerate(jobs, start=1):
        rows += worker.scan_file(name) if data is None else worker.scan_data(name, data)
        if on_progress:
            on_progress(done, len(jobs))
    return BatchResult(to_table(rows).to_pandas(types_mapper=_NULLABLE.get), dict(uploads or []))


# ---- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scan folders, ZIPs and path lists of images and videos for fake faces.")
    parser.add_argument("sources", nargs="+", help="folder, .zip, .csv/.txt list of paths, or a file")
    parser.add_argument("--out", required=True, type=Path, help="results folder (Parquet parts); a rerun resumes it")
    parser.add_argument("--csv", action="store_true", help="also write RESULTS/results.csv")
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--engine", choices=("ray", "local"), default="ray", help="ray (default) or the plain one-process loop")
    parser.add_argument("--actors", type=int, help="Ray actors, each holding one Detector (default: local cores, at most 4)")
    parser.add_argument("--address", help="existing Ray cluster: 'auto' or ray://host:port (default: embedded Ray here)")
    parser.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per actor on GPU nodes (e.g. 1 or 0.5)")
    parser.add_argument("--batch-size", type=int, default=8, help="files per map_batches call")
    parser.add_argument("--thumbnails", action="store_true", help="store a 96 px JPEG of every face crop")
    parser.add_argument("--fps", type=float, default=1.0, help="video: frames sampled per second")
    parser.add_argument("--max-frames", type=int, default=32, help="video: at most this many sampled frames")
    parser.add_argument("--stability", action="store_true", help="stability check per image face (about 12x the classifier's work)")
    parser.add_argument("--no-provenance", action="store_true", help="skip reading C2PA credentials and metadata")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    options = EngineOptions(engine=args.engine, actors=args.actors, address=args.address,
                            num_gpus=args.num_gpus, batch_size=max(1, args.batch_size))
    try:
        listing = list_sources(args.sources)
        if not listing.files:
            raise DetectorError("the sources hold no image or video files")
        if listing.ignored:
            print(f"note: {listing.ignored} file(s) that are not images or videos were ignored", file=sys.stderr)
        summary = scan([{"file": f} for f in listing.files], args.out, options, checkpoint=args.model,
                       thumbnails=args.thumbnails, sample_fps=args.fps, max_frames=args.max_frames,
                       provenance=not args.no_provenance, stability=args.stability,
                       progress=not args.quiet, write_csv=args.csv)
    except DetectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary.line())
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
