"""Code of the documentation's how-to guides, included into the pages and run by
``tests/test_docs_examples.py``."""
