"""Streamlit helpers shared by the pages: cached loaders, session-state keys, the synthetic banner."""
