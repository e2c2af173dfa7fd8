"""Nested tuples, lists and dicts of arrays ("pytrees", as JAX calls them), flattened to a list.

Transforms work on a flat list of arrays; these two functions take a structure apart and
put it back, so that ``grad(loss)(params)`` works with ``params = (W1, b1, W2, b2)``.
"""


def tree_flatten(tree):
    """(leaves, treedef): the arrays of ``tree`` in order, and its shape to rebuild it."""
    if not isinstance(tree, (tuple, list, dict)):
        return [tree], None
    if type(tree) is tuple:  # a flat tuple, the common case
        for child in tree:
            if isinstance(child, (tuple, list, dict)):
                break
        else:
            return list(tree), (tuple, None, (None,) * len(tree))
    keys = tuple(sorted(tree)) if isinstance(tree, dict) else None
    leaves, defs = [], []
    for child in (tree[k] for k in keys) if keys else tree:
        child_leaves, child_def = tree_flatten(child)
        leaves += child_leaves
        defs.append(child_def)
    return leaves, (dict if keys is not None else type(tree), keys, tuple(defs))


def tree_unflatten(treedef, leaves):
    """The inverse of ``tree_flatten``."""
    if treedef is None:
        return leaves[0]
    if treedef[0] is tuple and not any(treedef[2]):  # a flat tuple, the common case
        return tuple(leaves)
    return _build(treedef, iter(leaves))


def _build(treedef, leaves):
    # (a module-level function: a closure that calls itself would be a reference cycle, which
    # keeps a whole tape alive until the cycle collector happens to run)
    if treedef is None:
        return next(leaves)
    kind, keys, children = treedef
    built = [_build(c, leaves) for c in children]
    if kind is dict:
        return dict(zip(keys, built))
    if hasattr(kind, "_fields"):  # a namedtuple
        return kind(*built)
    return kind(built)
