"""Model packages: a fitted estimator as a safe, verifiable directory.

``write_package(estimator, directory, X_verify=held_out)`` stores the estimator in
skops' format (never pickle unless asked), an ONNX twin when it predicts the same
on the held-out rows, and a manifest with every file's sha256.
``read_package(directory)`` checks the hashes before deserialising anything, loads
only trusted types, checks every tree, and returns the fastest verified predictor.

Importing this package is cheap: scikit-learn, skops, skl2onnx and onnxruntime
load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline._lazy import lazy_exports

_PUBLIC = {
    "write_package": "prodline.models.package",
    "read_package": "prodline.models.package",
    "PackageManifest": "prodline.models.package",
    "LoadedPackage": "prodline.models.package",
    "load_estimator": "prodline.models.trust",
    "check_trees": "prodline.models.trust",
    "TRUSTED_TYPES": "prodline.models.trust",
    "convert_to_onnx": "prodline.models.onnx_twin",
    "TwinResult": "prodline.models.onnx_twin",
    "InputSpec": "prodline.models.runtime",
    "OnnxPredictor": "prodline.models.runtime",
    "SkopsPredictor": "prodline.models.runtime",
    "measure_latency": "prodline.models.runtime",
}

__all__ = [
    "InputSpec",
    "LoadedPackage",
    "OnnxPredictor",
    "PackageManifest",
    "SkopsPredictor",
    "TRUSTED_TYPES",
    "TwinResult",
    "check_trees",
    "convert_to_onnx",
    "load_estimator",
    "measure_latency",
    "read_package",
    "write_package",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from prodline.models.onnx_twin import TwinResult, convert_to_onnx
    from prodline.models.package import (
        LoadedPackage,
        PackageManifest,
        read_package,
        write_package,
    )
    from prodline.models.runtime import (
        InputSpec,
        OnnxPredictor,
        SkopsPredictor,
        measure_latency,
    )
    from prodline.models.trust import TRUSTED_TYPES, check_trees, load_estimator


__getattr__, __dir__ = lazy_exports("prodline.models", _PUBLIC, globals())
