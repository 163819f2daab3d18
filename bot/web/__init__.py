"""The Gradio web app: its tabs and the rendering of answer events. With the CLI and app.py, the
only code that may call ingestion (the Library tab adds articles)."""
