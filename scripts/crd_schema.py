"""Extract the OpenAPI schema of one version of a CustomResourceDefinition, without its descriptions.

    uv run python scripts/crd_schema.py CRD.yaml VERSION OUT.json

Kubernetes validates custom objects against that schema; ``kubernetes-validate`` knows only the built-in
kinds, so tests/deploy/test_monitoring.py validates the prometheus-operator objects against the schemas
this script extracted (tests/deploy/crd_schemas/, the upstream release named in their file names).
The descriptions are dropped (most of the file; validation does not read them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def without_descriptions(node: Any) -> Any:  # noqa: ANN401 - any part of a schema
    """``node`` with every ``description`` key of its schema objects removed, at any depth."""
    if isinstance(node, dict):
        return {key: without_descriptions(value) for key, value in node.items() if key != "description"}
    if isinstance(node, list):
        return [without_descriptions(item) for item in node]
    return node


def crd_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of ``version`` of the CRD; ValueError naming the versions it has otherwise."""
    versions = {entry["name"]: entry for entry in crd["spec"]["versions"]}
    if version not in versions:
        raise ValueError(f"{crd['metadata']['name']} has no version {version} (it has {sorted(versions)})")
    return without_descriptions(versions[version]["schema"]["openAPIV3Schema"])


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        sys.exit(__doc__)
    source, version, target = argv
    schema = crd_schema(yaml.safe_load(Path(source).read_text()), version)
    Path(target).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
