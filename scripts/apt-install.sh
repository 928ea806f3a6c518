# Sourced by scripts/ensure-*.sh: installs Debian packages with apt-get, as root or through sudo.
#
#   apt_install NAME "WHAT TO DO BY HAND" "PURPOSE" [--no-install-recommends] PACKAGE...
#
# Prints what it installs and for what; on failure the tail of its log (/tmp/ensure-NAME.log) and how to
# install by hand, and returns 1.
apt_install() {
  local name=$1 by_hand=$2 purpose=$3 sudo=""
  shift 3
  local log=/tmp/ensure-$name.log packages="" arg
  for arg in "$@"; do
    case $arg in -*) ;; *) packages="${packages:+$packages }$arg" ;; esac  # the names, not apt's options
  done
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name is missing and apt-get is not available: $by_hand" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "$name is missing; run as root: apt-get install -y $packages" >&2
      return 1
    fi
  fi
  echo "installing Debian's $packages (apt-get) for $purpose"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; } \
       >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "could not install $packages with apt-get (log: $log); $by_hand" >&2
    return 1
  fi
}
