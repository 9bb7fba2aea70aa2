#!/usr/bin/env bash
# Build, without any container registry, the Docker images the test-suite uses:
#
#   compartment-test/busybox:1     FROM scratch + Debian's static busybox and its applet links
#   compartment-test/debian:12     debootstrap --variant=minbase bookworm (+ python3)
#   compartment-test/postgres:16   FROM compartment-test/debian:12 + Debian's PostgreSQL 15,
#                                  with an entrypoint that mimics the official postgres image
#   postgres:16-alpine             extra tag of compartment-test/postgres:16 (what `preset: postgres` uses)
#
# Everything comes from the Debian package mirror apt is configured with; nothing is pulled.
# Idempotent: an image whose tag already exists is skipped unless --force is given.
# See docs/test-images.md.
#
# Usage: bash scripts/build-test-images.sh [--force] [--help]
# Env:   COMPARTMENT_DEBIAN_MIRROR   override the mirror (default: the one in apt's sources)
#        COMPARTMENT_DEBIAN_SECURITY override the security mirror (default: from apt's sources, if any)
set -Eeuo pipefail

export DEBIAN_FRONTEND=noninteractive
export DOCKER_BUILDKIT=0 # the classic builder uses local base images and never tries to pull

SUITE=bookworm
BUSYBOX_IMAGE=compartment-test/busybox:1
DEBIAN_IMAGE=compartment-test/debian:12
POSTGRES_IMAGE=compartment-test/postgres:16
POSTGRES_ALIASES=(postgres:16-alpine)

FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force | -f) FORCE=1 ;;
    --help | -h)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "build-test-images: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

log() { printf '[build-test-images] %s\n' "$*" >&2; }
die() {
  printf '[build-test-images] ERROR: %s\n' "$*" >&2
  exit 1
}

CURRENT_STEP="startup"
ERROR_REPORTED=0
on_error() {
  local rc=$?
  [ "$ERROR_REPORTED" = 0 ] || return 0
  ERROR_REPORTED=1
  printf '[build-test-images] ERROR: failed while %s (exit %s, line %s)\n' "$CURRENT_STEP" "$rc" "${BASH_LINENO[0]}" >&2
}
trap on_error ERR

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and apt-get need it)"
command -v docker >/dev/null 2>&1 || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "no Docker engine answers ('docker info' fails)"

WORKDIR=$(mktemp -d /tmp/compartment-test-images.XXXXXX)
cleanup() {
  # debootstrap may leave /proc, /sys, ... mounted inside the target if it dies midway.
  local m
  if [ -r /proc/mounts ]; then
    awk -v d="$WORKDIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
  fi
  rm -rf --one-file-system "$WORKDIR"
}
trap cleanup EXIT

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Installs Debian packages if the given commands are missing.
APT_UPDATED=0
ensure_pkg() { # ensure_pkg <command-path> <package>
  local cmd=$1 pkg=$2
  if [ -x "$cmd" ] || command -v "$cmd" >/dev/null 2>&1; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is unavailable; install package $pkg"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq </dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $pkg"
  apt-get install -y -qq --no-install-recommends "$pkg" </dev/null >/dev/null || die "apt-get install $pkg failed"
}

# Prints the first URI of an apt source (one-line or deb822 format) whose suites match.
# $1 = awk regex the suite must match.
apt_source_uri() {
  local want=$1 f
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ "${#files[@]}" -gt 0 ] || return 0
  for f in "${files[@]}"; do
    case "$f" in
      *.sources)
        awk -v want="$want" '
          function flush() {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/ && uris != "") {
              n = split(suites, s, /[ \t]+/)
              for (i = 1; i <= n; i++) if (s[i] ~ want) { split(uris, u, /[ \t]+/); print u[1]; found = 1; exit }
            }
            types = ""; uris = ""; suites = ""; enabled = ""
          }
          /^[ \t]*#/ { next }
          /^[ \t]*$/ { flush(); next }
          { key = tolower($1); sub(/^[^:]*:[ \t]*/, "") }
          key == "types:" { types = $0 } key == "uris:" { uris = $0 }
          key == "suites:" { suites = $0 } key == "enabled:" { enabled = $0 }
          END { if (!found) flush() }' "$f"
        ;;
      *)
        awk -v want="$want" '
          $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if ($(i + 1) ~ want) { print $i; exit }
          }' "$f"
        ;;
    esac
  done | awk 'NR == 1' # (not head: it would SIGPIPE the loop under pipefail)
}

MIRROR=${COMPARTMENT_DEBIAN_MIRROR:-$(apt_source_uri '^[a-z]+$')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${COMPARTMENT_DEBIAN_SECURITY:-$(apt_source_uri '^[a-z]+[-/]security$')}
SECURITY_MIRROR=${SECURITY_MIRROR%/}

TOTAL_START=$SECONDS

# ---------------------------------------------------------------- busybox
build_busybox() {
  CURRENT_STEP="building $BUSYBOX_IMAGE"
  local bb=/bin/busybox
  # Debian's `busybox` (dynamic) and `busybox-static` conflict; we need the static one.
  if [ ! -x "$bb" ] || ! is_static "$bb"; then
    ensure_pkg /nonexistent/busybox-static busybox-static
  fi
  is_static "$bb" || die "$bb is not statically linked (install busybox-static)"
  local root=$WORKDIR/busybox-rootfs
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var/www,home,dev,proc,sys}
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  local applet
  # --list-full prints paths like usr/bin/[ ; link each applet to /bin/busybox.
  "$root/bin/busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sf /bin/busybox "$root/$applet"
  done
  [ -e "$root/bin/sh" ] || ln -s /bin/busybox "$root/bin/sh"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
EOF
  local version
  version=$("$root/bin/busybox" --help 2>&1 || true)
  version=$(printf '%s\n' "$version" | awk 'NR == 1 { print $2 }')
  tar --numeric-owner -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/sh"]' \
    -c "LABEL org.opencontainers.image.title=compartment-test-busybox busybox.version=$version" \
    -m "compartment test image: static busybox $version from Debian" \
    - "$BUSYBOX_IMAGE" >/dev/null
}

is_static() { # a static executable makes ldd fail ("not a dynamic executable")
  ! ldd "$1" >/dev/null 2>&1
}

# ---------------------------------------------------------------- debian
build_debian() {
  CURRENT_STEP="building $DEBIAN_IMAGE (debootstrap from $MIRROR)"
  ensure_pkg /usr/sbin/debootstrap debootstrap
  local root=$WORKDIR/debian-rootfs
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  local keyopt=()
  if [ -f "$keyring" ]; then keyopt=(--keyring="$keyring"); else keyopt=(--no-check-gpg); fi
  log "debootstrap --variant=minbase --include=python3 $SUITE from $MIRROR (takes a minute or two)"
  local dblog=$WORKDIR/debootstrap.log
  if ! /usr/sbin/debootstrap --variant=minbase --include=python3 "${keyopt[@]}" \
    "$SUITE" "$root" "$MIRROR" </dev/null >"$dblog" 2>&1; then
    tail -n 30 "$dblog" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed (mirror $MIRROR)"
  fi

  # apt sources: the same mirror the host uses.
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [ -n "$SECURITY_MIRROR" ] && echo "deb $SECURITY_MIRROR $SUITE-security main"
  } >"$root/etc/apt/sources.list"

  # Keep images small, like debian:*-slim: no docs, man pages, translations.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Install-Recommends "false";
Acquire::Languages "none";
EOF
  echo 'compartment-test' >"$root/etc/hostname"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/debootstrap \
    "$root"/usr/share/doc/*/changelog* "$root"/usr/share/man/* "$root"/usr/share/info/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  # Docker provides /dev, /proc, /sys at run time; device nodes only get in the way.
  find "$root/dev" -mindepth 1 -delete 2>/dev/null || true
  : >"$root/etc/resolv.conf"

  CURRENT_STEP="importing $DEBIAN_IMAGE"
  tar --numeric-owner --xattrs -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["bash"]' \
    -c "LABEL org.opencontainers.image.title=compartment-test-debian debian.mirror=$MIRROR" \
    -m "compartment test image: debootstrap --variant=minbase $SUITE + python3" \
    - "$DEBIAN_IMAGE" >/dev/null
}

# ---------------------------------------------------------------- postgres
build_postgres() {
  CURRENT_STEP="building $POSTGRES_IMAGE"
  image_exists "$DEBIAN_IMAGE" || die "$DEBIAN_IMAGE is missing (needed as base of $POSTGRES_IMAGE)"
  local ctx=$WORKDIR/postgres-context
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
ENV PG_MAJOR=15
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV PGDATA=/var/lib/postgresql/data
RUN set -eux; \\
    export DEBIAN_FRONTEND=noninteractive; \\
    apt-get update; \\
    apt-get install -y --no-install-recommends postgresql-common; \\
    sed -ri 's/#?(create_main_cluster) .*\$/\\1 = false/' /etc/postgresql-common/createcluster.conf; \\
    apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15; \\
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/*.log; \\
    test -x /usr/lib/postgresql/15/bin/postgres; \\
    mkdir -p /var/run/postgresql /docker-entrypoint-initdb.d "\$PGDATA"; \\
    chown -R postgres:postgres /var/run/postgresql "\$PGDATA"; \\
    chmod 3777 /var/run/postgresql; \\
    chmod 1777 "\$PGDATA"; \\
    postgres --version; psql --version; pg_dump --version
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
LABEL org.opencontainers.image.title=compartment-test-postgres
EOF
  cat >"$ctx/docker-entrypoint.sh" <<'ENTRYPOINT_EOF'
#!/usr/bin/env bash
# Minimal imitation of the official postgres image's entrypoint (compartment test image).
#  - first argument not `postgres` (and not an option): exec the command as given;
#  - otherwise: prepare $PGDATA (chown an empty, root-owned named volume), initdb on first
#    start with POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, password auth for TCP clients,
#    then exec postgres in the foreground as the postgres user, listening on *:5432.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
if [ "$1" != 'postgres' ]; then
  exec "$@"
fi

# VAR_FILE support, like the official image (e.g. POSTGRES_PASSWORD_FILE=/run/secrets/pw).
file_env() {
  local var=$1 fileVar="${1}_FILE" def=${2:-}
  if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
    echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
    exit 1
  fi
  local val=$def
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!fileVar:-}" ]; then
    val=$(<"${!fileVar}")
  fi
  export "$var"="$val"
  unset "$fileVar"
}

export PGDATA=${PGDATA:-/var/lib/postgresql/data}

if [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA"
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  mkdir -p /var/run/postgresql
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (Or set POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password.)
EOM
    exit 1
  fi

  echo "initializing database cluster in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host="$auth" -D "$PGDATA" $POSTGRES_INITDB_ARGS
  rm -f "$pwfile"
  {
    echo
    echo "# added by docker-entrypoint.sh: password auth for TCP clients from anywhere"
    echo "host all all 0.0.0.0/0 $auth"
    echo "host all all ::/0 $auth"
  } >>"$PGDATA/pg_hba.conf"
  {
    echo
    echo "listen_addresses = '*'"
    echo "port = 5432"
  } >>"$PGDATA/postgresql.conf"

  # Temporary server on the unix socket only, to create the database and run init scripts.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != postgres ]; then
    exists=$("${psql[@]}" --dbname postgres -tA -v db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "$exists" ]; then
      "${psql[@]}" --dbname postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        echo "running $f"
        if [ -x "$f" ]; then "$f"; else . "$f"; fi
        ;;
      *.sql)
        echo "running $f"
        "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f"
        ;;
      *.sql.gz)
        echo "running $f"
        gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB"
        ;;
      *) [ -e "$f" ] && echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset POSTGRES_PASSWORD
  echo
  echo 'PostgreSQL init process complete; ready for start up.'
  echo
fi

exec "$@"
ENTRYPOINT_EOF
  log "docker build $POSTGRES_IMAGE (apt-get install postgresql-15 inside $DEBIAN_IMAGE)"
  local blog=$WORKDIR/postgres-build.log
  if ! docker build --network host --force-rm -t "$POSTGRES_IMAGE" "$ctx" </dev/null >"$blog" 2>&1; then
    tail -n 40 "$blog" >&2
    die "docker build of $POSTGRES_IMAGE failed"
  fi
}

# ---------------------------------------------------------------- driver
built_any=0
step() { # step <image> <function>
  local image=$1 fn=$2 start
  if [ "$FORCE" = 0 ] && image_exists "$image"; then
    log "$image: exists, skipping (use --force to rebuild)"
    return 0
  fi
  log "$image: building"
  start=$SECONDS
  "$fn"
  built_any=1
  log "$image: built in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1000000}'))"
}

log "Debian mirror: $MIRROR${SECURITY_MIRROR:+ (security: $SECURITY_MIRROR)}"
step "$BUSYBOX_IMAGE" build_busybox
step "$DEBIAN_IMAGE" build_debian
step "$POSTGRES_IMAGE" build_postgres

CURRENT_STEP="tagging aliases"
for alias in "${POSTGRES_ALIASES[@]}"; do
  if [ "$FORCE" = 1 ] || [ "$built_any" = 1 ] || ! image_exists "$alias" ||
    [ "$(docker image inspect -f '{{.Id}}' "$alias")" != "$(docker image inspect -f '{{.Id}}' "$POSTGRES_IMAGE")" ]; then
    log "tagging $POSTGRES_IMAGE as $alias"
    docker tag "$POSTGRES_IMAGE" "$alias"
  fi
done

CURRENT_STEP="smoke-testing"
[ "$(docker run --rm --network none "$BUSYBOX_IMAGE" sh -c 'echo ok')" = ok ] ||
  die "$BUSYBOX_IMAGE does not run"
log "done in $((SECONDS - TOTAL_START))s:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' |
  grep -E "compartment-test/|postgres:16-alpine" >&2 || true
