"""UI-side helpers shared by the pages (the only place besides app_pages/ and app.py that imports streamlit)."""
