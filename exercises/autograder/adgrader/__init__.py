"""The course's autograder: hidden checks (a1 … a9), what they stand on inside the grading
kernel (guard), the rules for students' code (policy), and nbgrader plugins.

Lives outside ``source/`` so that ``nbgrader generate_assignment`` never releases it; the
grading kernels import it through ``kernel_startup.py`` (see ``nbgrader_config.py``).
"""
