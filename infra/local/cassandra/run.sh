#!/usr/bin/env bash
# Usage: run.sh PICTOR_DIR
# Renders cassandra.yaml + logback.xml into $PICTOR_DIR/cassandra/conf and execs
# Cassandra 5.0 (CassandraDaemon) in the FOREGROUND on Java 17, so the caller's pid
# is java's. Needs fetch.sh to have populated $PICTOR_DIR/cassandra/lib.
# Env overrides:
#   CASSANDRA_NATIVE_PORT     CQL port                        (default 9042)
#   CASSANDRA_STORAGE_PORT    internode port, loopback only   (default 7000)
#   CASSANDRA_LISTEN_ADDRESS  listen/rpc address              (default 127.0.0.1)
#   CASSANDRA_NODE_DIR        this node's conf and data       (default $PICTOR_DIR/cassandra)
#   CASSANDRA_LOG_DIR         this node's cassandra.log       (default $PICTOR_DIR/logs)
#   CASSANDRA_SEEDS           host:port,... of the ring's seeds (default the node itself)
#   CASSANDRA_NUM_TOKENS      token ranges per node, fixed at first start (default 16)
#   CASSANDRA_PAXOS_VARIANT   v1 or v2, lightweight transactions' protocol (default v1)
#   CASSANDRA_HINTED_HANDOFF  true or false, hints for a node that is down (default false)
#   CASSANDRA_HEAP            max heap, -Xmx                  (default 1G)
#   CASSANDRA_HEAP_MIN        initial heap, -Xms              (default 256M)
#   CASSANDRA_JMX_PORT        local-only JMX port; unset/empty = JMX off (default off)
#   CASSANDRA_JVM_EXTRA_OPTS  extra JVM flags, word-split     (default none)
#   JAVA_HOME                 java to use (default: java on PATH)
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
  echo "usage: $0 PICTOR_DIR" >&2
  exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
PICTOR_DIR="$(cd "$1" && pwd)"
# The jars are shared by every node; a ring's nodes each keep their own conf and data.
LIB="$PICTOR_DIR/cassandra/lib"
CASS_DIR="${CASSANDRA_NODE_DIR:-$PICTOR_DIR/cassandra}"
CONF="$CASS_DIR/conf"
LOGS="${CASSANDRA_LOG_DIR:-$PICTOR_DIR/logs}"

NATIVE_PORT="${CASSANDRA_NATIVE_PORT:-9042}"
STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-7000}"
LISTEN_ADDR="${CASSANDRA_LISTEN_ADDRESS:-127.0.0.1}"
SEEDS="${CASSANDRA_SEEDS:-$LISTEN_ADDR:$STORAGE_PORT}"
NUM_TOKENS="${CASSANDRA_NUM_TOKENS:-16}"
PAXOS_VARIANT="${CASSANDRA_PAXOS_VARIANT:-v1}"
HINTED_HANDOFF="${CASSANDRA_HINTED_HANDOFF:-false}"
HEAP="${CASSANDRA_HEAP:-1G}"
HEAP_MIN="${CASSANDRA_HEAP_MIN:-256M}"
JMX_PORT="${CASSANDRA_JMX_PORT:-}"

for p in "$NATIVE_PORT" "$STORAGE_PORT" ${JMX_PORT:+"$JMX_PORT"}; do
  [[ "$p" =~ ^[0-9]+$ ]] || { echo "run.sh: bad port '$p'" >&2; exit 2; }
done
[[ "$NUM_TOKENS" =~ ^[0-9]+$ ]] || { echo "run.sh: bad CASSANDRA_NUM_TOKENS '$NUM_TOKENS'" >&2; exit 2; }
[[ "$PAXOS_VARIANT" =~ ^v[12]$ ]] || { echo "run.sh: bad CASSANDRA_PAXOS_VARIANT '$PAXOS_VARIANT'" >&2; exit 2; }
[[ "$HINTED_HANDOFF" =~ ^(true|false)$ ]] || { echo "run.sh: bad CASSANDRA_HINTED_HANDOFF '$HINTED_HANDOFF'" >&2; exit 2; }

shopt -s nullglob
alljars=("$LIB"/cassandra-all-*.jar)
jamm=("$LIB"/jamm-*.jar)
shopt -u nullglob
if [[ ${#alljars[@]} -eq 0 ]]; then
  echo "run.sh: no cassandra-all jar in $LIB; run fetch.sh $PICTOR_DIR first" >&2
  exit 1
fi

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi

mkdir -p "$CONF" "$LOGS" \
  "$CASS_DIR/data" "$CASS_DIR/commitlog" "$CASS_DIR/saved_caches" "$CASS_DIR/hints" "$CASS_DIR/cdc_raw" "$CASS_DIR/triggers"

# Render config (tmp + rename so a reader never sees a partial file).
sed -e "s|@DATA_DIR@|$CASS_DIR|g" \
    -e "s|@NATIVE_PORT@|$NATIVE_PORT|g" \
    -e "s|@STORAGE_PORT@|$STORAGE_PORT|g" \
    -e "s|@LISTEN_ADDR@|$LISTEN_ADDR|g" \
    -e "s|@SEEDS@|$SEEDS|g" \
    -e "s|@NUM_TOKENS@|$NUM_TOKENS|g" \
    -e "s|@PAXOS_VARIANT@|$PAXOS_VARIANT|g" \
    -e "s|@HINTED_HANDOFF@|$HINTED_HANDOFF|g" \
    "$HERE/cassandra.yaml" > "$CONF/cassandra.yaml.tmp"
mv -f "$CONF/cassandra.yaml.tmp" "$CONF/cassandra.yaml"
cp -f "$HERE/logback.xml" "$CONF/logback.xml.tmp"
mv -f "$CONF/logback.xml.tmp" "$CONF/logback.xml"

JVM_OPTS=(
  -Xms"$HEAP_MIN" -Xmx"$HEAP" -Xss256k
  # GC: G1 as in conf/jvm17-server.options, minus G1HeapRegionSize=16m (too coarse for a 1G heap)
  -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
  -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300
  -XX:+ExitOnOutOfMemoryError -XX:+PerfDisableSharedMem
  -XX:ErrorFile="$LOGS/hs_err_%p.log"
  -Djava.net.preferIPv4Stack=true
  -Djdk.nio.maxCachedBufferSize=1048576
  # JPMS: verbatim from Cassandra 5.0 conf/jvm17-server.options
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  # Netty, as in jvm17-server.options
  -Dio.netty.tryReflectionSetAccessible=true
  -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
  # Cassandra
  -Dcassandra.config="file://$CONF/cassandra.yaml"
  -Dcassandra-foreground=yes
  -Dcassandra.storagedir="$CASS_DIR"
  -Dcassandra.logdir="$LOGS"
  -Dlogback.configurationFile="file://$CONF/logback.xml"
  -Dcassandra.skip_wait_for_gossip_to_settle=0
  -Dcassandra.superuser_setup_delay_ms=0
  -Dcassandra.shutdown_announce_in_ms=0
  -Dcassandra.triggers_dir="$CASS_DIR/triggers"
)
if [[ ${#jamm[@]} -gt 0 ]]; then
  JVM_OPTS+=(-javaagent:"${jamm[0]}")
fi
if [[ -n "$JMX_PORT" ]]; then
  JVM_OPTS+=(-Dcassandra.jmx.local.port="$JMX_PORT" -Djava.rmi.server.hostname=127.0.0.1)
fi
if [[ -n "${CASSANDRA_JVM_EXTRA_OPTS:-}" ]]; then
  # shellcheck disable=SC2206
  JVM_OPTS+=(${CASSANDRA_JVM_EXTRA_OPTS})
fi

cd "$CASS_DIR"
exec "$JAVA" "${JVM_OPTS[@]}" -cp "$CONF:$LIB/*" org.apache.cassandra.service.CassandraDaemon
