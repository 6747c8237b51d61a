"""Stage 1, planning: the controller turns a request into a task graph.

``planner`` writes the plan (rails for small controllers, the controller's own
plan for capable ones), ``options`` holds the switches of every rail, ``graph``
parses, validates and repairs a plan, ``ranking`` scores task types per clause,
``grammar`` builds the GBNF constraints, ``prompts`` the planning messages,
``demos`` the demonstration bank, ``chatlog`` the earlier turns a request
continues, and ``review`` the user's edit of a plan before it runs.
"""
