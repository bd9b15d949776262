"""Tests of the Textual viewer, its replay transport and its diff."""
