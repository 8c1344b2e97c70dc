"""A tiny Django site for tests that run it in several real server processes."""
