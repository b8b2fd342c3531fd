"""Pydantic schemas of the HTTP API: separate create / update / public models per resource."""
