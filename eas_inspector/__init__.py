"""eas-inspector command line."""
