"""Named queries over the metadata tables, grouped by the component that needs them.

Everything outside `db/` calls these instead of building SQL itself.
"""
