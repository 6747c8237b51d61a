"""SQLite storage shared by the history store and the model catalog.

``sqlite.SQLiteFile`` is one SQLite file used from many threads (a connection per
thread, WAL, the owner's pragmas and per-connection setup, nested-aware
transactions); ``migrations.Migrations`` builds and upgrades a file's schema by
numbered steps and refuses a file written by a newer hgpt.
"""

from .migrations import Migration, Migrations, NewerDatabaseError
from .sqlite import SQLiteFile, run_script, table_exists

__all__ = ["Migration", "Migrations", "NewerDatabaseError", "SQLiteFile", "run_script", "table_exists"]
