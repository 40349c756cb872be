"""The models store, Hub downloads, the HF cache, model headers, views and app imports."""
