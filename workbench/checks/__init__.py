"""The checks: pure functions over arrays and tables that return typed results."""
