"""The doors over HTTP: a blueprint per module (webhook, admin API, health, pages, sign-in,
LTI) and what they share (who may enter, security headers, URL pieces, JSON shapes)."""
