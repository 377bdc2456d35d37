"""Routing: which region answers a call, and whether its agents are open."""
