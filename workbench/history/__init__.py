"""Audit history: each audit stored per dataset with its content fingerprint, findings compared
between audits (``workbench diff``), regressions gated (``--fail-on-new``), and deterministic output
folders for DVC (``--out``)."""
