#!/usr/bin/env bash
# Idempotent set-up shared by `make run` and `make test`:
#   system packages (apt-get), a running PostgreSQL with an `odoo` role, the project virtualenv
#   (Odoo's requirements + ours), and the local Odoo configuration file .local/odoo-local.conf.
# Each step checks first and skips what is already done.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ODOO_PATH=${ODOO_PATH:-/opt/odoo}
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
PGHOST_=${PGHOST:-localhost}
PGPORT_=${PGPORT:-5432}
DB_USER=${DB_USER:-odoo}
DB_PASSWORD=${DB_PASSWORD:-odoo}
LOCAL=$ROOT/.local
CONF=$LOCAL/odoo-local.conf

say() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. The Odoo tree ------------------------------------------------------------------------
if [ ! -f "$ODOO_PATH/odoo-bin" ]; then
  cat >&2 <<MSG
[setup] ERROR: no Odoo 18.0 source tree at ODOO_PATH=$ODOO_PATH (odoo-bin not found).
        Get it with a shallow clone of the 18.0 branch, then run this again:
          git clone --depth 1 --branch 18.0 https://github.com/odoo/odoo.git $ODOO_PATH
        or point ODOO_PATH at an existing tree: make test ODOO_PATH=/path/to/odoo
MSG
  exit 2
fi
if ! grep -q "version_info = (18, 0" "$ODOO_PATH/odoo/release.py"; then
  say "ERROR: $ODOO_PATH is not Odoo 18.0 ($(grep -m1 '^version_info' "$ODOO_PATH/odoo/release.py"))" >&2
  exit 2
fi

# 2. System packages ----------------------------------------------------------------------
APT_PACKAGES=(
  postgresql postgresql-client
  build-essential python3-dev python3-venv libldap2-dev libsasl2-dev libxslt1-dev libxml2-dev libpq-dev
  libjpeg-dev zlib1g-dev
  chromium          # Odoo tours (HttpCase.start_tour) in headless Chromium
  docker-compose    # validates docker-compose.yml without an engine
  wrk               # HTTP load of the inbound soak (make test, make soak) and of the inbound benchmark
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "system packages present"
fi

# 3. PostgreSQL running, with a login role for Odoo ---------------------------------------
if ! pg_isready -q -h "$PGHOST_" -p "$PGPORT_"; then
  if command -v pg_lsclusters >/dev/null; then
    if [ -z "$(pg_lsclusters -h)" ]; then
      ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
      say "creating PostgreSQL $ver cluster"
      as_root pg_createcluster "$ver" main
    fi
    read -r ver name _ < <(pg_lsclusters -h | head -n1)
    say "starting PostgreSQL cluster $ver/$name"
    as_root pg_ctlcluster "$ver" "$name" start
  else
    say "ERROR: PostgreSQL is not answering on $PGHOST_:$PGPORT_ and no Debian cluster tools were found" >&2
    exit 2
  fi
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST_" -p "$PGPORT_" && break; sleep 1; done
fi
# As the postgres superuser over the local socket, whatever PG* variables the caller has set.
psql_admin() { as_root env -u PGHOST -u PGUSER -u PGPASSWORD -u PGDATABASE runuser -u postgres -- psql -d postgres -p "$PGPORT_" -tAq "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
  say "creating PostgreSQL role $DB_USER"
  psql_admin -c "CREATE ROLE \"$DB_USER\" LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
fi

# 4. Project virtualenv -------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
want=$(cat "$ODOO_PATH/requirements.txt" "$ROOT/requirements.txt" "$ROOT/requirements-test.txt" | sha256sum | cut -c1-16)
stamp="$VENV/.distribution-requirements"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -U pip wheel "setuptools<81" "setuptools_scm<8"
  # Odoo 18 pins cbor2==5.4.2, whose sdist only builds without build isolation.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation -r "$ODOO_PATH/requirements.txt"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements.txt" -r "$ROOT/requirements-test.txt"
  echo "$want" > "$stamp"
else
  say "virtualenv up to date"
fi
# Make the Odoo tree importable (pytest-odoo, pylint) without installing it.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$ODOO_PATH" > "$site/odoo-tree.pth"

# 5. Local Odoo configuration -------------------------------------------------------------
mkdir -p "$LOCAL/data"
# The audit trail's HMAC key lives outside the database (distribution_approvals): one random key per
# checkout, kept in .local (never committed). Production sets its own (see the approvals readme).
if [ ! -s "$LOCAL/audit-key" ]; then
  (umask 077; "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$LOCAL/audit-key")
fi
cat > "$CONF.tmp" <<CONF
; Written by scripts/setup.sh for make run / make test; not the docker configuration (see odoo.conf).
[options]
addons_path = $ODOO_PATH/addons,$ROOT
data_dir = $LOCAL/data
db_host = $PGHOST_
db_port = $PGPORT_
db_user = $DB_USER
db_password = $DB_PASSWORD
admin_passwd = ${ADMIN_PASSWD:-admin}
http_interface = ${HTTP_INTERFACE:-127.0.0.1}
http_port = ${HTTP_PORT:-8069}
; Outbound endpoints on loopback and private addresses are refused (SSRF) unless allowed: the tests'
; receivers and a local n8n listen on 127.0.0.1. Never set this on a server users can configure freely.
distribution_outbound_allow_private = True
distribution_audit_key = $(cat "$LOCAL/audit-key")
distribution_audit_head_file = $LOCAL/audit-heads.jsonl
CONF
mv "$CONF.tmp" "$CONF"
say "ready: $CONF"
