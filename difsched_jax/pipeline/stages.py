"""Content-addressed stage folders: a stage's folder name carries a hash of what
it depends on (its settings, the seed, the hashes of the stages it reads), and a
``stage.json`` marker, written last and atomically, says it finished.

Same inputs -> same folder -> the marker is there -> skip. Changed inputs -> a
new folder beside the old one. A crash leaves a folder without a marker, which
the next run continues (datasets and training resume; short stages start over).

The marker also lists the SHA-256 of every file the stage wrote, and its own.
A finished stage whose marker or files no longer match is never trusted: its
folder is moved aside (``NAME-HASH.damaged``, kept for a look) and the stage is
computed again, which gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable

from difsched_jax import files
from difsched_jax.faults import crash_point

MARKER = "stage.json"


def content_hash(obj) -> str:
    """12 hex digits of the SHA-256 of `obj` as canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


write_json = files.write_json_atomic  # never half a file


def read_json(path: str | os.PathLike):
    return files.read_json(path)


def manifest(folder: str) -> dict[str, str]:
    """{relative path: file_hash} of every file under `folder` but the marker and
    temporary files."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if rel != MARKER and ".tmp" not in name:
                out[rel] = file_hash(path)
    return dict(sorted(out.items()))


def _sealed(record: dict) -> str:
    return content_hash({k: v for k, v in record.items() if k != "sha256"})


class Stage:
    """One stage's folder ``root/{name}-{hash}`` and its completion marker.

    `folder_key` (default: `key`) names the folder; the marker must match the
    whole `key`. A stage whose parts are cached on their own (evaluation: one
    file per policy) keeps its folder when only the list of parts changes."""

    def __init__(self, root: str, name: str, key: dict, folder_key: dict | None = None):
        self.name = name
        self.key = key
        self.hash = content_hash(key)
        self.folder = f"{name}-{content_hash(key if folder_key is None else folder_key)}"
        self.path = os.path.join(root, self.folder)

    @property
    def marker(self) -> str:
        return os.path.join(self.path, MARKER)

    @property
    def done(self) -> bool:
        return self.check() == "done"

    def check(self) -> str:
        """One of: "done"; "absent" (no marker, or one for other inputs: run or continue
        the stage); "damaged: WHY" (a finished stage that cannot be trusted)."""
        if not os.path.exists(self.marker):
            return "absent"
        try:
            record = read_json(self.marker)
        except (OSError, ValueError):
            return f"damaged: {self.marker} cannot be read"
        sealed = isinstance(record, dict) and record.get("sha256", _sealed(record)) == _sealed(
            record
        )
        if not sealed:  # markers from before the seal have none: trusted as they are
            return f"damaged: {self.marker} was changed after it was written"
        if record.get("hash") != self.hash:
            return "absent"
        expected = record.get("files")
        if expected is not None:  # markers from before manifests: none
            found = manifest(self.path)
            for rel, digest in expected.items():
                if found.get(rel) != digest:
                    what = "is missing" if rel not in found else "differs from the marker's SHA-256"
                    return f"damaged: {os.path.join(self.path, rel)} {what}"
        return "done"

    @property
    def summary(self) -> dict:
        return read_json(self.marker)["summary"]

    def finish(self, summary: dict, seconds: float) -> None:
        record = {"stage": self.name, "hash": self.hash, "key": self.key}
        record.update(seconds=round(seconds, 3), summary=summary, files=manifest(self.path))
        record["sha256"] = _sealed(record)
        write_json(self.marker, record)


def _aside(path: str) -> str:
    """A free name ``PATH.damaged[-N]`` for a damaged stage folder."""
    candidate, n = f"{path}.damaged", 1
    while os.path.exists(candidate):
        n += 1
        candidate = f"{path}.damaged-{n}"
    return candidate


class StageLog:
    """Runs stages in order with progress lines; remembers what ran and what was skipped."""

    def __init__(self, root: str, log: Callable[[str], None] = print):
        self.root = root
        self.log = log
        self.records: list[dict] = []  # stage, folder, status, seconds
        self.summaries: dict[str, dict] = {}  # folder -> what the stage returned

    def stage(self, name: str, key: dict, folder_key: dict | None = None) -> Stage:
        return Stage(self.root, name, key, folder_key)

    def run(self, stage: Stage, work: Callable[[Stage], dict]) -> dict:
        """`work(stage)` -> summary, unless the stage finished already; returns the summary."""
        number = len(self.records) + 1
        state = stage.check()
        if state.startswith("damaged"):
            aside = _aside(stage.path)
            self.log(f"stage {stage.name}: {state}; not trusted: moved to {aside}, computing again")
            os.replace(stage.path, aside)
        if state == "done":
            self.log(f"stage {stage.name}: done already, skipping ({stage.folder})")
            marker = read_json(stage.marker)
            summary = marker["summary"]
            self.records.append(self._record(stage, "done earlier", marker.get("seconds", 0.0)))
            self.summaries[stage.folder] = summary
            return summary
        resumed = os.path.isdir(stage.path)
        verb = "resuming" if resumed else "running"
        self.log(f"[{number}] stage {stage.name}: {verb} -> {stage.folder}")
        os.makedirs(stage.path, exist_ok=True)
        t0 = time.perf_counter()
        summary = work(stage)
        seconds = time.perf_counter() - t0
        crash_point("stage_work_done")  # the work done, its marker not yet written
        stage.finish(summary, seconds)
        self.log(f"[{number}] stage {stage.name}: done in {seconds:.1f} s")
        self.records.append(self._record(stage, "resumed" if resumed else "ran", seconds))
        self.summaries[stage.folder] = summary
        return summary

    @staticmethod
    def _record(stage: Stage, status: str, seconds: float) -> dict:
        return {
            "stage": stage.name,
            "folder": stage.folder,
            "status": status,
            "seconds": round(seconds, 1),
        }
