# tfjs-hpo's kernels addon, built by scripts/install-native.mjs after tfjs-node is ready
# (it links the libtensorflow in tfjs-node's deps/). `tf_dir` is that package's folder.
{
  'variables': { 'tf_dir%': '' },
  'targets': [{
    'target_name': 'hpo_kernels',
    'sources': ['hpo_kernels.cc', 'gemm.cc'],
    'include_dirs': ['<(tf_dir)/deps/include'],
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-fno-exceptions', '-std=gnu++14', '-std=gnu++17'],
    'cflags_cc': ['-std=c++17', '-O3', '-fno-math-errno'],
    'defines': ['NAPI_VERSION=8'],
    'conditions': [
      ['OS=="linux"', {
        'libraries': ['-L<(tf_dir)/deps/lib', '-ltensorflow', '-Wl,-rpath,<(tf_dir)/deps/lib'],
      }],
      ['OS=="mac"', {
        'libraries': ['-L<(tf_dir)/deps/lib', '-ltensorflow', '-Wl,-rpath,<(tf_dir)/deps/lib'],
        'xcode_settings': { 'CLANG_CXX_LANGUAGE_STANDARD': 'c++17', 'GCC_OPTIMIZATION_LEVEL': '3' },
      }],
    ],
  }],
}
