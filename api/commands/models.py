"""``hgv-lane models list|add|promote|rollback`` and ``hgv-lane evaluate``: the model registry.

A retrained model goes: ``train`` -> ``export --register`` (a candidate version) ->
``evaluate`` (its figures beside the version in use) -> ``models promote`` (refused when it is
worse on the role's reference set, unless ``--force``) -> the running service swaps it in at
its next registry poll. ``models rollback`` puts the previous version back the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.settings import get_settings
from vision.registry import ROLES, ModelVersion, RegistryError

if TYPE_CHECKING:
    from vision.train.evaluate import EvalReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``models`` and ``evaluate``."""
    p = sub.add_parser("models", help="the model registry: versions, promotion, rollback")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    m = msub.add_parser("list", help="every version of every role, and which is in use")
    m.add_argument("--role", choices=sorted(ROLES), default=None)
    m.add_argument("--json", action="store_true", help="one JSON object as the last line")
    m.set_defaults(func=list_versions)

    m = msub.add_parser("add", help="add an exported ONNX model as a candidate version")
    m.add_argument("onnx", type=Path, help="ONNX file made by 'hgv-lane export'")
    m.add_argument("--role", choices=sorted(ROLES), default=None, help="default: from the model's metadata")
    m.add_argument(
        "--weights", type=Path, default=None, help=".pt to keep for fine-tuning (default: beside it)"
    )
    m.add_argument("--card", type=Path, default=None, help="model card (default: the .md beside it)")
    m.set_defaults(func=add_version)

    m = msub.add_parser(
        "promote", help="put a version in use, if it is not worse than the one in use on the reference set"
    )
    m.add_argument("role", choices=sorted(ROLES))
    m.add_argument("version", help="e.g. v2 (see 'models list'), or 'shipped'")
    m.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="data to compare on (default: the models.reference setting of the role)",
    )
    m.add_argument("--split", default="val", help="split of the reference set (default: val)")
    m.add_argument("--force", action="store_true", help="promote even if worse or with no reference set")
    m.add_argument("--reason", default="", help="why (recorded in the history; required with --force)")
    m.add_argument("--out", type=Path, default=None, help="folder for the comparison's reports and plots")
    m.set_defaults(func=promote)

    m = msub.add_parser("rollback", help="go back to the version in use before the last promotion")
    m.add_argument("role", choices=sorted(ROLES))
    m.set_defaults(func=rollback)

    p = sub.add_parser(
        "evaluate", help="metrics and plots of a model on labelled data, beside the model in use"
    )
    p.add_argument("model", help="ONNX file, or a registry version as ROLE:VERSION (e.g. plate_detector:v2)")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="YOLO data.yaml (detectors), folder-per-class root (classifier) or plate manifest CSV "
        "(plate reader, read as crnn in the reader engine reader.engine)",
    )
    p.add_argument("--split", default="val", help="split to evaluate (default: val)")
    p.add_argument(
        "--against",
        default="current",
        help="'current' (default): the version in use for the model's role; 'none'; or another ONNX file",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="folder for report.json, comparison.md and PNG plots"
    )
    p.add_argument("--json", action="store_true", help="one JSON object as the last line")
    p.set_defaults(func=evaluate)


def _version_row(v: ModelVersion, in_use: str) -> dict[str, Any]:
    return {
        "role": v.role,
        "version": v.version,
        "in_use": v.version == in_use,
        "file": str(v.onnx),
        "exists": v.onnx.is_file(),
        "fine_tunable": v.weights is not None,
        "added": v.meta.get("added", ""),
        "parent": v.meta.get("parent", ""),
    }


def list_versions(args: argparse.Namespace) -> int:
    """Print every version of each role; ``*`` marks the one in use."""
    registry = get_settings().model_registry()
    rows: list[dict[str, Any]] = []
    try:
        for role in [args.role] if args.role else list(ROLES):
            in_use = registry.current(role).version
            rows += [_version_row(v, in_use) for v in registry.versions(role)]
    except RegistryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for r in rows:
        mark = "*" if r["in_use"] else " "
        extra = f"added {r['added']}, parent {r['parent']}" if r["added"] else "shipped in models/"
        missing = "" if r["exists"] else "  (FILE MISSING)"
        print(f"{mark} {r['role']:<19} {r['version']:<8} {extra}{missing}")
    print(f"registry: {registry.root}")
    if args.json:
        print(json.dumps({"versions": rows}))
    return 0


def add_version(args: argparse.Namespace) -> int:
    """Add an ONNX file (and its .pt and card) as the next version of its role."""
    from vision.pipeline.factory import check_for_role  # noqa: PLC0415
    from vision.registry import role_for_model  # noqa: PLC0415
    from vision.runtime import ModelLoadError, OnnxModel  # noqa: PLC0415

    try:
        info = OnnxModel(args.onnx, "cpu", warmup=False).info
        role = args.role or role_for_model(info.task or "", info.class_names)
        check_for_role(role, args.onnx)
        weights = args.weights or (
            args.onnx.with_suffix(".pt") if args.onnx.with_suffix(".pt").is_file() else None
        )
        card = args.card or (args.onnx.with_suffix(".md") if args.onnx.with_suffix(".md").is_file() else None)
        v = get_settings().model_registry().add(role, args.onnx, weights=weights, card=card)
    except (ModelLoadError, RegistryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"added {role} {v.version} ({v.onnx}); in use only after 'hgv-lane models promote {role} {v.version}'"
    )
    print(json.dumps({"role": role, "version": v.version, "onnx": str(v.onnx)}))
    return 0


def _print_comparison(reports: list[tuple[str, EvalReport]]) -> str:
    """Print the side-by-side table of ``reports`` and return it."""
    from vision.train.evaluate import comparison_table  # noqa: PLC0415

    table = comparison_table(reports)
    engine = reports[0][1].reader_engine if reports else ""
    if engine:
        table += f"\n\nplate readers read as crnn in the reader engine {engine} (reader.engine)"
    print(table)
    return table


def _evaluate(model: Path, data: Path, split: str, out_dir: Path | None) -> EvalReport:
    """:func:`vision.train.evaluate.evaluate_model` as the lanes would run ``model``: a plate
    reader as ``crnn`` in the lanes' reader engine (``reader.engine``, by default
    ``crnn+rapidocr``, so a promotion compares what the lanes would read), or alone when that
    engine does not use ``crnn`` (the lanes then do not read with the plate reader)."""
    from vision.train.evaluate import evaluate_model  # noqa: PLC0415

    settings = get_settings()
    engine = settings.reader.engine if "crnn" in settings.reader.engine.split("+") else "crnn"
    return evaluate_model(
        model, data, split=split, out_dir=out_dir, reader_engine=engine, work_dir=settings.data_dir
    )


def promote(args: argparse.Namespace) -> int:
    """Compare the candidate with the version in use on the reference set; promote it unless
    it is worse (exit 3: refused) or ``--force``."""
    from vision.pipeline.factory import check_for_role  # noqa: PLC0415
    from vision.registry import is_not_worse  # noqa: PLC0415
    from vision.runtime import ModelLoadError  # noqa: PLC0415
    from vision.train.evaluate import role_metric  # noqa: PLC0415

    settings = get_settings()
    registry = settings.model_registry()
    role = ROLES[args.role]
    try:
        candidate = registry.get(args.role, args.version)
        current = registry.current(args.role)
        check_for_role(args.role, candidate.onnx)  # even with --force: the lanes could not load it
    except (RegistryError, ModelLoadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.force and not (args.reason or "").strip():
        print("error: --force needs --reason (it is kept in the role's history)", file=sys.stderr)
        return 2
    if candidate.version == current.version:
        print(f"{args.role} {candidate.version} is already in use")
        return 0
    reference = args.reference or settings.models.reference.get(args.role)
    note: dict[str, Any] = {"forced": bool(args.force), "reason": args.reason}
    if reference is None:
        if not args.force:
            print(
                f"refused: no reference set for {args.role} to compare {candidate.version} with "
                f"{current.version} on; give --reference DATA (or set models.reference.{args.role}), "
                "or --force with --reason",
                file=sys.stderr,
            )
            return 3
        note["comparison"] = "none (no reference set)"
    else:
        out = args.out
        cand = _evaluate(candidate.onnx, reference, args.split, out / "candidate" if out else None)
        curr = _evaluate(current.onnx, reference, args.split, out / "in_use" if out else None)
        _print_comparison([(f"{candidate.version} (candidate)", cand), (f"{current.version} (in use)", curr)])
        tol = settings.models.promote_tolerance
        metric, cand_score = role_metric(cand, role)
        _, curr_score = role_metric(curr, role)
        better = is_not_worse({metric: cand_score}, {metric: curr_score}, metric, tol)
        note |= {
            "reference": f"{reference} ({args.split}, {cand.n_images} images)",
            **({"reader_engine": cand.reader_engine} if cand.reader_engine else {}),
            "metric": metric,
            "candidate": {**cand.metrics, metric: cand_score},
            "in_use": {**curr.metrics, metric: curr_score},
        }
        if cand.classes != curr.classes:
            print(
                f"note: {candidate.version} has classes {', '.join(cand.classes)}, {current.version} "
                f"{', '.join(curr.classes)}: compared on {metric}",
                file=sys.stderr,
            )
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "comparison.json").write_text(json.dumps(note, indent=2, default=str))
        if not better and not args.force:
            print(
                f"refused: {candidate.version} {metric} {cand_score:.4f} is below "
                f"{current.version}'s {curr_score:.4f} (tolerance {tol}); "
                "--force to promote anyway",
                file=sys.stderr,
            )
            return 3
    registry.promote(args.role, candidate.version, note=note)
    print(
        f"{args.role}: {candidate.version} is in use (was {current.version}); a running service "
        f"swaps it in within {settings.models.reload_poll_s:g} s"
    )
    if args.role == "plate_reader" and "crnn" not in settings.reader.engine.split("+"):
        print(
            f"note: the reader engine is {settings.reader.engine!r}, without crnn: the lanes read with "
            "it, not with plate_reader, until reader.engine names crnn",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {"role": args.role, "in_use": candidate.version, "was": current.version, **note}, default=str
        )
    )
    return 0


def rollback(args: argparse.Namespace) -> int:
    """Put back the version in use before the last promotion."""
    registry = get_settings().model_registry()
    try:
        was = registry.current(args.role).version
        v = registry.rollback(args.role)
    except RegistryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.role}: {v.version} is in use again (was {was})")
    print(json.dumps({"role": args.role, "in_use": v.version, "was": was}))
    return 0


def _resolve_model(spec: str) -> Path:
    """An ONNX path from ``path`` or ``ROLE:VERSION``."""
    role, sep, version = spec.partition(":")
    if sep and role in ROLES:
        return get_settings().model_registry().get(role, version).onnx
    path = Path(spec)
    if not path.is_file():
        raise RegistryError(f"{spec}: no such file (or give ROLE:VERSION, roles: {', '.join(ROLES)})")
    return path


def evaluate(args: argparse.Namespace) -> int:
    """Evaluate a model (and the one in use) on labelled data; print the side-by-side table."""
    from vision.registry import role_for_model  # noqa: PLC0415
    from vision.runtime import ModelLoadError, OnnxModel  # noqa: PLC0415

    t0 = time.perf_counter()
    try:
        model = _resolve_model(args.model)
        info = OnnxModel(model, "cpu", warmup=False).info
        against: Path | None = None
        if args.against == "current":
            role = role_for_model(info.task or "", info.class_names)
            against = get_settings().model_registry().current(role).onnx
        elif args.against != "none":
            against = _resolve_model(args.against)
        out: Path | None = args.out
        report = _evaluate(model, args.data, args.split, out / "model" if out else None)
        reports = [(model.name, report)]
        if against is not None and against.resolve() != model.resolve():
            other = _evaluate(against, args.data, args.split, out / "against" if out else None)
            reports.append((f"{against.name} (in use)" if args.against == "current" else against.name, other))
    except (ModelLoadError, RegistryError, ValueError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{report.n_images} images of {report.data}; {len(report.unreadable)} unreadable", end="")
    print(
        f"; classes not in the model: {', '.join(report.unknown_classes)}" if report.unknown_classes else ""
    )
    table = _print_comparison(reports)
    summary = {
        "model": str(model),
        "data": report.data,
        "seconds": round(time.perf_counter() - t0, 1),
        "reports": [{"label": label, **r.as_json()} for label, r in reports],
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(summary, indent=2))
        (out / "comparison.md").write_text(table + "\n")
        print(f"reports and plots in {out}")
    if args.json:
        print(json.dumps(summary))
    return 0
