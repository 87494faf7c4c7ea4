"""The corpus as code: schema, the append-only store, the differ, exports."""
