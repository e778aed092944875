"""PostgreSQL access: one async engine per process, tables, and Alembic migrations."""
