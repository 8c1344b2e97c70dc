"""Helpers of the browser test: the example site as a real server, and Chromium."""
