"""Small neural-network building blocks: dense layers, activations, losses,
normalisation layers, attention, convolutions and pooling (forward passes only)."""
import numpy as np

from tests.programs.registry import program


def _randn(rng, *shape):
    return rng.standard_normal(shape)


# --------------------------------------------------------------------- layers

@program(lambda rng: (_randn(rng, 8, 16), _randn(rng, 16, 32) * 0.25, _randn(rng, 32)),
         dynamic_axes={0: {0: "B"}})
def dense_relu(x, w, b):
    return np.maximum(x @ w + b, 0.0)


@program(lambda rng: (_randn(rng, 16, 10), _randn(rng, 10, 32) * 0.3, _randn(rng, 32) * 0.1,
                      _randn(rng, 32, 32) * 0.2, _randn(rng, 32) * 0.1,
                      _randn(rng, 32, 4) * 0.2, _randn(rng, 4) * 0.1),
         dynamic_axes={0: {0: "B"}})
def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.tanh(x @ w1 + b1)
    h = np.maximum(h @ w2 + b2, 0.0)
    return h @ w3 + b3


def _mlp_params(rng):
    return {
        "w1": _randn(rng, 6, 12) * 0.4, "b1": np.zeros(12),
        "w2": _randn(rng, 12, 3) * 0.4, "b2": _randn(rng, 3) * 0.1,
    }


@program(lambda rng: (_randn(rng, 10, 6), _mlp_params(rng)),
         dynamic_axes={0: {0: "B"}}, tags={"dict_input", "dict_output"})
def mlp_classifier(x, params):
    """Takes the parameters as a dict and returns a dict of logits / probabilities / predictions."""
    h = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    logits = h @ params["w2"] + params["b2"]
    probs = softmax(logits)
    return {"logits": logits, "probs": probs, "pred": np.argmax(probs, axis=1)}


# ---------------------------------------------------------------- activations

@program(lambda rng: (_randn(rng, 8, 10) * 3.0,), dynamic_axes={0: {0: "B"}})
def softmax(x):
    z = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


@program(lambda rng: (_randn(rng, 8, 10) * 3.0,), dynamic_axes={0: {0: "B"}})
def log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@program(lambda rng: (_randn(rng, 4, 64),))
def gelu_tanh(x):
    c = np.sqrt(2.0 / np.pi)
    return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * np.power(x, 3))))


@program(lambda rng: (_randn(rng, 5, 7) * 4.0,))
def activations(x):
    """Returns a tuple of common activations of the same input."""
    sigmoid = 1.0 / (1.0 + np.exp(-x))
    softplus = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)
    elu = np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    leaky = np.where(x > 0, x, 0.01 * x)
    silu = x * sigmoid
    return sigmoid, softplus, elu, leaky, silu


# --------------------------------------------------------------------- losses

@program(lambda rng: (_randn(rng, 12, 5) * 2.0, rng.integers(0, 5, size=12)),
         dynamic_axes={0: {0: "B"}, 1: {0: "B"}})
def cross_entropy(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    n = logits.shape[0]
    return -np.mean(logp[np.arange(n), labels])


@program(lambda rng: (_randn(rng, 20), rng.integers(0, 2, size=20).astype(np.float64)))
def binary_cross_entropy_with_logits(z, y):
    # numerically stable: max(z, 0) - z*y + log(1 + exp(-|z|))
    loss = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
    return loss.mean()


@program(lambda rng: (_randn(rng, 16, 3), _randn(rng, 3, 2), _randn(rng, 16, 2)),
         tags={"tuple_output"})
def mse_loss_and_grad(x, w, y):
    """Linear regression loss and its gradient w.r.t. w."""
    r = x @ w - y
    loss = np.mean(r ** 2)
    grad = 2.0 * x.T @ r / r.size
    return loss, grad


# -------------------------------------------------------------- normalisation

@program(lambda rng: (_randn(rng, 6, 32) * 2.0 + 1.0, 1.0 + 0.1 * _randn(rng, 32), 0.1 * _randn(rng, 32)),
         dynamic_axes={0: {0: "B"}})
def layer_norm(x, gamma, beta):
    eps = 1e-5
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


@program(lambda rng: (_randn(rng, 4, 3, 5, 5), _randn(rng, 3), rng.uniform(0.5, 2.0, size=3),
                      1.0 + 0.1 * _randn(rng, 3), 0.1 * _randn(rng, 3)),
         dynamic_axes={0: {0: "B"}})
def batch_norm_inference(x, running_mean, running_var, gamma, beta):
    """NCHW batch norm with running statistics."""
    eps = 1e-5
    scale = gamma / np.sqrt(running_var + eps)
    shift = beta - running_mean * scale
    return x * scale[None, :, None, None] + shift.reshape(1, -1, 1, 1)


# ------------------------------------------------------------------ attention

@program(lambda rng: (_randn(rng, 2, 5, 8), _randn(rng, 2, 6, 8), _randn(rng, 2, 6, 4)),
         dynamic_axes={0: {0: "B"}, 1: {0: "B"}, 2: {0: "B"}})
def attention_einsum(q, k, v):
    d = q.shape[-1]
    scores = np.einsum("bqd,bkd->bqk", q, k) / np.sqrt(d)
    scores = scores - scores.max(axis=-1, keepdims=True)
    w = np.exp(scores)
    w = w / w.sum(axis=-1, keepdims=True)
    return np.einsum("bqk,bkd->bqd", w, v)


@program(lambda rng: (_randn(rng, 7, 16), _randn(rng, 16, 16) * 0.25, _randn(rng, 16, 16) * 0.25,
                      _randn(rng, 16, 16) * 0.25, _randn(rng, 16, 16) * 0.25))
def causal_multihead_attention(x, wq, wk, wv, wo):
    """2 heads, causal mask built from arange comparisons, matmul-based."""
    t, d = x.shape
    heads = 2
    hd = d // heads
    q = (x @ wq).reshape(t, heads, hd).transpose(1, 0, 2)
    k = (x @ wk).reshape(t, heads, hd).transpose(1, 0, 2)
    v = (x @ wv).reshape(t, heads, hd).transpose(1, 0, 2)
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(hd)
    causal = np.arange(t)[:, None] >= np.arange(t)[None, :]
    scores = np.where(causal, scores, -1e9)
    scores = scores - scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    out = (p @ v).transpose(1, 0, 2).reshape(t, d)
    return out @ wo


# ------------------------------------------------------ convolution / pooling

@program(lambda rng: (_randn(rng, 3, 40), _randn(rng, 5)), dynamic_axes={0: {0: "B"}})
def conv1d_stencil(x, w):
    """'valid' cross-correlation along the last axis built from shifted slices."""
    k = w.shape[0]
    n = x.shape[-1] - k + 1
    out = np.zeros(x.shape[:-1] + (n,))
    for j in range(k):
        out = out + w[j] * x[..., j:j + n]
    return out


@program(lambda rng: (_randn(rng, 2, 3, 10, 10), _randn(rng, 4, 3, 3, 3) * 0.3, _randn(rng, 4) * 0.1),
         dynamic_axes={0: {0: "B"}})
def conv2d_einsum(x, w, b):
    """NCHW 'same' convolution (zero padding 1): patches stacked from shifted slices, contracted with einsum."""
    n, c, h, wd = x.shape
    kh, kw = w.shape[2], w.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="constant")
    patches = np.stack([xp[:, :, i:i + h, j:j + wd] for i in range(kh) for j in range(kw)], axis=2)
    patches = patches.reshape(n, c, kh, kw, h, wd)
    y = np.einsum("ncijhw,ocij->nohw", patches, w)
    return y + b[None, :, None, None]


@program(lambda rng: (_randn(rng, 2, 3, 8, 12),), dynamic_axes={0: {0: "B"}})
def maxpool2x2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


@program(lambda rng: (_randn(rng, 2, 4, 6, 6),))
def global_avg_pool_and_flatten(x):
    pooled = x.mean(axis=(2, 3))
    return pooled, x.reshape(x.shape[0], -1)


@program(lambda rng: (rng.integers(0, 50, size=(3, 7)), _randn(rng, 50, 8)))
def embedding_lookup_mean(ids, table):
    """Embedding bag: gather rows with np.take then average over the sequence."""
    emb = np.take(table, ids, axis=0)          # (3, 7, 8)
    return emb.mean(axis=1)
