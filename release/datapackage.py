"""datapackage.json: the Frictionless tabular data package describing every CSV, with its sha256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .authors import author_name
from .context import ReleaseContext
from .options import LICENSE_URLS


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def datapackage_json(ctx: ReleaseContext, resources: list) -> bytes:
    from memoryhole.analysis.publish import table_descriptions

    descriptions = table_descriptions()
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": ctx.name,
        "title": ctx.title,
        "description": ctx.description,
        "version": ctx.options.version,
        "created": ctx.released_at,
        "licenses": [{"name": ctx.license, "path": LICENSE_URLS.get(ctx.license, ""),
                      "title": ctx.license}],
        "contributors": [{"title": author_name(a), "role": "author"} for a in ctx.authors],
        "keywords": ctx.keywords,
        "sources": [{"title": f"memoryhole crawls of {', '.join(sorted(ctx.plans)) or 'none'}"}],
        "resources": [],
    }
    if not package["licenses"][0]["path"]:
        del package["licenses"][0]["path"]
    for table, rel, data, fields in resources:
        meta = descriptions.get(table.name, {})
        columns = meta.get("columns", {})
        for f in fields:
            if columns.get(f["name"]):
                f["description"] = " ".join(str(columns[f["name"]]).split())
        schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
        if table.primary_key:
            schema["primaryKey"] = table.primary_key
        resource = {
            "name": table.name.lower().replace("_", "-"),
            "path": rel,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": len(data),
            "hash": f"sha256:{sha256_hex(data)}",
            "schema": schema,
        }
        if meta.get("description"):
            resource["description"] = " ".join(str(meta["description"]).split())
        package["resources"].append(resource)
    return (json.dumps(package, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
