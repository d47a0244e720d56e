"""Thin Typer commands: parse, validate up front, call the library, print a summary."""
