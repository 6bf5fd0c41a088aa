"""The Pilot fixtures of tests/ui (a real service over a real store, seeded at fixed times)."""

from tests.ui.conftest import clock, config_dir, seeder, service

__all__ = ["clock", "config_dir", "seeder", "service"]
