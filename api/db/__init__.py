"""The store's persistence layer: SQLAlchemy 2 models, sessions, Alembic upgrades and repository functions.

Domain logic (action-list import, matching, flag rules, retention) lives outside this package
and talks to the store only through :mod:`api.db.repository` and the models.
"""
