#!/usr/bin/env bash
# Usage: fetch.sh PICTOR_DIR
# Copies cassandra-all (version pinned in pom.xml) and all its runtime deps from
# Maven Central into $PICTOR_DIR/cassandra/lib. Idempotent: exits at once if the
# pinned cassandra-all jar is already there. The copy goes to a temp dir next to
# lib/ and is renamed into place, so an interrupted fetch never leaves a half lib.
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 PICTOR_DIR" >&2
  exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/pom.xml"
PICTOR_DIR="$1"
CASS_DIR="$PICTOR_DIR/cassandra"
LIB="$CASS_DIR/lib"

VERSION="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$POM" | head -n1)"
if [[ -z "$VERSION" ]]; then
  echo "fetch.sh: cannot read cassandra.version from $POM" >&2
  exit 1
fi
JAR="cassandra-all-$VERSION.jar"

[[ -f "$LIB/$JAR" ]] && exit 0

mkdir -p "$CASS_DIR"

# Serialise concurrent fetches into the same PICTOR_DIR.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CASS_DIR/.fetch.lock"
  flock 9
  [[ -f "$LIB/$JAR" ]] && exit 0   # another fetch finished while we waited
fi

command -v mvn >/dev/null 2>&1 || { echo "fetch.sh: mvn not found on PATH" >&2; exit 1; }

# Leftovers of a fetch that was SIGKILLed (never used as lib/, safe to drop).
rm -rf "$CASS_DIR"/.lib.tmp.* "$CASS_DIR"/.lib.old.*

TMP="$(mktemp -d "$CASS_DIR/.lib.tmp.XXXXXX")"
OLD=""
MVN_LOG="$CASS_DIR/.fetch.mvn.log"
cleanup() { rm -rf "$TMP" "$MVN_LOG"; [[ -n "$OLD" ]] && rm -rf "$OLD"; return 0; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "fetch.sh: fetching Cassandra $VERSION runtime jars from Maven Central into $LIB" >&2
# Output is kept quiet (Debian's mvn 3.8 prints stray ANSI resets even with -q -B)
# and shown only if maven fails.
if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
     -DoutputDirectory="$TMP" -DincludeScope=runtime >"$MVN_LOG" 2>&1; then
  cat "$MVN_LOG" >&2
  echo "fetch.sh: maven dependency:copy-dependencies failed" >&2
  exit 1
fi
rm -f "$MVN_LOG"

if [[ ! -f "$TMP/$JAR" ]]; then
  echo "fetch.sh: maven finished but $JAR is missing" >&2
  exit 1
fi

chmod 755 "$TMP"   # mktemp -d creates it 0700

# Swap into place. rename(2) is atomic; an older lib (other version) is moved aside first.
if [[ -e "$LIB" ]]; then
  OLD="$CASS_DIR/.lib.old.$$"
  mv -T "$LIB" "$OLD"
fi
mv -T "$TMP" "$LIB"
echo "fetch.sh: $(ls "$LIB" | wc -l) jars in $LIB" >&2
