"""Differential privacy: exact noise, zCDP accounting, DP marginals, the privacy ledger."""
