"""Turns one validated stack configuration into a whole Triton environment, and the CLI around it."""
