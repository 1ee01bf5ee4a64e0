"""Optuna's TPE on the search-suite problems (native-bench/search-problems.mjs, `suite`), for
native-bench/search-suite.mjs: median simple regret at 50 and 100 trials over seeds 0..N-1,
univariate and multivariate, in memory. Writes native-bench/optuna-suite.json.

    /usr/bin/python3 native-bench/optuna_search.py [--seeds 100]

Needs optuna (Debian: apt-get install python3-optuna, which is Optuna 3.1).
"""
import json
import math
import statistics
import sys
from pathlib import Path

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)
import warnings

warnings.filterwarnings("ignore")

H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H6_P = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
H3_A = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]]
H3_P = [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
ALPHA = [1, 1.2, 3, 3.2]


def floats(t, d, lo, hi):
    return [t.suggest_float(f"x{i + 1}", lo, hi) for i in range(d)]


def hartmann(x, a, p):
    return -sum(ALPHA[i] * math.exp(-sum(a[i][j] * (x[j] - p[i][j] * 1e-4) ** 2 for j in range(len(x)))) for i in range(4))


def branin(t):
    x1, x2 = t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)
    return (x2 - 5.1 / (4 * math.pi**2) * x1 * x1 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def goldstein(t):
    x, y = floats(t, 2, -2, 2)
    return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y)) * (
        30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y)
    )


def camel(t):
    x, y = t.suggest_float("x1", -3, 3), t.suggest_float("x2", -2, 2)
    return (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y


def levy(t):
    w = [1 + (x - 1) / 4 for x in floats(t, 4, -10, 10)]
    s = math.sin(math.pi * w[0]) ** 2 + sum((w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2) for i in range(3))
    return s + (w[3] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[3]) ** 2)


def ackley(t):
    x = floats(t, 5, -5, 10)
    return -20 * math.exp(-0.2 * math.sqrt(sum(v * v for v in x) / 5)) - math.exp(sum(math.cos(2 * math.pi * v) for v in x) / 5) + 20 + math.e


def rosenbrock(t):
    x = floats(t, 4, -2, 2)
    return math.log1p(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))


def lcfinal(t):
    lr = t.suggest_float("learning_rate", 1e-4, 1, log=True)
    h = t.suggest_int("num_hiddens", 16, 1024, log=True)
    d = t.suggest_float("dropout", 0, 0.6)
    b = t.suggest_int("batch_size", 16, 512)
    return 0.08 + 0.06 * (math.log10(lr) + 2) ** 2 + 0.01 * (math.log2(h) - 8) ** 2 + 0.3 * (d - 0.25) ** 2 + 0.02 * ((b - 96) / 100) ** 2


# The learning-curve problem's optimum is computed by search-problems.mjs (learningCurveOptimum).
PROBLEMS = {
    "branin": (branin, 0.397887),
    "hartmann6": (lambda t: hartmann(floats(t, 6, 0, 1), H6_A, H6_P), -3.32237),
    "goldstein": (goldstein, 3),
    "camel": (camel, -1.0316285),
    "hartmann3": (lambda t: hartmann(floats(t, 3, 0, 1), H3_A, H3_P), -3.86278),
    "styblinski4": (lambda t: sum(0.5 * (x**4 - 16 * x * x + 5 * x) for x in floats(t, 4, -5, 5)), -39.16617 * 4),
    "levy4": (levy, 0),
    "ackley5": (ackley, 0),
    "rosenbrock4": (rosenbrock, 0),
    "lcfinal": (lcfinal, 0.0800959339999582),
}


def main():
    seeds = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 100
    out = {"optuna": optuna.__version__, "seeds": seeds, "tpe": {}, "tpe-multivariate": {}}
    for key, (f, optimum) in PROBLEMS.items():
        for mv in (False, True):
            r50, r100 = [], []
            for seed in range(seeds):
                study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, multivariate=mv))
                study.optimize(f, n_trials=100)
                values = [t.value for t in study.trials]
                r50.append(min(values[:50]) - optimum)
                r100.append(min(values) - optimum)
            name = "tpe-multivariate" if mv else "tpe"
            out[name][key] = [statistics.median(r50), statistics.median(r100)]
            print(key, name, out[name][key], flush=True)
    Path(__file__).with_name("optuna-suite.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
