# The attack notebooks here are hostile inputs for the grader tests, not lessons:
# never let nbval execute them in the pytest process.
collect_ignore_glob = ["*.ipynb"]
