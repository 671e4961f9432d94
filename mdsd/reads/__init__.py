"""Reads: every question mds answers, each from one consistent view of the facts."""
