"""v17-v18 on a database made by v16: a connection may be of kind cloud; every other kind is still
refused, and the rows and references already there are untouched."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from zingd.store import migrations


def test_v16_database_takes_cloud_connections(tmp_path):
    db = sqlite_utils.Database(tmp_path / "zing.db")
    db.conn.isolation_level = None  # the migrations manage their own transactions, as Database does
    for version in range(1, 17):
        migrations._apply(db, migrations.MIGRATIONS[version - 1], version)
    db.execute("INSERT INTO tenants (name, created_at) VALUES ('Acme', 0)")
    db.execute("INSERT INTO connections (tenant_id, name, kind, created_at, updated_at) VALUES (1, 'Main', 'sim', 0, 0)")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO connections (tenant_id, name, kind, created_at, updated_at) "
                   "VALUES (1, 'Cloud', 'cloud', 0, 0)")

    assert migrations.migrate(db) == 16
    assert db.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    db.execute("INSERT INTO connections (tenant_id, name, kind, created_at, updated_at) VALUES (1, 'Cloud', 'cloud', 0, 0)")
    db.execute("INSERT INTO cloud_accounts (connection_id, tenant_id, phone_number_id, business_account_id, "
               "access_token, app_secret, verify_token, updated_at) VALUES (2, 1, '109', '209', 't', 's', 'v', 0)")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO connections (tenant_id, name, kind, created_at, updated_at) "
                   "VALUES (1, 'Other', 'telegram', 0, 0)")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [r[0] for r in db.execute("SELECT kind FROM connections ORDER BY id")] == ["sim", "cloud"]
