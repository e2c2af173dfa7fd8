"""Nested tuples, lists and dicts of arrays ("pytrees", as JAX calls them), flattened to a list.

Transforms work on a flat list of arrays; these two functions take a structure apart and
put it back, so that ``grad(loss)(params)`` works with ``params = (W1, b1, W2, b2)``.
"""


def tree_flatten(tree):
    """(leaves, treedef): the arrays of ``tree`` in order, and its shape to rebuild it."""
    if isinstance(tree, (tuple, list)):
        leaves, defs = [], []
        for child in tree:
            child_leaves, child_def = tree_flatten(child)
            leaves += child_leaves
            defs.append(child_def)
        return leaves, (type(tree), None, tuple(defs))
    if isinstance(tree, dict):
        keys = sorted(tree)
        leaves, defs = [], []
        for k in keys:
            child_leaves, child_def = tree_flatten(tree[k])
            leaves += child_leaves
            defs.append(child_def)
        return leaves, (dict, tuple(keys), tuple(defs))
    return [tree], None


def tree_unflatten(treedef, leaves):
    """The inverse of ``tree_flatten``."""
    leaves = iter(leaves)

    def build(d):
        if d is None:
            return next(leaves)
        kind, keys, children = d
        built = [build(c) for c in children]
        if kind is dict:
            return dict(zip(keys, built))
        if hasattr(kind, "_fields"):  # a namedtuple
            return kind(*built)
        return kind(built)

    return build(treedef)
