"""The PyTorch side of native-bench: Fashion-MNIST loading, the three built-in models as
tfjs-hpo defines them (src/training/models/*.ts), one epoch of minibatch SGD, test error,
and a description of the BLAS torch really loaded.

Import this module only after the thread environment is set (set_single_thread below does
it, and must run before `import torch` anywhere in the process): OpenBLAS reads
OPENBLAS_NUM_THREADS when it is loaded.
"""
import ctypes
import gzip
import os

DATA_DIR = '/usr/share/datasets/fashion-mnist'


def set_single_thread_env(threads=1):
    """Call before importing torch: every thread pool torch may use gets `threads` threads."""
    for k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[k] = str(threads)


def blas_info():
    """Which BLAS this process has mapped (read from /proc/self/maps after a matmul ran)."""
    import torch
    a = torch.ones(64, 64)
    (a @ a).sum().item()  # make sure the BLAS is loaded and used
    paths = []
    try:
        with open('/proc/self/maps') as f:
            for line in f:
                p = line.split()[-1]
                if p.startswith('/') and 'blas' in os.path.basename(p).lower() and p not in paths:
                    paths.append(p)
    except OSError:
        return {'name': 'unknown (no /proc/self/maps)', 'paths': [], 'threads': None}
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            cfg = lib.openblas_get_config
        except (OSError, AttributeError):
            continue
        cfg.restype = ctypes.c_char_p
        words = cfg().decode().split()
        name = ' '.join(words[:2]) if len(words) >= 2 else 'OpenBLAS'
        threads = lib.openblas_get_num_threads()
        variant = 'pthread' if 'openblas-pthread' in p else ('openmp' if 'openblas-openmp' in p else 'serial' if 'openblas-serial' in p else '')
        return {'name': f'{name}' + (f' ({variant})' if variant else ''), 'paths': paths, 'threads': threads}
    if any('libblas.so' in os.path.basename(p) for p in paths):
        return {'name': 'reference BLAS (netlib libblas3): NOT OpenBLAS', 'paths': paths, 'threads': 1}
    return {'name': 'none found (torch built-in kernels only)', 'paths': paths, 'threads': None}


def _idx(path, header):
    import numpy as np
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load_fashion(data_dir=DATA_DIR, train_subset=None):
    """Train and test sets as float32 tensors in [0, 1] ([n, 784]) and int64 labels."""
    import torch
    if not os.path.exists(os.path.join(data_dir, 'train-images-idx3-ubyte.gz')):
        raise SystemExit(f'Fashion-MNIST not found in {data_dir} (apt-get install dataset-fashion-mnist, or --data-dir)')
    out = []
    for split in ('train', 't10k'):
        x = torch.from_numpy(_idx(os.path.join(data_dir, f'{split}-images-idx3-ubyte.gz'), 16).copy()).view(-1, 784)
        y = torch.from_numpy(_idx(os.path.join(data_dir, f'{split}-labels-idx1-ubyte.gz'), 8).astype('int64'))
        if split == 'train' and train_subset:
            x, y = x[:train_subset], y[:train_subset]
        out += [x.float().div_(255), y]
    return tuple(out)


def make_model(name, hidden=256, dropout=0.0):
    """tfjs-hpo's built-in models. softmax and mlp: PyTorch's default Linear init, which is
    what ours uses (U(+-1/sqrt(fan_in)) for weights and biases). lenet: d2l's LeNet with
    Xavier-uniform weights (d2l's init_cnn) and default biases, as ours."""
    from torch import nn
    if name == 'softmax':
        return nn.Linear(784, 10)
    if name == 'mlp':
        layers = [nn.Linear(784, hidden), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        return nn.Sequential(*layers, nn.Linear(hidden, 10))
    if name == 'lenet':
        net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
            nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)
        return net
    raise SystemExit(f'unknown model {name!r} (softmax, mlp, lenet)')


class SgdEpochs:
    """Plain minibatch SGD on preloaded tensors: per epoch one permutation, batches by
    index_select (the last batch may be short, as ours), mean cross-entropy, torch.optim.SGD
    without momentum or weight decay (ours: W <- W - lr * mean gradient)."""

    def __init__(self, model, X, Y, batch, lr):
        import torch
        self.torch = torch
        self.model, self.X, self.Y, self.B = model, X, Y, batch
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        self.loss = torch.nn.CrossEntropyLoss()

    def epoch(self):
        self.model.train()
        n, B = self.X.shape[0], self.B
        perm = self.torch.randperm(n)
        for s in range(0, n, B):
            idx = perm[s:s + B]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(self.X.index_select(0, idx)), self.Y.index_select(0, idx)).backward()
            self.opt.step()

    def error(self, Xt, Yt, chunk=5000):
        """Test misclassification rate (dropout off), in chunks of 5000 rows as ours."""
        self.model.eval()
        wrong = 0
        with self.torch.no_grad():
            for s in range(0, Xt.shape[0], chunk):
                wrong += (self.model(Xt[s:s + chunk]).argmax(1) != Yt[s:s + chunk]).sum().item()
        return wrong / Xt.shape[0]
