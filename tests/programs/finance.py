"""Quantitative finance: Black-Scholes pricing and greeks (erf-free normal CDF),
binomial trees, Monte-Carlo payoffs, returns, risk and portfolio statistics."""
import numpy as np

from tests.programs.registry import program


def norm_cdf(x):
    """Abramowitz-Stegun 26.2.17 approximation of the standard normal CDF (|error| < 7.5e-8).

    Uses only Python float constants, so float32 inputs stay float32 (NEP 50).
    """
    a1, a2, a3, a4, a5 = 0.319381530, -0.356563782, 1.781477937, -1.821255978, 1.330274429
    ax = np.abs(x)
    t = 1.0 / (1.0 + 0.2316419 * ax)
    poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    pdf = np.exp(-0.5 * ax * ax) * 0.3989422804014327
    upper = 1.0 - pdf * poly
    return np.where(x >= 0, upper, 1.0 - upper)


def _option_inputs(rng, n=64, dtype=np.float64):
    spot = rng.uniform(50.0, 150.0, size=n)
    strike = rng.uniform(60.0, 140.0, size=n)
    t = rng.uniform(0.1, 2.0, size=n)
    rate = rng.uniform(0.0, 0.05, size=n)
    vol = rng.uniform(0.1, 0.5, size=n)
    return tuple(a.astype(dtype) for a in (spot, strike, t, rate, vol))


@program(lambda rng: (rng.standard_normal(100) * 2.0,))
def normal_cdf(x):
    return norm_cdf(x)


@program(_option_inputs, dynamic_axes={i: {0: "N"} for i in range(5)}, tags={"tuple_output"})
def black_scholes(spot, strike, t, rate, vol):
    """European call and put prices."""
    sqrt_t = np.sqrt(t)
    d1 = (np.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc = strike * np.exp(-rate * t)
    call = spot * norm_cdf(d1) - disc * norm_cdf(d2)
    put = disc * norm_cdf(-d2) - spot * norm_cdf(-d1)
    return call, put


@program(lambda rng: _option_inputs(rng, dtype=np.float32), tags={"float32", "tuple_output"})
def black_scholes_f32(spot, strike, t, rate, vol):
    """The same pricer in float32: every constant is a Python float so nothing upcasts."""
    sqrt_t = np.sqrt(t)
    d1 = (np.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc = strike * np.exp(-rate * t)
    call = spot * norm_cdf(d1) - disc * norm_cdf(d2)
    put = disc * norm_cdf(-d2) - spot * norm_cdf(-d1)
    return call, put


@program(_option_inputs, tags={"dict_output"})
def black_scholes_greeks(spot, strike, t, rate, vol):
    sqrt_t = np.sqrt(t)
    d1 = (np.log(spot / strike) + (rate + 0.5 * vol ** 2) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    pdf_d1 = np.exp(-0.5 * d1 ** 2) / np.sqrt(2.0 * np.pi)
    return {
        "delta": norm_cdf(d1),
        "gamma": pdf_d1 / (spot * vol * sqrt_t),
        "vega": spot * pdf_d1 * sqrt_t,
        "theta": -spot * pdf_d1 * vol / (2.0 * sqrt_t) - rate * strike * np.exp(-rate * t) * norm_cdf(d2),
        "rho": strike * t * np.exp(-rate * t) * norm_cdf(d2),
    }


@program(lambda rng: (rng.uniform(80.0, 120.0, size=8), 100.0 * np.ones(8)))
def binomial_tree_call(spot, strike):
    """Cox-Ross-Rubinstein European call for a batch of spots; 32 steps unrolled over a shrinking vector."""
    steps, rate, vol, t = 32, 0.03, 0.2, 1.0
    dt = t / steps
    u = np.exp(vol * np.sqrt(dt))
    d = 1.0 / u
    p = (np.exp(rate * dt) - d) / (u - d)
    disc = np.exp(-rate * dt)
    j = np.arange(steps + 1)
    terminal = spot[:, None] * u ** j[None, :] * d ** (steps - j)[None, :]
    v = np.maximum(terminal - strike[:, None], 0.0)
    for _ in range(steps):
        v = disc * (p * v[:, 1:] + (1.0 - p) * v[:, :-1])
    return v[:, 0]


@program(lambda rng: (rng.standard_normal((2000, 12)),))
def monte_carlo_asian_call(z):
    """Arithmetic-average Asian call from pre-drawn normals; returns (price, standard error)."""
    s0, k, r, sigma, t = 100.0, 100.0, 0.02, 0.25, 1.0
    n_steps = z.shape[1]
    dt = t / n_steps
    log_paths = np.cumsum((r - 0.5 * sigma ** 2) * dt + sigma * np.sqrt(dt) * z, axis=1)
    paths = s0 * np.exp(log_paths)
    payoff = np.maximum(paths.mean(axis=1) - k, 0.0) * np.exp(-r * t)
    return payoff.mean(), payoff.std(ddof=1) / np.sqrt(payoff.shape[0])


@program(lambda rng: (100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal((250, 4)), axis=0)),),
         tags={"dict_output"})
def return_statistics(prices):
    """Log/simple returns, annualised volatility and Sharpe ratio per asset."""
    simple = prices[1:] / prices[:-1] - 1.0
    logret = np.log(prices[1:]) - np.log(prices[:-1])
    vol = logret.std(axis=0, ddof=1) * np.sqrt(252.0)
    sharpe = simple.mean(axis=0) / simple.std(axis=0, ddof=1) * np.sqrt(252.0)
    cumulative = np.cumprod(1.0 + simple, axis=0)
    return {"log_returns": logret, "volatility": vol, "sharpe": sharpe, "cumulative": cumulative[-1]}


@program(lambda rng: (100.0 * np.exp(np.cumsum(0.02 * rng.standard_normal(300))),),
         tags={"ufunc_method", "tuple_output"})
def max_drawdown(prices):
    running_peak = np.maximum.accumulate(prices)
    drawdown = prices / running_peak - 1.0
    return drawdown.min(), np.argmin(drawdown)


def _portfolio_inputs(rng):
    r = rng.standard_normal((120, 5)) * 0.02 + 0.001
    w = rng.uniform(0.0, 1.0, size=5)
    return r, w / w.sum()


@program(_portfolio_inputs, tags={"tuple_output"})
def portfolio_risk(returns, weights):
    """Mean, variance (w' Sigma w) and per-asset risk contributions."""
    mu = returns.mean(axis=0)
    centered = returns - mu
    cov = centered.T @ centered / (returns.shape[0] - 1)
    port_mean = weights @ mu
    port_var = weights @ cov @ weights
    contrib = weights * (cov @ weights) / port_var
    return port_mean, port_var, contrib


@program(lambda rng: (rng.standard_normal((60, 3)) * 0.01,))
def ewma_volatility(returns):
    """RiskMetrics EWMA variance, recursion unrolled over the (static) time axis."""
    lam = 0.94
    var = returns[0] ** 2
    out = [var]
    for t in range(1, returns.shape[0]):
        var = lam * var + (1.0 - lam) * returns[t] ** 2
        out.append(var)
    return np.sqrt(np.stack(out))
