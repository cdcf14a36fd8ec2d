"""The web: polite fetching (robots.txt; public addresses only when serving), feeds, sitemaps, refresh."""
