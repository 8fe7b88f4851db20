"""gateway/entities/catalog: the private `whisk.system/apimgmt` package of the route-management web actions."""

from __future__ import annotations

from pathlib import Path

import msgspec

from gateway.config import Config
from gateway.entities.catalog import install_catalog
from gateway.store import SqliteStore


async def test_apimgmt_is_installed_private_with_final_web_actions_and_reinstalling_changes_nothing(tmp_path: Path):
    store = SqliteStore(tmp_path / "whisklet.db")
    await store.open()
    try:
        await install_catalog(store, Config().limits, 1)
        package = await store.get_entity("whisk.system", "apimgmt")
        assert package is not None and msgspec.json.decode(package.doc)["publish"] is False
        for name in ("createApi", "getApi", "deleteApi"):
            action = await store.get_entity("whisk.system/apimgmt", name)
            assert action is not None
            notes = {note["key"]: note["value"] for note in msgspec.json.decode(action.doc)["annotations"]}
            assert notes["web-export"] is True and notes["final"] is True
        await install_catalog(store, Config().limits, 2)
        again = await store.get_entity("whisk.system/apimgmt", "createApi")
        assert again is not None and again.revision == 1
    finally:
        await store.close()
