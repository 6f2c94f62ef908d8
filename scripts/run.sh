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
exec "${ODOO[@]}" -c "$CONF" -d "$DB"
