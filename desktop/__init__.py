"""hgpt's desktop window: a PySide6 view over the engine's event stream.

Only this package imports Qt. Engine work runs in a worker thread that consumes
``Engine.run``'s generator and re-emits each event as a Qt signal.
"""
