"""The page's side of the app: its parts (``page``), how results are shown (``views``), and
the upkeep that keeps a public server bounded (``upkeep``). ``app.py`` wires them together.

Importing this package first switches Gradio's usage analytics off: Gradio reads the setting
when it is imported, and a public demo makes no calls home."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
