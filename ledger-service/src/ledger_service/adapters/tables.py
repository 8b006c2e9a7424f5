"""Tables of the ``ledger`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa

SCHEMA = "ledger"
metadata = sa.MetaData(schema=SCHEMA)
