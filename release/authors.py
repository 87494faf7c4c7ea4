"""Authors and wording of a release: DATA/release.yaml and the --author options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .options import CONFIG_FILE, ReleaseError, ReleaseOptions


def load_config(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        config = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReleaseError(f"{path}: cannot read it as YAML ({exc})") from None
    if not isinstance(config, dict):
        raise ReleaseError(f"{path}: must be a mapping (title, description, authors, ...)")
    unknown = set(config) - {"title", "description", "authors", "license", "keywords",
                             "repository", "contact"}
    if unknown:
        raise ReleaseError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    return config


def _author_from_option(text: str) -> dict[str, str]:
    if "," in text:
        family, given = (part.strip() for part in text.split(",", 1))
        if family and given:
            return {"family-names": family, "given-names": given}
    return {"name": text.strip()}


def release_authors(config: dict[str, Any], options: ReleaseOptions, data_dir: Path) -> list[dict]:
    if options.authors:
        return [_author_from_option(a) for a in options.authors if a.strip()]
    authors = config.get("authors") or []
    if not authors:
        raise ReleaseError(f"no authors: give --author 'Family, Given' (repeatable) or list "
                           f"authors in {data_dir / CONFIG_FILE}")
    out = []
    allowed = {"family-names", "given-names", "name", "orcid", "affiliation", "email"}
    for i, author in enumerate(authors):
        if isinstance(author, str):
            out.append(_author_from_option(author))
            continue
        if not isinstance(author, dict) or not ({"family-names", "name"} & set(author)):
            raise ReleaseError(f"{data_dir / CONFIG_FILE}: authors[{i}] needs family-names "
                               "(a person) or name (an organisation)")
        bad = set(author) - allowed
        if bad:
            raise ReleaseError(f"{data_dir / CONFIG_FILE}: authors[{i}]: unknown key(s) "
                               f"{', '.join(sorted(bad))}")
        out.append({k: str(author[k]) for k in sorted(author, key=_author_key_order)})
    return out


def _author_key_order(key: str) -> int:
    order = ["family-names", "given-names", "name", "affiliation", "orcid", "email"]
    return order.index(key) if key in order else len(order)


def author_name(author: dict[str, str]) -> str:
    if "family-names" in author:
        return ", ".join(p for p in (author["family-names"], author.get("given-names")) if p)
    return author["name"]
