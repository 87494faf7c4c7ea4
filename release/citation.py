"""CITATION.cff (type: dataset), checked against the CFF 1.2.0 schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .context import ReleaseContext

CFF_SCHEMA = Path(__file__).parent / "schemas" / "cff-1.2.0.json"


def citation_cff(ctx: ReleaseContext) -> bytes:
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below.",
        "type": "dataset",
        "title": ctx.title,
        "version": ctx.options.version,
        "date-released": ctx.date,
        "authors": ctx.authors,
        "abstract": ctx.description,
        "keywords": ctx.keywords,
        "license": ctx.license,
    }
    if ctx.config.get("repository"):
        cff["repository"] = str(ctx.config["repository"])
    text = yaml.safe_dump(cff, allow_unicode=True, sort_keys=False, width=100)
    return text.encode("utf-8")


def validate_citation(text: bytes | str) -> list[str]:
    """Problems of a CITATION.cff against the CFF 1.2.0 JSON schema (as cffconvert checks it:
    jsonschema with format checking, YAML dates as strings); empty when it is valid."""
    import jsonschema

    class _Loader(yaml.SafeLoader):
        pass

    # YAML 1.2 (which CFF uses) has no date type: keep dates as the strings they are.
    _Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return [f"not YAML ({exc})"]
    schema = json.loads(CFF_SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))]
