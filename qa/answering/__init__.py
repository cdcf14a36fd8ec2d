"""Answering: question -> time window -> retrieval -> reader (or sentence picker) -> answers; follow-ups."""
