"""Renderers: turn an AuditResult into something to look at (HTML report, ...).

Renderers read results only; they never compute findings.
"""
