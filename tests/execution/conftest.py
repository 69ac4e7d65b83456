from tests.scheduler.conftest import clock, db

__all__ = ["clock", "db"]
