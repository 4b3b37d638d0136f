#!/bin/bash
# Entrypoint of rrun's offline stand-in for the official `mysql` image: the
# server is Debian's MariaDB, the behaviour is the official image's as far as
# Docker's getting-started walkthrough relies on it.
#
# On the first start (no `mysql` system database in the data directory) it
# initialises the data directory (mariadb-install-db), starts a temporary
# server on the socket only, and applies
#   MYSQL_ROOT_PASSWORD | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD
#                        (one is required; root@localhost and root@MYSQL_ROOT_HOST,
#                        default '%', get the password)
#   MYSQL_DATABASE       created
#   MYSQL_USER, MYSQL_PASSWORD   a user with all rights on MYSQL_DATABASE
#   MYSQL_ONETIME_PASSWORD       root's password expires after the first login
# each also as VAR_FILE (the value read from that file), then runs
# /docker-entrypoint-initdb.d/*.sh (executable: run; otherwise sourced),
# *.sql and *.sql.gz in name order, in MYSQL_DATABASE when given. Later
# starts use the data they find. In both cases the server then replaces this
# script (pid 1 stays the server) as user mysql, listening on 0.0.0.0:3306.
set -eo pipefail
shopt -s nullglob

log() { printf '%s [Note] [Entrypoint]: %b\n' "$(date --rfc-3339=seconds)" "$*"; }
warn() { printf '%s [Warn] [Entrypoint]: %b\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
die() {
    printf '%s [ERROR] [Entrypoint]: %b\n' "$(date --rfc-3339=seconds)" "$*" >&2
    exit 1
}

# file_env VAR [DEFAULT]: sets VAR from $VAR or from the file named by
# $VAR_FILE (both set is an error), and unsets VAR_FILE.
file_env() {
    local var=$1 file_var=${1}_FILE def=${2:-} val
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        die "both $var and $file_var are set (but are exclusive)"
    fi
    val=$def
    if [ -n "${!var:-}" ]; then
        val=${!var}
    elif [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || die "$file_var: cannot read ${!file_var}"
        val=$(<"${!file_var}")
    fi
    export "$var"="$val"
    unset "$file_var"
}

# sql_string TEXT: TEXT as the inside of a single-quoted SQL string literal.
sql_string() {
    local s=${1//\\/\\\\}
    printf '%s' "${s//\'/\\\'}"
}

# server_option NAME SERVER_ARGS...: the value the server would use for
# option NAME with these arguments and its configuration files.
server_option() {
    local name=$1; shift
    "$@" --verbose --help 2>/dev/null | awk -v n="$name" '$1 == n && NF == 2 { print $2; exit }'
}

# The client, as root over the temporary server's socket; the password (once
# set) comes from a private option file, never from the command line.
client_cnf=''
mysql_client() {
    local extra=()
    [ -n "$client_cnf" ] && extra=(--defaults-extra-file="$client_cnf")
    mariadb "${extra[@]}" --protocol=socket -uroot -hlocalhost --socket="$SOCKET" --comments "$@"
}
# docker_process_sql [ARGS...]: runs the SQL on stdin, in MYSQL_DATABASE
# once it exists (the name the official image gives it, for sourced scripts;
# --no-database first to run outside it).
# shellcheck disable=SC2120
docker_process_sql() {
    local db=()
    [ -n "${MYSQL_DATABASE:-}" ] && [ "${1:-}" != --no-database ] && db=(--database="$MYSQL_DATABASE")
    [ "${1:-}" = --no-database ] && shift
    mysql_client "${db[@]}" "$@"
}

check_env() {
    file_env MYSQL_ROOT_PASSWORD
    file_env MYSQL_ALLOW_EMPTY_PASSWORD
    file_env MYSQL_RANDOM_ROOT_PASSWORD
    file_env MYSQL_ROOT_HOST '%'
    file_env MYSQL_DATABASE
    file_env MYSQL_USER
    file_env MYSQL_PASSWORD
    file_env MYSQL_ONETIME_PASSWORD
    if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        die 'Database is uninitialized and password option is not specified\n\tYou need to specify one of the following as an environment variable:\n\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD'
    fi
    if [ "$MYSQL_USER" = root ]; then
        die 'MYSQL_USER="root", MYSQL_USER and MYSQL_PASSWORD are for configuring a regular user and cannot be used for the root user\n\tRemove MYSQL_USER="root" and use one of the following to control the root user password:\n\t- MYSQL_ROOT_PASSWORD\n\t- MYSQL_ALLOW_EMPTY_PASSWORD\n\t- MYSQL_RANDOM_ROOT_PASSWORD'
    fi
    if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then
        warn 'MYSQL_USER specified, but missing MYSQL_PASSWORD; MYSQL_USER will not be created'
    elif [ -z "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        warn 'MYSQL_PASSWORD specified, but missing MYSQL_USER; MYSQL_PASSWORD will be ignored'
    fi
}

start_temp_server() {
    "$@" --skip-networking --socket="$SOCKET" --skip-log-bin \
        --loose-innodb-buffer-pool-load-at-startup=0 --loose-innodb-buffer-pool-dump-at-shutdown=0 &
    temp_pid=$!
    for _ in $(seq 120); do
        if mysql_client -e 'SELECT 1' >/dev/null 2>&1; then return 0; fi
        kill -0 "$temp_pid" 2>/dev/null || die 'the temporary server exited during initialisation (its log is above)'
        sleep 0.25
    done
    die 'the temporary server did not accept connections within 30 seconds'
}

stop_temp_server() {
    kill -TERM "$temp_pid"
    wait "$temp_pid" || die 'the temporary server did not shut down cleanly'
}

setup_users_and_database() {
    local root_pw
    if [ -n "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
        MYSQL_ROOT_PASSWORD=$(head -c 2048 /dev/urandom | tr -dc 'A-Za-z0-9' | cut -c1-32)
        export MYSQL_ROOT_PASSWORD
        log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
        # Like the official image, on stdout unprefixed too, for `logs | grep`.
        echo "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
    fi
    root_pw=$(sql_string "$MYSQL_ROOT_PASSWORD")
    # Only root@localhost stays of what mariadb-install-db made: its
    # password-less root@127.0.0.1, root@::1 (and anonymous users) would
    # match TCP clients before root@'%' does.
    local drop
    drop=$(mysql_client -N -B -e "SELECT GROUP_CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user
        WHERE (user = 'root' AND host <> 'localhost') OR user = '' OR (user = 'mysql' AND host = 'localhost')")
    local sql="
        SET @@SESSION.SQL_LOG_BIN=0;"
    if [ -n "$drop" ] && [ "$drop" != NULL ]; then
        sql+="
        DROP USER $drop;"
    fi
    sql+="
        DROP DATABASE IF EXISTS test;
        ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
    if [ "$MYSQL_ROOT_HOST" != localhost ]; then
        local host; host=$(sql_string "$MYSQL_ROOT_HOST")
        sql+="
        CREATE USER 'root'@'$host' IDENTIFIED BY '$root_pw';
        GRANT ALL ON *.* TO 'root'@'$host' WITH GRANT OPTION;"
    fi
    if [ -n "$MYSQL_DATABASE" ]; then
        log "Creating database ${MYSQL_DATABASE}"
        sql+="
        CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"
    fi
    if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
        log "Creating user ${MYSQL_USER}"
        local user pw; user=$(sql_string "$MYSQL_USER"); pw=$(sql_string "$MYSQL_PASSWORD")
        sql+="
        CREATE USER '$user'@'%' IDENTIFIED BY '$pw';"
        if [ -n "$MYSQL_DATABASE" ]; then
            log "Giving user ${MYSQL_USER} access to schema ${MYSQL_DATABASE}"
            sql+="
        GRANT ALL ON \`${MYSQL_DATABASE//\`/\`\`}\`.* TO '$user'@'%';"
        fi
    fi
    if [ -n "$MYSQL_ONETIME_PASSWORD" ]; then
        sql+="
        ALTER USER 'root'@'%' PASSWORD EXPIRE;"
    fi
    sql+="
        FLUSH PRIVILEGES;"
    mysql_client --database=mysql <<<"$sql"

    # From here on root has its password: hand it to the client in a file
    # only this user can read, removed when initialisation ends.
    client_cnf=$(mktemp)
    local pw_opt=${MYSQL_ROOT_PASSWORD//\\/\\\\}
    printf '[client]\npassword="%s"\n' "${pw_opt//\"/\\\"}" >"$client_cnf"
}

process_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    log "$0: running $f"
                    "$f"
                else
                    log "$0: sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) log "$0: running $f"; docker_process_sql <"$f" ;;
            *.sql.gz) log "$0: running $f"; gunzip -c "$f" | docker_process_sql ;;
            *.sql.xz) log "$0: running $f"; xzcat "$f" | docker_process_sql ;;
            *.sql.zst) log "$0: running $f"; zstd -dc "$f" | docker_process_sql ;;
            *) log "$0: ignoring $f" ;;
        esac
    done
}

init_datadir() {
    log "Initializing database files in $DATADIR"
    mkdir -p "$DATADIR"
    mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --cross-bootstrap --skip-log-bin "${@:2}" >/dev/null
    log 'Database files initialized'
    log 'Starting temporary server'
    start_temp_server "$@"
    log 'Temporary server started.'
    # The official image loads the time zone tables here; MariaDB's
    # mariadb-tzinfo-to-sql from /usr/share/zoneinfo when tzdata is there.
    if [ -z "${MYSQL_INITDB_SKIP_TZINFO:-}" ] && [ -d /usr/share/zoneinfo ]; then
        mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null | mysql_client --database=mysql || true
    fi
    setup_users_and_database
    process_init_files
    log 'Stopping temporary server'
    stop_temp_server
    rm -f "$client_cnf"; client_cnf=''
    log 'Temporary server stopped'
    echo
    log 'MySQL init process done. Ready for start up.'
    echo
}

main() {
    # `docker run mysql --some-option`: options go to the server.
    if [ "${1:0:1}" = '-' ]; then
        set -- mysqld "$@"
    fi
    case "$1" in
        mysqld | mariadbd) ;;
        *) exec "$@" ;;
    esac
    local arg
    for arg; do
        case "$arg" in
            -'?' | --help | --print-defaults | -V | --version) exec "$@" ;;
        esac
    done

    DATADIR=$(server_option datadir "$@")
    DATADIR=${DATADIR%/}
    SOCKET=$(server_option socket "$@")
    [ -n "$DATADIR" ] || die "cannot tell the server's datadir: \`$* --verbose --help\` failed"
    if [ "$(id -u)" = 0 ]; then
        # Root: own the data directory (a fresh volume may be root's) and
        # the socket directory, then run this script again as mysql.
        mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
        find "$DATADIR" "$(dirname "$SOCKET")" \! -user mysql -exec chown mysql:mysql '{}' +
        exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
    fi

    if [ -d "$DATADIR/mysql" ]; then
        log 'Database files found in the data directory: initialisation skipped'
    else
        check_env
        init_datadir "$@"
    fi
    log "Starting the server: $*"
    exec "$@"
}

main "$@"
