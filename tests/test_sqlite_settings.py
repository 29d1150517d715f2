"""SQLite connections get the page cache and memory-mapped I/O of the settings."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DATABASE_URL, build_app
from trialdm.extensions import db

pytestmark = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="SQLite connection settings; the suite runs on PostgreSQL"
)


def test_page_cache_and_mmap_follow_the_settings(tmp_path):
    app = build_app(tmp_path, "pragmas", SQLITE_CACHE_MB=12, SQLITE_MMAP_MB=64)
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -12 * 1024
        assert connection.exec_driver_sql("PRAGMA mmap_size").scalar() == 64 * 1024 * 1024
        db.engine.dispose()
