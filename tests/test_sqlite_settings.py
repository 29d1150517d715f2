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


def test_a_job_connection_is_sized_for_the_job_and_given_back_as_it_was(tmp_path):
    from trialdm.core.sqlite import sized_for_a_job

    app = build_app(tmp_path, "job", SQLITE_CACHE_MB=12, SQLITE_MMAP_MB=1)
    with app.app_context(), db.engine.connect() as connection:
        size = (tmp_path / "job.db").stat().st_size
        with sized_for_a_job(connection, 2, 4):
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -2 * 1024
            limit = connection.exec_driver_sql("PRAGMA soft_heap_limit").scalar()
            assert limit == 4 * 1024 * 1024
            mapped = connection.exec_driver_sql("PRAGMA mmap_size").scalar()
            assert mapped > max(size, 1024 * 1024)  # the whole file, beyond the setting
            with db.engine.connect() as other:  # other connections keep the settings
                assert other.exec_driver_sql("PRAGMA cache_size").scalar() == -12 * 1024
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -12 * 1024
        assert connection.exec_driver_sql("PRAGMA mmap_size").scalar() == 1024 * 1024
        assert connection.exec_driver_sql("PRAGMA soft_heap_limit").scalar() == 0
        db.engine.dispose()
