"""Correct submissions of a6_mds_gradient that differ from the instructor's solution in
algorithm, types and style: each must get every autograded point."""

WRITTEN = {
    "written_gradient": "Each pair (i, j) contributes 4 r_ij (W_i - W_j) to dL/dW_i twice, so the gradient "
                        "is 8 sum_j r_ij (W_i - W_j) for a symmetric D; otherwise 4 sum_j (r_ij + r_ji)(W_i - W_j).",
    "written_pca": "-JDJ/2 = X_c X_c^T, so its top eigenvectors scaled by the square roots of the eigenvalues are "
                   "the PCA scores; both losses vanish on rigid motions of X for Euclidean D.",
}

VARIANTS = [
    # Loops over pairs and Python lists; Procrustes by the polar decomposition; double centring
    # by row and column means.
    dict(WRITTEN, **{
        "mds_gradient_answer": '''
def mds_gradient(W, D):
    N, k = len(W), len(W[0])
    grad = [[0.0] * k for _ in range(N)]
    for i in range(N):
        for j in range(N):
            diff = [W[i][c] - W[j][c] for c in range(k)]
            r = sum(d * d for d in diff) - D[i][j]
            for c in range(k):
                grad[i][c] += 8.0 * r * diff[c]
    return grad
''',
        "mds_descent_answer": '''
def mds_descent(D, W0, step, n_steps):
    W = np.copy(np.asarray(W0, dtype=np.float64))
    done = 0
    while done < n_steps:
        W -= step * np.asarray(mds_gradient(W, D))
        done += 1
    return W
''',
        "procrustes_answer": '''
def procrustes_align(W, X):
    W = np.asarray(W, dtype=float)
    X = np.asarray(X, dtype=float)
    Wc = W - W.mean(0)
    Xc = X - X.mean(0)
    M = Wc.T @ Xc
    values, vectors = np.linalg.eigh(M.T @ M)          # Q = M (M^T M)^(-1/2), the polar factor
    Q = M @ vectors @ np.diag(values ** -0.5) @ vectors.T
    return Wc @ Q + X.mean(0)
''',
        "classical_mds_answer": '''
def classical_mds(D, k):
    D = np.asarray(D, dtype=float)
    row = D.mean(axis=1, keepdims=True)
    col = D.mean(axis=0, keepdims=True)
    B = -0.5 * (D - row - col + D.mean())
    lam, V = np.linalg.eigh(B)
    order = np.argsort(-lam)[:k]
    return [[V[i, j] * np.sqrt(max(lam[j], 0.0)) for j in order] for i in range(len(D))]
''',
    }),
    # Broadcasting and einsum; descent by functools.reduce; the SVD of the transposed
    # cross-covariance; eigenvalues by numpy's general eig.
    dict(WRITTEN, **{
        "mds_gradient_answer": '''
def mds_gradient(W, D):
    W = np.asarray(W, dtype=float)
    diff = W[:, np.newaxis, :] - W[np.newaxis, :, :]
    residual = np.einsum("ijk,ijk->ij", diff, diff) - np.asarray(D)
    return 8 * np.einsum("ij,ijk->ik", residual, diff)
''',
        "mds_descent_answer": '''
from functools import reduce

def mds_descent(D, W0, step, n_steps):
    return reduce(lambda W, _: W - step * mds_gradient(W, D), range(n_steps), np.array(W0, dtype=float))
''',
        "procrustes_answer": '''
def procrustes_align(W, X):
    W, X = np.array(W, float), np.array(X, float)
    mu_w, mu_x = np.mean(W, axis=0), np.mean(X, axis=0)
    U, s, Vt = np.linalg.svd((X - mu_x).T @ (W - mu_w))   # X_c^T W_c = U S V^T
    R = Vt.T @ U.T                                          # the rotation that takes W_c to X_c
    return np.dot(W - mu_w, R) + mu_x
''',
        "classical_mds_answer": '''
def classical_mds(D, k):
    n = np.shape(D)[0]
    J = np.identity(n) - np.full((n, n), 1.0 / n)
    B = -0.5 * np.dot(J, np.dot(D, J))
    lam, V = np.linalg.eig(B)
    lam, V = lam.real, V.real
    V = V / np.linalg.norm(V, axis=0)
    top = np.argsort(lam)[::-1][:k]
    return V[:, top] * np.sqrt(np.clip(lam[top], 0, None))
''',
    }),
    # The Laplacian form 4 (diag(S 1) - S) W with S = r + r^T; a descent that returns a list;
    # the shift applied after the rotation; B built column by column.
    dict(WRITTEN, **{
        "mds_gradient_answer": '''
def mds_gradient(W, D):
    W = np.array(W, dtype=float)
    G = W @ W.T
    sq = np.diag(G)
    r = sq[:, None] + sq[None, :] - 2 * G - D
    S = r + r.T
    laplacian = np.diag(S.sum(axis=1)) - S
    return 4 * laplacian @ W
''',
        "mds_descent_answer": '''
def mds_descent(D, W0, step, n_steps):
    W = np.array(W0, dtype=float)
    for _ in range(int(n_steps)):
        W = W - step * mds_gradient(W, D)
    return W.tolist()
''',
        "procrustes_answer": '''
def procrustes_align(W, X):
    W = np.asarray(W, dtype=float)
    X = np.asarray(X, dtype=float)
    w_bar, x_bar = W.mean(axis=0), X.mean(axis=0)
    U, _, Vt = np.linalg.svd((W - w_bar).T @ (X - x_bar))
    Q = U @ Vt
    t = x_bar - w_bar @ Q
    return W @ Q + t
''',
        "classical_mds_answer": '''
def classical_mds(D, k):
    D = np.asarray(D, dtype=float)
    N = len(D)
    J = np.eye(N) - 1.0 / N
    values, vectors = np.linalg.eigh(-J @ D @ J / 2)
    columns = []
    for index in range(N - 1, N - 1 - k, -1):
        columns.append(vectors[:, index] * max(values[index], 0.0) ** 0.5)
    return np.column_stack(columns)
''',
    }),
]
