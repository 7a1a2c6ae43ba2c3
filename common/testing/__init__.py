"""Test support shared by the apps' test suites."""
