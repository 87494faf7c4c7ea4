""".zenodo.json: the metadata Zenodo reads when the release is uploaded."""

from __future__ import annotations

import json

from .authors import author_name
from .context import ReleaseContext


def zenodo_json(ctx: ReleaseContext) -> bytes:
    creators = []
    for author in ctx.authors:
        creator = {"name": author_name(author)}
        if author.get("affiliation"):
            creator["affiliation"] = author["affiliation"]
        if author.get("orcid"):
            creator["orcid"] = author["orcid"].rsplit("/", 1)[-1]
        creators.append(creator)
    zenodo = {
        "upload_type": "dataset",
        "title": ctx.title,
        "version": ctx.options.version,
        "publication_date": ctx.date,
        "creators": creators,
        "description": ctx.description,
        "license": ctx.license.lower(),
        "keywords": ctx.keywords,
        "access_right": "open",
    }
    return (json.dumps(zenodo, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
