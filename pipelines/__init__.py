"""Assembled interview pipelines. Each variant reads top to bottom like the README diagram."""
