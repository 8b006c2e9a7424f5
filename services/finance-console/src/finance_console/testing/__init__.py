"""Test helpers of the console (browser fixtures); nothing here is used at runtime."""
