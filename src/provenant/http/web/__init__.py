"""The web UI: server-rendered pages, hand-written JS and CSS, no CDN."""
