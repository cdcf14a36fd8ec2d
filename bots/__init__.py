"""Front ends over the qa core: HTTP (FastAPI) and Telegram; they only translate."""
