#!/usr/bin/env python3
"""The peer of `hpo run` for native-bench/study-compare.mjs: what a user picks instead of
tfjs-hpo. Optuna (random search) + PyTorch, one OS process per worker, one thread each,
all workers sharing one Optuna storage, each calling study.optimize until the shared
budget is reached.

    python3 optuna_study.py launch --storage DIR_OR_URL --study NAME --model mlp --space SPACE.json
        --trials 20 --epochs 4 --batch 256 --workers 2 --seed 1 [--train-subset K] [--data-dir D]

`launch` imports neither torch nor optuna. It runs `create` (one process: the study in a
fresh storage) and then `workers` processes of `worker`, reaps each with wait4 for its
peak RSS, runs `summary`, and prints one JSON line: wall seconds of create + workers,
each worker's max RSS, the trials trained and the best validation error.

--configs FILE enqueues given configurations (a list of param dicts) so that both sides train
the same ones; the workers then take them in order instead of sampling.

Storage: a directory gets Optuna's JournalFileStorage (its file-based storage for several
processes) in DIR/journal.log; an sqlite:/// URL gets RDBStorage.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torchref  # noqa: E402  (imports nothing heavy at module level)


def args_parser():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['launch', 'create', 'worker', 'summary'])
    p.add_argument('--storage', required=True)
    p.add_argument('--study', required=True)
    p.add_argument('--model', required=True, choices=['softmax', 'mlp', 'lenet'])
    p.add_argument('--space', required=True, help="tfjs-hpo's search-space JSON (the same file `hpo run --space` reads)")
    p.add_argument('--trials', type=int, required=True)
    p.add_argument('--epochs', type=int, required=True)
    p.add_argument('--batch', type=int, required=True)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--worker-index', type=int, default=0)
    p.add_argument('--train-subset', type=int)
    p.add_argument('--data-dir', default=torchref.DATA_DIR)
    p.add_argument('--configs', help='JSON file: a list of param dicts, enqueued in order (study.enqueue_trial) instead of sampling')
    return p


def storage(url):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)
    if url.startswith('sqlite:') or '://' in url:
        return optuna.storages.RDBStorage(url)
    os.makedirs(url, exist_ok=True)
    return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(os.path.join(url, 'journal.log')))


def read_space(path):
    """tfjs-hpo's space JSON: {name: {type, low, high, log?, choices?}} or the short string
    forms "loguniform(a, b)", "uniform(a, b)", "int(a, b[, log])"."""
    with open(path) as f:
        raw = json.load(f)
    space = {}
    for name, d in raw.items():
        if isinstance(d, str):
            kind, body = d.split('(', 1)
            parts = [x.strip() for x in body.rstrip(') ').split(',')]
            d = {'type': kind.strip(), 'low': float(parts[0]), 'high': float(parts[1]), 'log': len(parts) > 2 and parts[2] == 'log'}
        space[name] = d
    return space


def suggest(trial, space):
    params = {}
    for name, d in space.items():
        t = d['type']
        if t == 'loguniform':
            params[name] = trial.suggest_float(name, d['low'], d['high'], log=True)
        elif t == 'uniform':
            params[name] = trial.suggest_float(name, d['low'], d['high'], log=bool(d.get('log')))
        elif t == 'int':
            params[name] = trial.suggest_int(name, int(d['low']), int(d['high']), log=bool(d.get('log')))
        elif t == 'categorical':
            params[name] = trial.suggest_categorical(name, d['choices'])
        else:
            raise SystemExit(f'search space: parameter {name!r}: type {t!r} not supported by the peer')
    return params


def create(a):
    import optuna
    study = optuna.create_study(study_name=a.study, storage=storage(a.storage), direction='minimize')
    if a.configs:
        with open(a.configs) as f:
            for params in json.load(f)[:a.trials]:
                study.enqueue_trial(params)


def worker(a):
    torchref.set_single_thread_env(1)
    import optuna
    import torch
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, Y, Xt, Yt = torchref.load_fashion(a.data_dir, a.train_subset)
    space = read_space(a.space)
    # Each process gets its own sampler seed: the same seed in every worker would make them
    # propose the same configurations.
    sampler = optuna.samplers.RandomSampler(seed=a.seed * 1000 + a.worker_index)
    study = optuna.load_study(study_name=a.study, storage=storage(a.storage), sampler=sampler, pruner=optuna.pruners.NopPruner())

    def objective(trial):
        # Trial numbers are handed out by the storage in order, so numbers below the budget
        # are exactly `trials` trials; a worker that races past it stops without training.
        if trial.number >= a.trials:
            study.stop()
            raise optuna.TrialPruned('budget reached')
        p = suggest(trial, space)
        torch.manual_seed(a.seed * 100003 + trial.number)
        model = torchref.make_model(a.model, int(p.get('num_hiddens', 256)), float(p.get('dropout', 0.0)))
        run = torchref.SgdEpochs(model, X, Y, int(p.get('batch_size', a.batch)), p['learning_rate'])
        err = float('nan')
        for epoch in range(a.epochs):
            run.epoch()
            err = run.error(Xt, Yt)
            trial.report(err, epoch + 1)
        return err

    # Every state but WAITING: enqueued configurations (--configs) wait in the study from
    # the start and must not count towards the budget before they run.
    TS = optuna.trial.TrialState
    counted = (TS.COMPLETE, TS.PRUNED, TS.FAIL, TS.RUNNING)
    study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(a.trials, states=counted)])


def summary(a):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=a.study, storage=storage(a.storage))
    done = [t for t in study.trials if t.number < a.trials and t.state == optuna.trial.TrialState.COMPLETE]
    print(json.dumps({
        'completed': len(done),
        'all': len(study.trials),
        'best': min((t.value for t in done), default=None),
        'trials': [{'number': t.number, 'params': t.params, 'value': t.value} for t in done],
    }))


def launch(a):
    me = [sys.executable, os.path.abspath(__file__)]
    rest = [x for x in sys.argv[2:]]
    env = dict(os.environ)
    for k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        env[k] = '1'

    def reap(procs):
        rss, codes = [], []
        for pr in procs:
            _, status, ru = os.wait4(pr.pid, 0)
            pr.returncode = os.waitstatus_to_exitcode(status)
            rss.append(ru.ru_maxrss)  # kB on Linux
            codes.append(pr.returncode)
        return rss, codes

    t0 = time.perf_counter()
    create_rss, codes = reap([subprocess.Popen(me + ['create'] + rest, env=env)])
    if codes[0] != 0:
        raise SystemExit(f'optuna_study.py create failed (exit {codes[0]})')
    t1 = time.perf_counter()
    procs = [subprocess.Popen(me + ['worker'] + rest + ['--worker-index', str(i)], env=env) for i in range(a.workers)]
    worker_rss, codes = reap(procs)
    t2 = time.perf_counter()
    if any(codes):
        raise SystemExit(f'optuna_study.py workers failed (exit codes {codes})')
    out = subprocess.run(me + ['summary'] + rest, env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
    s = json.loads(out.strip().splitlines()[-1])
    print(json.dumps({'wall_s': t2 - t0, 'create_s': t1 - t0, 'workers_s': t2 - t1, 'worker_maxrss_kb': worker_rss, 'create_maxrss_kb': create_rss[0], **s}))


if __name__ == '__main__':
    a = args_parser().parse_args()
    {'launch': launch, 'create': create, 'worker': worker, 'summary': summary}[a.mode](a)
