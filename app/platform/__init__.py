"""Mechanisms every feature uses. Imports no feature package."""
