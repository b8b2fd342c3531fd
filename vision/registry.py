"""The model registry: every version of every model role, which one is in use, and its history.

A *role* is a place a model fills in the pipeline (:data:`ROLES`): the plate detector, the
vehicle/body detector and the trailer classifier. The shipped model in ``models/`` is the
version ``shipped`` of its role and is in use until another version is promoted. Versions
added later live under the registry folder (``<data_dir>/registry`` by default)::

    <root>/<role>/v1/model.onnx    the exported model (ONNX, with metadata)
    <root>/<role>/v1/model.pt      its training weights, so the next run can fine-tune from it
    <root>/<role>/v1/card.md       its model card
    <root>/<role>/v1/meta.json     parent version, source run, metrics, time added
    <root>/<role>/current.json     {"version": "v1", "history": [...promotions and rollbacks...]}

``current.json`` is replaced atomically (write, then :func:`os.replace`), so a running service
that polls :meth:`ModelRegistry.current` sees either the old or the new version, never half
of one. Versions are never deleted by promotion or rollback: nothing is lost.

Pure standard library: no ONNX Runtime or torch here (evaluation lives in
:mod:`vision.train.evaluate`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Task = Literal["detect", "classify", "plate-line-ctc"]


@dataclass(frozen=True, slots=True)
class Role:
    """A model role: its task, the shipped file name in ``models/`` and the metric that
    decides whether a candidate is better (higher is better); for a detector, the metric is
    taken over ``scored_classes`` only (the classes the lanes use it for: a plate detector
    trained with vehicle and body classes too is judged on its plates)."""

    name: str
    task: Task
    shipped_file: str
    primary_metric: str
    scored_classes: tuple[str, ...] = ()


ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role("plate_detector", "detect", "plate_detector.onnx", "map50_95", ("plate",)),
        Role("vehicle_detector", "detect", "vehicle_detector.onnx", "map50_95", ("vehicle", "body")),
        Role("trailer_classifier", "classify", "trailer_classifier.onnx", "accuracy"),
        Role("plate_reader", "plate-line-ctc", "plate_reader.onnx", "exact_match"),
    )
}
"""Every role the registry manages, by name."""

SHIPPED = "shipped"
"""The version name of the model that ships in ``models/``."""

_VERSION = re.compile(r"^v(\d+)$")


class RegistryError(Exception):
    """A registry operation that cannot be done (unknown role or version, missing file)."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of one role. ``onnx`` is the file the service runs; ``weights`` the
    ``.pt`` to fine-tune from (``None`` when not kept); ``meta`` what :meth:`ModelRegistry.add`
    recorded (parent, source, metrics, added time)."""

    role: str
    version: str
    onnx: Path
    weights: Path | None
    card: Path | None
    meta: dict[str, Any] = field(default_factory=dict)


def role(name: str) -> Role:
    """The :class:`Role` called ``name``; raises :class:`RegistryError` naming the valid ones."""
    try:
        return ROLES[name]
    except KeyError:
        raise RegistryError(f"unknown model role {name!r}; roles: {', '.join(ROLES)}") from None


def role_for_model(task: str, class_names: tuple[str, ...] | list[str]) -> str:
    """Guess the role of an exported model from its metadata: a classifier is the trailer
    classifier, a CTC line recogniser the plate reader, a detector with class ``plate`` the
    plate detector, one with ``vehicle`` and ``body`` the vehicle detector. Raises
    :class:`RegistryError` when none fits."""
    names = set(class_names)
    if task == "classify":
        return "trailer_classifier"
    if task == "plate-line-ctc":
        return "plate_reader"
    if task == "detect" and "plate" in names:
        return "plate_detector"
    if task == "detect" and {"vehicle", "body"} <= names:
        return "vehicle_detector"
    raise RegistryError(f"cannot tell the role of a {task} model with classes {sorted(names)}; give --role")


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ModelRegistry:
    """Versions of each role under ``root``, with the shipped models in ``shipped_dir``.

    ``shipped_files`` overrides a role's shipped file name (the ``models.*`` settings).
    """

    def __init__(self, root: Path, shipped_dir: Path, shipped_files: dict[str, str] | None = None) -> None:
        self.root = root
        self.shipped_dir = shipped_dir
        self.shipped_files = {name: r.shipped_file for name, r in ROLES.items()} | (shipped_files or {})

    # --- reading ------------------------------------------------------------------------------

    def shipped(self, role_name: str) -> ModelVersion:
        """The shipped version of ``role_name`` (its ``.pt`` beside it when present)."""
        role(role_name)
        onnx = self.shipped_dir / self.shipped_files[role_name]
        pt = onnx.with_suffix(".pt")
        card = onnx.with_suffix(".md")
        return ModelVersion(
            role_name,
            SHIPPED,
            onnx,
            pt if pt.is_file() else None,
            card if card.is_file() else None,
            {"source": "shipped in models/"},
        )

    def versions(self, role_name: str) -> list[ModelVersion]:
        """Every version of ``role_name``: ``shipped`` first, then ``v1``, ``v2``... in order."""
        found = [self.shipped(role_name)]
        folder = self.root / role_name
        if folder.is_dir():
            numbered = sorted(
                (int(m.group(1)), p) for p in folder.iterdir() if (m := _VERSION.match(p.name)) and p.is_dir()
            )
            found += [self._load(role_name, p) for _, p in numbered]
        return found

    def get(self, role_name: str, version: str) -> ModelVersion:
        """The version called ``version`` of ``role_name``; raises :class:`RegistryError`."""
        if version == SHIPPED:
            return self.shipped(role_name)
        role(role_name)
        folder = self.root / role_name / version
        if not _VERSION.match(version) or not (folder / "model.onnx").is_file():
            known = ", ".join(v.version for v in self.versions(role_name))
            raise RegistryError(f"{role_name} has no version {version!r}; versions: {known}")
        return self._load(role_name, folder)

    def _load(self, role_name: str, folder: Path) -> ModelVersion:
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        pt, card = folder / "model.pt", folder / "card.md"
        return ModelVersion(
            role_name,
            folder.name,
            folder / "model.onnx",
            pt if pt.is_file() else None,
            card if card.is_file() else None,
            meta,
        )

    def state(self, role_name: str) -> dict[str, Any]:
        """The role's ``current.json`` (``{"version": "shipped", "history": []}`` when absent)."""
        role(role_name)
        path = self.root / role_name / "current.json"
        if not path.is_file():
            return {"version": SHIPPED, "history": []}
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def current(self, role_name: str) -> ModelVersion:
        """The version in use for ``role_name``."""
        return self.get(role_name, str(self.state(role_name)["version"]))

    # --- changing -----------------------------------------------------------------------------

    def add(
        self,
        role_name: str,
        onnx: Path,
        *,
        weights: Path | None = None,
        card: Path | None = None,
        parent: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Copy ``onnx`` (and ``weights``, ``card``) in as the next version of ``role_name``;
        it is a candidate, not in use until :meth:`promote`. Returns the new version."""
        role(role_name)
        for path in (onnx, weights, card):
            if path is not None and not path.is_file():
                raise RegistryError(f"{path} does not exist")
        folder = self.root / role_name
        folder.mkdir(parents=True, exist_ok=True)
        n = 1 + max((int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name))), default=0)
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=".adding-"))
        try:
            shutil.copy2(onnx, staging / "model.onnx")
            if weights is not None:
                shutil.copy2(weights, staging / "model.pt")
            if card is not None:
                shutil.copy2(card, staging / "card.md")
            record = {
                "added": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "source": str(onnx.resolve()),
                "parent": parent if parent is not None else self.state(role_name)["version"],
                **(meta or {}),
            }
            (staging / "meta.json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
            staging.rename(folder / f"v{n}")  # a version folder appears complete or not at all
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.get(role_name, f"v{n}")

    def promote(self, role_name: str, version: str, *, note: dict[str, Any] | None = None) -> ModelVersion:
        """Put ``version`` in use for ``role_name`` (the caller has checked it is not worse,
        see :func:`is_not_worse`); ``note`` (e.g. the comparison, who forced it) goes into the
        history. Returns the promoted version."""
        target = self.get(role_name, version)
        self._switch(role_name, "promote", version, note)
        return target

    def rollback(self, role_name: str) -> ModelVersion:
        """Go back to the version that was in use before the last promotion still in force.
        Raises :class:`RegistryError` when there is nothing to roll back to."""
        state = self.state(role_name)
        # replay the history: a stack of versions in use, promotions push and rollbacks pop
        stack = [SHIPPED]
        for entry in state["history"]:
            if entry["action"] == "promote":
                stack.append(entry["to"])
            elif entry["action"] == "rollback" and len(stack) > 1:
                stack.pop()
        if len(stack) < 2:
            raise RegistryError(f"{role_name}: nothing to roll back to (in use: {state['version']})")
        target = self.get(role_name, stack[-2])
        self._switch(role_name, "rollback", stack[-2])
        return target

    def _switch(self, role_name: str, action: str, version: str, note: dict[str, Any] | None = None) -> None:
        """Put ``version`` in use and append the ``action`` to the role's history (atomically)."""
        state = self.state(role_name)
        entry = {
            "action": action,
            "from": state["version"],
            "to": version,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(note or {}),
        }
        _write_json_atomic(
            self.root / role_name / "current.json",
            {"version": version, "history": [*state["history"], entry]},
        )


def is_not_worse(
    candidate: dict[str, float], current: dict[str, float], metric: str, tolerance: float
) -> bool:
    """Whether ``candidate``'s ``metric`` is at least ``current``'s minus ``tolerance``
    (metrics are fractions in [0, 1], higher is better)."""
    return candidate[metric] >= current[metric] - tolerance
