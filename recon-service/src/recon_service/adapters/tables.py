"""Tables of the ``recon`` schema (SQLAlchemy Core; migrations mirror them)."""

import sqlalchemy as sa

SCHEMA = "recon"
metadata = sa.MetaData(schema=SCHEMA)
