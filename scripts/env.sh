# Sourced by scripts/test.sh and .ci/run: the build environment shared by every checkout.
#
# One target directory outside the clone, shared by local runs and CI.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hitkeep-target}"
# DuckDB's bundled C++ takes about 25 minutes on two cores and is rebuilt whenever cargo's
# fingerprint of its build script changes (a new `cc`, different features of a build
# dependency, dev versus release). A compiler cache keyed on the preprocessed source makes
# those rebuilds take a minute or two. The value must be the same in every run, since cargo
# reruns the build script when CC or CXX change.
if command -v ccache >/dev/null; then
  export CC="ccache cc" CXX="ccache c++"
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/hitkeep-ccache}" CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-4G}"
fi
