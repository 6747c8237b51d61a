"""hgpt's headless engine: plan → select → execute → answer, as a stream of typed events.

Nothing under ``engine`` imports Qt (``tests/test_boundaries.py`` enforces it), and
heavy libraries (torch, transformers, llama_cpp) are imported lazily, on first use.
"""

__version__ = "0.1.0"
