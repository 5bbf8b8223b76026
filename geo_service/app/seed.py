"""Seeding a store with the bundled demo county (used by ``geo-service serve`` and the CLI)."""

from __future__ import annotations

from ..store import Store

DEMO_ID = "demo"


def ensure_demo(store: Store, dataset_id: str = DEMO_ID, *, only_if_empty: bool = True) -> bool:
    """Store the demo county as ``dataset_id`` when the store is empty (or lacks it, with
    ``only_if_empty=False``). Return True when it was written."""
    if store.has_dataset(dataset_id):
        return False
    if only_if_empty and store.list_datasets():
        return False
    from .demo import generate_demo

    ds = generate_demo()
    store.put_dataset(dataset_id, ds, meta={"source": "bundled demo county (佳木斯, generated)"})
    return True
