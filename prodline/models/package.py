"""Write a fitted estimator to a directory as a verifiable package, and read it back.

A package is a directory holding exactly::

    manifest.json   what is inside, and the sha256 and size of every other file
    model.skops     the estimator, in skops' format (or model.pkl, only on request)
    model.onnx      the ONNX twin, present only when it predicted the same as the
                    estimator on the held-out rows given at write time

:func:`read_package` checks the manifest, the file list and every file's hash
before it deserialises anything, then loads the estimator through the trusted-type
list and the tree checks of :mod:`prodline.models.trust`.

The hashes catch corruption and edits. They do not prove who wrote the package: a
writer can recompute them. A registry that records :attr:`PackageManifest.digest`
at registration time and passes it back as ``expected_digest=`` turns them into
that proof.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodline.errors import (
    InvalidValueError,
    ModelPackageError,
    TamperedPackageError,
    UntrustedTypeError,
)
from prodline.models.runtime import InputSpec, OnnxPredictor, Predictor, SkopsPredictor, Task

FORMAT = "prodline.model-package"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SKOPS_FILE = "model.skops"
PICKLE_FILE = "model.pkl"
ONNX_FILE = "model.onnx"
_PAYLOAD_FILES = (SKOPS_FILE, PICKLE_FILE, ONNX_FILE)


@dataclass(frozen=True)
class PackageManifest:
    """The contents of ``manifest.json``."""

    estimator_class: str
    task: Task
    classes: list[Any] | None
    serialization: str  # "skops" or "pickle"
    serving_path: str  # "onnx" or "python"
    onnx: dict[str, Any]
    input: dict[str, Any]
    files: dict[str, dict[str, Any]]
    trusted_types: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION
    digest: str = ""
    has_proba: bool | None = None  # absent in packages written before it was recorded

    @property
    def onnx_conversion(self) -> str:
        """``"kept"``, ``"rejected: <reason>"`` or ``"not_attempted: <reason>"``."""
        return str(self.onnx["outcome"])

    @property
    def input_mode(self) -> str:
        return str(self.input["mode"])

    @property
    def feature_names(self) -> list[str] | None:
        return self.input.get("feature_names")

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec.from_dict(self.input)

    @property
    def allow_pickle(self) -> bool:
        return self.serialization == "pickle"

    def to_dict(self) -> dict[str, Any]:
        """The manifest as written, ``digest`` included."""
        body = self._body()
        body["digest"] = self.digest
        return body

    def _body(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "estimator_class": self.estimator_class,
            "task": self.task,
            "classes": self.classes,
            "serialization": self.serialization,
            "serving_path": self.serving_path,
            "onnx": self.onnx,
            "input": self.input,
            "files": self.files,
            "trusted_types": self.trusted_types,
            "versions": self.versions,
            **({} if self.has_proba is None else {"has_proba": self.has_proba}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageManifest:
        return cls(
            estimator_class=data["estimator_class"],
            task=data["task"],
            classes=data.get("classes"),
            serialization=data["serialization"],
            serving_path=data["serving_path"],
            onnx=data["onnx"],
            input=data["input"],
            files=data["files"],
            trusted_types=list(data.get("trusted_types") or []),
            versions=dict(data.get("versions") or {}),
            created_at=data.get("created_at", ""),
            format_version=int(data["format_version"]),
            digest=data.get("digest", ""),
            has_proba=data.get("has_proba"),
        )


class LoadedPackage:
    """A package read back: the fastest verified predictor, the manifest, and the
    estimator — deserialised on first use when the ONNX twin serves, so loading a
    model for serving does not pay for it."""

    def __init__(
        self,
        estimator: Any | Callable[[], Any],
        predictor: Predictor,
        manifest: PackageManifest,
        directory: Path,
    ) -> None:
        self._estimator = estimator
        self.predictor = predictor
        self.manifest = manifest
        self.directory = directory

    @property
    def estimator(self) -> Any:
        """The fitted estimator (loaded through the trusted-type list and tree checks)."""
        if isinstance(self._estimator, _Deferred):
            self._estimator = self._estimator()
        return self._estimator

    def predict(self, X: Any) -> Any:
        return self.predictor.predict(X)

    def predict_proba(self, X: Any) -> Any:
        return self.predictor.predict_proba(X)


class _Deferred:
    """A verified estimator file, deserialised when first asked for."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self.load = load

    def __call__(self) -> Any:
        return self.load()


# --------------------------------------------------------------------------- writing


def write_package(
    estimator: Any,
    directory: str | os.PathLike[str],
    *,
    X_verify: Any,
    allow_pickle: bool = False,
    extra_trusted: Iterable[str | type] = (),
    onnx: bool = True,
) -> PackageManifest:
    """Write ``estimator`` to ``directory`` (which must not exist or be empty).

    ``X_verify`` are held-out rows (a DataFrame or a 2-D array shaped like the
    training input): the written file is read back and must predict the same on
    them, and the ONNX twin is kept only when it does too. ``allow_pickle=True``
    writes ``model.pkl`` with joblib instead of ``model.skops``, for estimators
    skops cannot hold; reading it back then needs ``allow_pickle=True`` as well.
    ``extra_trusted`` names types beyond the trusted list that the estimator holds
    (readers must pass them too). ``onnx=False`` skips the ONNX twin.

    Nothing is left behind when writing fails: the package is assembled in a
    temporary sibling directory and moved into place last.
    """
    _require_fitted(estimator)
    extra_trusted = tuple(extra_trusted)
    _check_verify_rows(X_verify)
    expected = _predict_quietly(estimator, X_verify, "predict")
    task = _task_of(estimator)
    classes = _classes_of(estimator)

    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidValueError(
            f"{target} already exists and is not an empty directory; write the package to "
            "a new directory (packages are never overwritten)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the package from a serving user
        files: dict[str, dict[str, Any]] = {}
        if allow_pickle:
            model_file = PICKLE_FILE
            data = _dump_pickle(estimator)
            reloaded = _load_pickle(data)
            found: list[str] = []
        else:
            model_file = SKOPS_FILE
            data, found = _dump_skops(estimator, extra_trusted)
            reloaded = _load_skops(data, extra_trusted, source=f"{target}/{SKOPS_FILE}")
        _check_round_trip(estimator, reloaded, X_verify, expected)
        files[model_file] = _write(staging / model_file, data)

        spec, unsupported = _describe_input(X_verify)
        if not onnx:
            twin_info: dict[str, Any] = {
                "status": "not_attempted",
                "reason": "disabled by the caller (onnx=False)",
            }
        elif unsupported is not None:
            twin_info = {"status": "not_attempted", "reason": unsupported}
        else:
            from prodline.models.onnx_twin import ML_OPSET, convert_to_onnx

            twin = convert_to_onnx(estimator, X_verify, task=task, classes=classes)
            twin_info = {
                "status": twin.status,
                "reason": twin.reason,
                "target_opset": twin.target_opset,
                "ml_opset": ML_OPSET if twin.target_opset else None,
                "labels_from": twin.labels_from if twin.status == "kept" else None,
                "checks": twin.checks,
            }
            if twin.status == "kept" and twin.model is not None and twin.spec is not None:
                files[ONNX_FILE] = _write(staging / ONNX_FILE, twin.model)
                spec = twin.spec
        twin_info["outcome"] = (
            "kept"
            if twin_info["status"] == "kept"
            else f"{twin_info['status']}: {twin_info['reason']}"
        )

        manifest = PackageManifest(
            estimator_class=_qualname(type(estimator)),
            task=task,
            classes=_jsonable(list(classes)) if classes is not None else None,
            serialization="pickle" if allow_pickle else "skops",
            serving_path="onnx" if ONNX_FILE in files else "python",
            onnx=_jsonable(twin_info),
            input=spec.to_dict(),
            files=files,
            trusted_types=sorted(found),
            versions=_versions(estimator, with_onnx=ONNX_FILE in files),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            has_proba=hasattr(estimator, "predict_proba"),
        )
        body = manifest._body()
        manifest = PackageManifest.from_dict({**body, "digest": _digest(body)})
        (staging / MANIFEST).write_bytes(_canonical(manifest.to_dict()))
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _require_fitted(estimator: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    name = type(estimator).__name__
    if not hasattr(estimator, "predict"):
        raise InvalidValueError(
            f"{name} has no predict method; only estimators that predict can be packaged."
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise InvalidValueError(
            f"{name} is not fitted: call .fit(X, y) on it before packaging it."
        ) from exc
    except TypeError as exc:  # not an estimator at all
        raise InvalidValueError(f"{name} is not a scikit-learn style estimator: {exc}") from exc


def _check_verify_rows(X: Any) -> None:
    shape = getattr(X, "shape", None)
    if X is None or shape is None or len(shape) != 2 or shape[0] == 0:
        raise InvalidValueError(
            "X_verify must be held-out rows: a non-empty DataFrame or 2-D array shaped like "
            f"the training input (got {type(X).__name__} with shape {shape})."
        )


def _predict_quietly(estimator: Any, X: Any, method: str) -> Any:
    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(getattr(estimator, method)(X))
    except Exception as exc:
        raise InvalidValueError(
            f"{type(estimator).__name__}.{method} failed on X_verify: "
            f"{type(exc).__name__}: {exc}. Pass held-out rows shaped like the training input."
        ) from exc


def _task_of(estimator: Any) -> Task:
    from sklearn.base import ClusterMixin

    etype = None
    try:
        from sklearn.utils import get_tags

        etype = get_tags(estimator).estimator_type
    except Exception:
        etype = getattr(estimator, "_estimator_type", None)
    final = estimator
    while hasattr(final, "steps"):
        final = final.steps[-1][1]
    if etype == "classifier":
        return "classification"
    if etype == "regressor":
        return "regression"
    if etype == "clusterer" or isinstance(final, ClusterMixin):
        return "clustering"
    if etype == "outlier_detector":
        return "outlier_detection"
    return "other"


def _classes_of(estimator: Any) -> Any:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return None
    import numpy as np

    return np.asarray(classes)


def _dump_skops(estimator: Any, extra_trusted: tuple[str | type, ...]) -> tuple[bytes, list[str]]:
    import skops.io as sio

    from prodline.models.trust import trusted_types, untrusted_types_in

    try:
        data = sio.dumps(estimator)
    except Exception as exc:
        raise ModelPackageError(
            f"skops cannot serialise {type(estimator).__name__}: {type(exc).__name__}: {exc}. "
            "If you trust every reader, write_package(..., allow_pickle=True) stores a pickle."
        ) from exc
    found = untrusted_types_in(data)
    refused = sorted(set(found) - trusted_types(extra_trusted))
    if refused:
        hint = ", ".join(repr(t) for t in refused)
        raise UntrustedTypeError(
            f"{type(estimator).__name__} holds type(s) outside prodline's trusted list: "
            f"{', '.join(refused)}. Readers would refuse the package. If these types are "
            f"yours and safe to import, pass extra_trusted=[{hint}] to write_package and to "
            "read_package."
        )
    return data, found


def _load_skops(data: bytes, extra_trusted: Iterable[str | type], *, source: str) -> Any:
    from prodline.models.trust import load_estimator_bytes

    return load_estimator_bytes(data, extra_trusted=extra_trusted, source=source)


def _dump_pickle(estimator: Any) -> bytes:
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def _load_pickle(data: bytes) -> Any:
    import io

    import joblib

    return joblib.load(io.BytesIO(data))


def _check_round_trip(original: Any, reloaded: Any, X: Any, expected: Any) -> None:
    """The written file must predict what the estimator in memory predicts."""
    import numpy as np

    got = _predict_quietly(reloaded, X, "predict")
    same = got.shape == expected.shape and (
        np.array_equal(got, expected, equal_nan=True)
        if got.dtype.kind in "fc" and expected.dtype.kind in "fc"
        else bool(np.all(got.astype(object) == expected.astype(object)))
    )
    if not same:
        raise ModelPackageError(
            f"{type(original).__name__} does not survive serialisation: the reloaded model "
            "predicts differently on X_verify, so no package was written."
        )


def _describe_input(X: Any) -> tuple[InputSpec, str | None]:
    from prodline.models.onnx_twin import describe_input

    return describe_input(X)


def _write(path: Path, data: bytes) -> dict[str, Any]:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays to plain JSON values."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _versions(estimator: Any, *, with_onnx: bool) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ["scikit-learn", "skops", "numpy", "scipy", "joblib"]
    if with_onnx:
        names += ["onnx", "onnxruntime", "skl2onnx"]
    module = type(estimator).__module__.split(".")[0]
    if module in ("xgboost", "lightgbm"):
        names.append(module)
        if with_onnx:
            names.append("onnxmltools")
    out = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _canonical(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode("ascii")


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()


# --------------------------------------------------------------------------- reading


def read_package(
    directory: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    extra_trusted: Iterable[str | type] = (),
    expected_digest: str | None = None,
    lazy_estimator: bool = False,
) -> LoadedPackage:
    """Read a package written by :func:`write_package`.

    Checks, before deserialising anything: the manifest is intact (and equals
    ``expected_digest`` when given), the directory holds exactly the files it lists,
    and every file has the recorded size and sha256 (:class:`TamperedPackageError`
    otherwise, naming the file). A pickle package needs ``allow_pickle=True``.
    The estimator is then loaded through the trusted-type list (``extra_trusted``
    adds to it) and the tree checks. ``.predictor`` is the ONNX twin when the
    package has a verified one, else the estimator itself.

    ``lazy_estimator=True`` (used for serving) skips deserialising the estimator when
    the ONNX twin serves: it is loaded — with the same trust and tree checks — only
    if ``.estimator`` is asked for. ``prodline models verify`` always loads it.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ModelPackageError(f"{root} is not a model package directory (it does not exist).")
    manifest = _read_manifest(root, expected_digest)

    if manifest.serialization == "pickle" and not allow_pickle:
        raise ModelPackageError(
            f"{root} stores its model as a pickle ({PICKLE_FILE}). Unpickling runs any code "
            "the file contains, so a package from an untrusted source can take over this "
            "process. Pass allow_pickle=True only if you trust whoever wrote it."
        )
    contents = _read_verified_files(root, manifest)

    def load_estimator() -> Any:
        if manifest.serialization == "pickle":
            from prodline.models.trust import check_trees

            loaded = _load_pickle(contents[PICKLE_FILE])
            check_trees(loaded)
            return loaded
        return _load_skops(contents[SKOPS_FILE], extra_trusted, source=str(root / SKOPS_FILE))

    spec = manifest.input_spec
    estimator: Any = None
    predictor: Predictor | None = None
    if ONNX_FILE in contents:
        if manifest.has_proba is None:  # an older package: the estimator tells
            estimator = load_estimator()
        classes = _classes_of(estimator) if estimator is not None else manifest.classes
        proba = hasattr(estimator, "predict_proba") if estimator is not None else manifest.has_proba
        try:
            predictor = OnnxPredictor(
                contents[ONNX_FILE],
                spec,
                task=manifest.task,
                classes=classes,
                labels_from=manifest.onnx.get("labels_from") or "label",
                proba=bool(proba),
            )
        except ImportError:
            warnings.warn(
                f"{root} has a verified ONNX twin but onnxruntime is not installed; serving "
                "with the Python estimator instead (pip install onnxruntime).",
                RuntimeWarning,
                stacklevel=2,
            )
    if predictor is None:
        estimator = estimator if estimator is not None else load_estimator()
        predictor = SkopsPredictor(estimator, spec, task=manifest.task)
    if estimator is None:
        estimator = _Deferred(load_estimator) if lazy_estimator else load_estimator()
    return LoadedPackage(estimator, predictor, manifest, root)


def _read_manifest(root: Path, expected_digest: str | None) -> PackageManifest:
    path = root / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise ModelPackageError(f"{root} is not a model package: it has no {MANIFEST}.")
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TamperedPackageError(
            f"{path} is not the JSON prodline wrote ({exc}); the package was modified or "
            "corrupted after it was written."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelPackageError(f"{path} is not a prodline model package manifest.")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelPackageError(
            f"{path} has format version {version!r}; this prodline reads up to "
            f"{FORMAT_VERSION}. Upgrade prodline to read it."
        )
    body = {k: v for k, v in data.items() if k != "digest"}
    if _canonical(data) != raw or data.get("digest") != _digest(body):
        raise TamperedPackageError(
            f"{path} was modified after it was written: its content does not match the "
            "digest recorded in it."
        )
    if expected_digest is not None and data["digest"] != expected_digest:
        raise TamperedPackageError(
            f"{path} has digest {data['digest']}, but {expected_digest} was expected: this is "
            "not the package that was registered."
        )
    try:
        manifest = PackageManifest.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackageError(f"{path} lacks a required field: {exc}") from exc
    shapes_ok = (
        isinstance(manifest.files, dict)
        and all(isinstance(v, dict) for v in manifest.files.values())
        and isinstance(manifest.onnx, dict)
        and isinstance(manifest.input, dict)
        and manifest.serialization in ("skops", "pickle")
        and manifest.serving_path in ("onnx", "python")
    )
    if not shapes_ok:
        raise ModelPackageError(f"{path} has fields of the wrong type; it is not a package "
                                "prodline wrote.")
    try:
        manifest.input_spec  # noqa: B018 - parse it now, not at first prediction
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelPackageError(f"{path} has an unreadable input section: {exc}") from exc
    return manifest


def _read_verified_files(root: Path, manifest: PackageManifest) -> dict[str, bytes]:
    listed = manifest.files
    strange = [name for name in listed if name not in _PAYLOAD_FILES]
    model_file = PICKLE_FILE if manifest.serialization == "pickle" else SKOPS_FILE
    if strange or model_file not in listed:
        raise ModelPackageError(
            f"{root / MANIFEST} lists unexpected files {strange or ''} or lacks {model_file}."
        )
    if (ONNX_FILE in listed) != (manifest.serving_path == "onnx"):
        raise ModelPackageError(
            f"{root / MANIFEST} says serving_path={manifest.serving_path!r} but "
            f"{'lists' if ONNX_FILE in listed else 'does not list'} {ONNX_FILE}."
        )
    present = {entry.name for entry in root.iterdir()}
    extra = sorted(present - set(listed) - {MANIFEST})
    if extra:
        raise TamperedPackageError(
            f"{root} holds file(s) its manifest does not list: {', '.join(extra)}. Refusing a "
            "package whose contents were changed after it was written."
        )
    missing = sorted(set(listed) - present)
    if missing:
        raise TamperedPackageError(
            f"{root} lacks file(s) its manifest lists: {', '.join(missing)}. The package is "
            "incomplete."
        )
    contents: dict[str, bytes] = {}
    for name, meta in listed.items():
        path = root / name
        if path.is_symlink() or not path.is_file():
            raise TamperedPackageError(f"{path} is not a regular file.")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != meta.get("size") or digest != meta.get("sha256"):
            raise TamperedPackageError(
                f"{path} does not match the manifest (sha256 {digest}, {len(data)} bytes; "
                f"recorded {meta.get('sha256')}, {meta.get('size')} bytes): it was modified "
                "after the package was written. Nothing was loaded."
            )
        contents[name] = data
    return contents
