"""The corpus as code: schema, the append-only store, the differ, exports (memoryhole.corpus).

It imports no other stage and no Scrapy: crawlers/ write into it, analysis/ and release/ read it.
"""

import sys


def _import_sqlite_utils() -> None:
    """Import sqlite-utils with pandas and numpy hidden (unless something imported them first).

    sqlite-utils imports both at its own import when they are installed (0.3-0.5 s of every crawl
    process's start) only to map their scalar types to column types; the corpus stores neither.
    `map_array_types` adds those types when a stage that uses the libraries is imported."""
    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]   # `import name` raises ImportError
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


def map_array_types() -> None:
    """Give sqlite-utils the numpy and pandas column types it maps when it imports them itself
    (the same table as sqlite_utils.db's), so rows holding numpy or pandas scalars insert alike."""
    import numpy as np
    import pandas as pd
    import sqlite_utils.db as db

    if db.np is None:
        db.np = np
        db.COLUMN_TYPE_MAPPING.update({t: "INTEGER" for t in (
            np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)})
        db.COLUMN_TYPE_MAPPING.update({t: "REAL" for t in (np.float16, np.float32, np.float64)})
    if db.pd is None:
        db.pd = pd
        db.COLUMN_TYPE_MAPPING[pd.Timestamp] = "TEXT"


_import_sqlite_utils()
