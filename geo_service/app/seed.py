"""Seeding a store with the bundled demo county (used by ``geo-service serve`` and the CLI)."""

from __future__ import annotations

from ..core.store import Store
from . import demo

DEMO_ID = "demo"


def ensure_demo(store: Store, dataset_id: str = DEMO_ID, *, only_if_empty: bool = True) -> bool:
    """Store the demo county as ``dataset_id`` when the store is empty (or lacks it, with
    ``only_if_empty=False``). Return True when it was written."""
    if store.has_dataset(dataset_id):
        return False
    if only_if_empty and store.list_datasets():
        return False
    ds = demo.generate_demo()  # looked up at call time, so tests can substitute a small county
    store.put_dataset(dataset_id, ds, meta={"source": "bundled demo county (佳木斯, generated)"})
    return True
