"""The course's autograder: hidden checks (a1 … a9), what they stand on inside the grading
kernel (guard), and the course's nbgrader plugins (plugins/). The rules for students' code are
``adcourse.answer_cells``, which students can run too.

Lives outside ``source/`` so that ``nbgrader generate_assignment`` never releases it; the
grading kernels import it through ``kernel_startup.py`` (see ``nbgrader_config.py``).
"""
